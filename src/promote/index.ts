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
export {
  promoteTag,
  type PromoteTagOptions,
  PROMOTION_PREDICATE,
  type PromotionItem,
  type PromotionPredicate,
} from './tag.ts';
export { promoteLog, type PromotionRecord } from './log.ts';
export {
  parseReleaseTag,
  release,
  type ReleaseOptions,
  releaseTagFromEnv,
  type ReleaseTag,
} from './release.ts';
export {
  type Decision,
  formatDuration,
  planPromotion,
  type PinState,
  type PlanInput,
  type PromotionPlanItem,
  type RegistryAnswer,
  registryKey,
} from './plan.ts';
export {
  loadPromotionConfig,
  planEnvironmentPromotion,
  type PlanContext,
  type PromotionPlan,
  type PromotionPlanOptions,
} from './run.ts';
export {
  applyEnvironmentPromotion,
  type PromotionApplyOptions,
  type PromotionChangeItem,
} from './apply.ts';
