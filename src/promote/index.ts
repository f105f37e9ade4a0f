// Promotion: tag promotion in the registry (promote tag, promote log, release) and environment
// promotion in the releases repository (promotion.yaml, promote plan, promote apply).
export {
  DEFAULT_LABELS,
  type EnvironmentConfig,
  type EnvironmentPolicy,
  environmentPair,
  type ForgeConfig,
  label,
  type LabelTemplates,
  parseDuration,
  parsePromotionConfig,
  type PromotionConfig,
  type ResourceSetInputRule,
  UPDATE_TYPES,
  type UpdateType,
} from './config.ts';
export type { Pin, PinKind, YAMLPath } from './pin.ts';
