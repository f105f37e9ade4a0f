export {
  type AuthFileEnv,
  authFilePath,
  type Challenge,
  type Credential,
  type CredentialStore,
  DockerConfigCredentials,
  eraseCredential,
  normaliseAuthKey,
  parseWWWAuthenticate,
  StaticCredentials,
  storeCredential,
} from './auth.ts';
export {
  RegistryClient,
  type RegistryClientOptions,
  RegistryRepository,
  referrersTag,
} from './client.ts';
export { LayoutRepository, REF_NAME } from './layout.ts';
export {
  type Descriptor,
  type ImageIndex,
  type ImageManifest,
  manifestMediaType,
  parseManifest,
  type ParsedManifest,
} from './manifest.ts';
export {
  DOCKER_HUB,
  formatReference,
  formatRepository,
  isValidTag,
  LAYOUT_PREFIX,
  type LayoutReference,
  parseReference,
  type Reference,
  ReferenceError,
  type ReferenceProblem,
  type RegistryReference,
  withTagOrDigest,
} from './reference.ts';
export {
  type BlobSource,
  type FetchedManifest,
  type Repository,
  type RepositoryWrites,
  withWrites,
} from './target.ts';
export { HTTPTransport, parseRetryAfter, readBody, type TransportOptions } from './transport.ts';
export * from './copy.ts';
export {
  type CopySpec,
  copySpecs,
  type CopySpecsOptions,
  expandCopySpecs,
  type ExpandOptions,
  parseCopyList,
  referenceTarget,
  type RepositoryOpener,
} from './open.ts';
export {
  checkTags,
  collectGarbage,
  fetchImageManifest,
  inspectReference,
  type Inspection,
  listTags,
  loginRegistry,
  type LoginResult,
  tagManifest,
  type TagResult,
} from './ops.ts';
export { addReferrers } from './referrers.ts';
