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
export { isValidRange, tagsInRange, tagVersion } from './semver.ts';
