// Container images a cluster pulls (issue 12): references normalised as the runtime reads them,
// and the pull-through cache rules that map public registries to private paths.
export {
  DEFAULT_TAG,
  DOCKER_HUB,
  DOCKER_HUB_ALIASES,
  formatImage,
  type ImageReference,
  ImageReferenceError,
  type ImageReferenceProblem,
  isRegistryHost,
  MAX_PATH_LENGTH,
  namesRegistry,
  normalizeImage,
  registryKey,
  repositoryPathProblem,
} from './reference.ts';
export {
  type CacheConfig,
  type CacheRule,
  isUnder,
  parseCacheConfig,
  readCacheConfig,
} from './cache.ts';
export {
  type RewriteImagesOptions,
  rewriteImage,
  rewriteImages,
  type RewriteOutcome,
  type RewriteResult,
} from './rewrite.ts';
export {
  formatPlatform,
  mirrorPath,
  parsePlatform,
  type Platform,
  platformMatches,
} from './mirror-path.ts';
export {
  IMAGE_REASON,
  type ImageMirrorItem,
  type ImageToMirror,
  mirrorImages,
  type MirrorImagesEvent,
  type MirrorImagesOptions,
  type MirrorImagesReport,
  parseImageList,
  type PlatformFilter,
  type TagLeft,
} from './mirror.ts';
export {
  describeSource,
  type DiscoveredImage,
  ImageCollector,
  type ImageSource,
  type ImageSourceKind,
  type InvalidImage,
  invalidImagesError,
  objectID,
  type WorkloadImage,
  workloadImages,
} from './discover.ts';
export {
  ARTIFACTHUB_IMAGES,
  type ChartImages,
  type ListChartImagesOptions,
  type ListedChart,
  type ListedSubchart,
  listChartImages,
  type MissingDependency,
} from './discover-chart.ts';
export {
  AUTOGEN_ANNOTATION,
  DEFAULT_KYVERNO_POLICY_NAME,
  kyvernoPolicy,
  type KyvernoPolicy,
  type KyvernoPolicyFileOptions,
  kyvernoPolicyFromFile,
  type KyvernoPolicyOptions,
} from './kyverno.ts';
