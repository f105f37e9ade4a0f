/**
 * airlock's library API: what a platform team scripts against. Every capability takes plain
 * options and a {@link Session}, reports progress through an `onEvent` callback, returns a typed
 * result (batch functions: one {@link BatchReport} shape, docs/json.md) and fails with an
 * {@link AirlockError} whose `code` is stable. Internals (tar, gzip, Go JSON, transports) are
 * deliberately not exported.
 *
 * @example Mirror an inventory into a registry, signed with a cosign key:
 * ```ts
 * import { openSession, resolveSigner, runMirror } from 'airlock';
 * const session = openSession({ insecureRegistries: ['127.0.0.1:5000'] });
 * try {
 *   const signer = resolveSigner({ key: { pem: keyText, password: process.env.COSIGN_PASSWORD! } });
 *   const report = await runMirror(session, {
 *     inventory: { text: csvText, file: 'inventory.csv' },
 *     target: '127.0.0.1:5000/mirror',
 *     signer,
 *   });
 *   console.log(report.summary);
 * } finally {
 *   session.close();
 * }
 * ```
 * @packageDocumentation
 */

// Errors: one tree; match on `code` (the CLI maps codes to exit statuses).
export {
  /** The base of every error airlock throws: `code`, `details` (what to do) and `data`. */
  AirlockError,
  /** Every problem of an invalid file (inventory, Chart.yaml, copy list), with file:line. */
  ConfigError,
  type ConfigIssue,
  type ErrorCode,
  isAirlockError,
  /** A registry answered with an error: HTTP status, URL and the distribution error entries. */
  RegistryError,
} from './errors.ts';

// Sessions: the one place options become registry clients and the upstream transport.
export {
  /** Opens a session: pass it to every capability, close it when done. */
  openSession,
  Session,
  type SessionOptions,
  type Target,
} from './session/index.ts';

// The one report shape of every batch function, and the runner capabilities share.
export {
  type BatchEvent,
  type BatchItem,
  type BatchOptions,
  type BatchReport,
  type BatchSummary,
  type ItemError,
  type Outcome,
} from './core/index.ts';

// References, repositories and copying (registries and OCI image layouts alike).
export {
  /** Copies prepared requests (indexes with their children, signatures, referrers), concurrently. */
  copyAll,
  type CopyItem,
  type CopyOptions,
  type CopySpec,
  /** Copies `SRC DST` pairs: one artifact, or a whole repository filtered by tag regex or semver. */
  copySpecs,
  type CopySpecsOptions,
  expandCopySpecs,
  formatReference,
  inspectReference,
  type Inspection,
  listTags,
  /** Parses a `--from-file` copy list (`SRC DST` per line, `#` comments). */
  parseCopyList,
  /** Parses `host/repo:tag@digest`, `oci://host/repo:tag` or `oci-layout:PATH[:tag]`. */
  parseReference,
  type Reference,
  type Repository,
  type RepositoryOpener,
  tagManifest,
} from './oci/index.ts';

// Flux artifacts and Helm charts.
export {
  type ArtifactPushItem,
  type ArtifactPushRequest,
  /** Builds a Flux artifact layer from a directory, byte for byte the tar Flux builds. */
  buildLayer,
  type BuildOptions,
  type BuiltLayer,
  type ChartArchive,
  type ChartMetadata,
  type ChartPushItem,
  type ChartSource,
  /** Helm's tag for a chart version: `+` → `_` (the one place this rule lives). */
  chartTag,
  /** Compares a directory with a pushed Flux artifact, entry by entry. */
  diffFluxArtifact,
  type FluxMetadata,
  listFluxArtifacts,
  /** Packages a chart directory as a deterministic `.tgz`. */
  packageChart,
  /** Pulls a Helm chart's exact `.tgz`. */
  pullChart,
  /** Pulls a Flux artifact and extracts it safely (no traversal, no links, bounded size). */
  pullFluxArtifact,
  /** Pushes directories (or a chart's CRDs) as Flux OCI artifacts: one report item each. */
  pushArtifacts,
  type PushArtifactsOptions,
  /** Pushes packaged charts as Helm OCI artifacts, digest for digest what `helm push` writes. */
  pushCharts,
  type PushChartsOptions,
  readChartArchive,
} from './artifact/index.ts';

