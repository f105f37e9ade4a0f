export { canonicalJSON } from './canonical-json.ts';
export {
  type Digest,
  digestAlgorithm,
  digestHex,
  digestOf,
  isDigest,
  parseDigest,
  sha256,
  verifyBytes,
  VerifyingStream,
} from './digest.ts';
export { Limiter, mapLimit } from './limit.ts';
export {
  isIndexMediaType,
  isManifestMediaType,
  MANIFEST_MEDIA_TYPES,
  MediaType,
} from './media-types.ts';
export { isValidRange, tagsInRange, tagVersion, versionChange } from './semver.ts';
export { gunzipLimited, gzipDeterministic, isGzip } from './gzip.ts';
export { FLUX_DEFAULT_IGNORE, IgnoreMatcher } from './ignore.ts';
export {
  paxRecord,
  readTar,
  splitUSTARPath,
  TAR_TRAILER,
  tarHeader,
  type TarEntryHeader,
  type TarEntryType,
  tarPadding,
  type TarReadEntry,
  type TarReadType,
} from './tar.ts';
export { GoMap, goJSON } from './go-json.ts';
export { BufferPool, blobBuffers, readAll, releaseChunk } from './streams.ts';
export {
  abortedError,
  type BatchEvent,
  type BatchItem,
  type BatchOptions,
  type BatchReport,
  batchReport,
  type BatchSummary,
  type ItemError,
  itemError,
  type ItemResult,
  type Outcome,
  runBatch,
  summarise,
  throwIfAborted,
} from './batch.ts';
export {
  DEFAULT_MAX_SIZE,
  fileProblem,
  readUserFile,
  type ReadFileOptions,
  sizeLimitError,
  writeFileAtomic,
} from './files.ts';
export { escapeControl, hasControl } from './text.ts';
export { checkSemverRange, compileTagPattern, parseAnnotations } from './input.ts';
export { type JUnitNames, junitXML, xmlText } from './junit.ts';
