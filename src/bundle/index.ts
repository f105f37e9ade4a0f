// Air-gap bundles (issue 11): create, verify, import, and pack into chunks for removable media.
export {
  type BundleItem,
  createBundle,
  type CreateBundleOptions,
  type CreateBundleResult,
} from './create.ts';
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