// Signing and verification, cosign-compatible.
export {
  /** Generates a cosign key pair (private key encrypted as `cosign generate-key-pair` does). */
  generateKeyPair,
  importPrivateKey,
  type KeyPair,
  /** The Kubernetes Secret Flux's `verify.secretRef` reads public keys from. */
  keySecretYAML,
  oidcToken,
  /** One Signer for key and keyless alike, from plain options. */
  resolveSigner,
  /** Keys, identity pairs and a trusted root as one verification policy. */
  resolveVerifyPolicy,
  type SignerOptions,
  /** Signs many references (cosign legacy `.sig`, optionally Sigstore bundles). */
  signArtifacts,
  type SignArtifactsOptions,
  type Signer,
  type SignItem,
  /** Verifies one artifact as cosign v3 and Flux ≥ 2.8 do: bundles first, else `.sig`. */
  verifyArtifact,
  /** Verifies many references against one policy. */
  verifyArtifacts,
  type VerifyArtifactsOptions,
  type VerifyItem,
  type VerifyPolicy,
  type VerifyPolicyOptions,
  /** The in-toto attestations of one predicate type on an artifact, each verified. */
  findAttestations,
  /** Signs an in-toto statement about an artifact (key or keyless) and attaches it as a referrer. */
  attestBundle,
} from './sign/index.ts';

// SBOMs (CycloneDX), attached as referrers and attested.
export { attachSBOM, generateSBOM, type SBOM, type SBOMResult } from './sbom/index.ts';
export {
  /** Push a Flux artifact, sign the pushed digest and attest its SBOM: CI's push step in one call. */
  publishArtifact,
  type PublishItem,
  type PublishOptions,
} from './sbom/index.ts';

// Provenance: a push's source and revision from flags, the CI job or the git checkout.
export {
  /** The GitHub Actions or GitLab CI job this process runs in, from its environment. */
  ciContext,
  type CIContext,
  type CIPlatform,
  /** The provenance of a git checkout: HEAD, its branch or tag, origin as a web URL. */
  gitProvenance,
  /** The CI run as `dev.airlock.ci.*` manifest annotations. */
  provenanceAnnotations,
  type Provenance,
  type ProvenanceRequest,
  /** Flags win, then the CI job's variables, then the git checkout. */
  resolveProvenance,
} from './provenance/index.ts';

// Releases and promotion: the tested digest promoted by tag (Flux D2), and environment promotion
// in the releases repository (promotion.yaml → plan → one merge request per pin).
export {
  /** Promotes the digest a tag names to new tags: verified, re-signed, attested, tagged last. */
  promoteTag,
  type PromoteTagOptions,
  type PromotionItem,
  type PromotionPredicate,
  PROMOTION_PREDICATE,
  /** An artifact's promotions, read from its verified promotion attestations. */
  promoteLog,
  type PromotionRecord,
  /** `COMPONENT/VERSION`: the tested latest promoted to VERSION and latest-stable. */
  release,
  parseReleaseTag,
  type ReleaseOptions,
  parsePromotionConfig,
  type PromotionConfig,
  /** The plan for one environment: per component, version, digest, soak, signature, decision. */
  planEnvironmentPromotion,
  type PromotionPlanItem,
  type PromotionPlanOptions,
  /** Carries a plan out: a branch, a commit and a merge request per promotable component. */
  applyEnvironmentPromotion,
  type PromotionApplyOptions,
  type PromotionChangeItem,
} from './promote/index.ts';

// GitLab merge requests and GitHub pull requests, over plain fetch.
export { findForgeToken, type Forge, type ForgeOptions, openForge } from './forge/index.ts';

/** renovate.json for the releases repository, derived from promotion.yaml. */
export { renovateConfig, type RenovateConfig } from './renovate/index.ts';

// The Shared Artifacts pipeline: a CSV inventory mirrored into the private registry.
export {
  type InventoryRow,
  /** The JUnit XML of a mirror report, for CI test views. */
  junitReport,
  type MirrorEvent,
  type MirrorItem,
  type MirrorOptions,
  type MirrorReport,
  /** Parses an inventory; every problem with file:line:column, before any request. */
  parseInventory,
  /** The pure plan: rows, upstream versions and target state in, operations out. */
  planMirror,
  /** Lists, plans, fetches, verifies, pushes, tags and signs, per chart version. */
  runMirror,
} from './mirror/index.ts';

// Container images mirrored into the private registry (issue 12), where the cache rules send pods.
export {
  type ImageMirrorItem,
  type ImageToMirror,
  /** Copies images below PREFIX/<registry>/<repository>: shared blobs once, platforms, verify, sign. */
  mirrorImages,
  type MirrorImagesEvent,
  type MirrorImagesOptions,
  type MirrorImagesReport,
  /** Reads an image list (one reference per line, as images list prints it); bad lines by file:line. */
  parseImageList,
  type TagLeft,
} from './images/index.ts';
