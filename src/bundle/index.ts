// Air-gap bundles (issue 11): create, verify, import, and pack into chunks for removable media.
export {
  type BundleItem,
  createBundle,
  type CreateBundleOptions,
  type CreateBundleResult,
} from './create.ts';
export {
  type ChunkEntry,
  type ChunkEvent,
  type ChunkList,
  type ChunkListRead,
  CHUNKS_MEDIA_TYPE,
  CHUNKS_TAG,
  type FileEvent,
  MIN_CHUNK_SIZE,
  packBundle,
  type PackBundleOptions,
  type PackResult,
  parseSize,
  readChunkList,
  unpackBundle,
  type UnpackBundleOptions,
  type UnpackEvent,
  type UnpackResult,
} from './chunks.ts';
export {
  type BundleImport,
  importBundle,
  type ImportBundleOptions,
  mappedRepository,
  parseRepositoryMappings,
  type RepositoryMapping,
} from './import.ts';
export {
  BUNDLE_NAMESPACE,
  BUNDLE_TAG,
  type BundleArtifact,
  type BundleManifest,
  parseBundleManifest,
  SOURCE_ANNOTATION,
} from './manifest.ts';
export { BundleStore, readBundleManifest } from './store.ts';
export { type BundleVerification, verifyBundle, type VerifyBundleOptions } from './verify.ts';
export { bundleJUnit } from './report.ts';
export { type InventoryContent, inventoryReferences } from './inventory.ts';
