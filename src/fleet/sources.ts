// Following a fleet's OCI sources into the registry, as source-controller would (issue 10 §5, §6;
// ../shared/reference/flux-oci.md §2): the artifact an OCIRepository's `ref` selects is resolved
// (digest over semver over tag, default tag latest), verified with exactly the policy its
// `spec.verify` declares, and only then pulled (layerSelector: the first layer of the named media
// type, else layers[0]; `extract` unpacks it as Flux does, `copy` keeps the bytes — Helm charts).
//
// Nothing here widens a policy: the keys come from the Secret `verify.secretRef` names (in the
// rendered set, or the PEM the caller supplies for that Secret's name, which the cluster would
// hold), identities only from `matchOIDCIdentity`; the caller may supply the trusted root (trust
// material, as trustedRootSecretRef would), never an identity or a key of its own.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AirlockError } from '../errors.ts';
import {
  type Digest,
  escapeControl,
  isDigest,
  isValidRange,
  readAll,
  tagsInRange,
} from '../core/index.ts';
import {
  type Descriptor,
  fetchImageManifest,
  isValidTag,
  parseReference,
  type Repository,
} from '../oci/index.ts';
import type { Session } from '../session/index.ts';
import { resolveVerifyPolicy, verifyArtifact, type VerifyPolicy } from '../sign/index.ts';
import { extractLayer } from '../artifact/index.ts';
import { type GoMap, type GoValue, isGoMap } from '../goyaml/index.ts';
import { copySource, type SourceCopy } from './kustomize.ts';
import { nestedString, objectName, objectNamespace, secretValues } from './objects.ts';
import type { RegistryMapping } from './registry-map.ts';
import type { SourceSpec } from './source-spec.ts';

export interface FleetSourceOptions {
  /** The registry session every pull and verification goes through. */
  readonly session: Session;
  readonly registryMap?: readonly RegistryMapping[];
  /**
   * PEM public keys for Secrets a `verify.secretRef` names, by `NAME` or `NAMESPACE/NAME`: what
   * the cluster holds when the fleet does not carry the Secret (created by Terraform, SOPS…).
   */
  readonly keySecrets?: ReadonlyMap<string, string>;
  /** trusted_root.json text for keyless policies whose OCIRepository names no trustedRootSecretRef. */
  readonly trustedRoot?: string;
  readonly signal?: AbortSignal;
}

/** What an OCIRepository selected, and how it verified. */
export interface ResolvedSource {
  /** OCIRepository/namespace/name (or HelmChart/namespace/name for a HelmRelease's chart). */
  readonly object: string;
  /** spec.url as the fleet writes it. */
  readonly url: string;
  /** Where it was read from (after --registry-map), with the digest when it resolved. */
  readonly pulledFrom: string;
  /** The tag the ref selected (tag or semver). */
  readonly tag?: string;
  readonly digest?: Digest;
  /** How it verified: undefined when the OCIRepository declares no spec.verify. */
  readonly verified?: {
    readonly format: string;
    readonly keyName?: string;
    readonly subject?: string;
    readonly issuer?: string;
  };
  /** Why it could not be used: not found, or it failed verification. */
  readonly failure?: {
    readonly code: string;
    readonly message: string;
    readonly field: string;
    readonly details: readonly string[];
    /** The caller's option that would supply what is missing (keySecrets, trustedRoot). */
    readonly option?: string;
  };
}

const field = (value: GoValue | undefined, key: string): GoValue | undefined =>
  isGoMap(value) ? value.get(key) : undefined;
const str = (value: GoValue | undefined): string => (typeof value === 'string' ? value : '');

class SourceFailure extends Error {
  readonly code: string;
  readonly field: string;
  readonly details: readonly string[];
  /** The caller's option that would supply what is missing (the CLI names its flag). */
  readonly option: string | undefined;
  constructor(
    code: string,
    message: string,
    field: string,
    details: readonly string[] = [],
    option?: string,
  ) {
    super(message);
    this.code = code;
    this.field = field;
    this.details = details;
    this.option = option;
  }
}

interface Resolved {
  readonly result: ResolvedSource;
  readonly repository?: Repository;
}

/**
 * Resolves, verifies and pulls a fleet's OCI sources, each once per render: results are kept by
 * object, pulled trees are private temporary copies removed by dispose().
 */
export class FleetSources {
  readonly #options: FleetSourceOptions;
  readonly #resolved = new Map<string, Resolved>();
  readonly #order: string[] = [];
  readonly #trees = new Map<string, Promise<SourceCopy>>();
  readonly #charts = new Map<string, Buffer>();

  constructor(options: FleetSourceOptions) {
    this.#options = options;
  }

  /** Every source resolved so far, in the order their resolution started. */
  get results(): ResolvedSource[] {
    return this.#order.flatMap((object) => {
      const resolved = this.#resolved.get(object);
      return resolved === undefined ? [] : [resolved.result];
    });
  }

  /** Fixes where a source is listed in `results` before its resolution starts. */
  reserve(object: string): void {
    if (!this.#order.includes(object)) this.#order.push(object);
  }

  result(object: string): ResolvedSource | undefined {
    return this.#resolved.get(object)?.result;
  }

  /** The repository a fleet URL is read from (after the registry map) and its display name. */
  #open(url: string): { repository: Repository; name: string } {
    if (!url.startsWith('oci://'))
      throw new SourceFailure(
        'CONFIG_INVALID',
        `spec.url ${JSON.stringify(escapeControl(url))} is not an oci:// URL`,
        'url',
      );
    const path = url.slice('oci://'.length).replace(/\/+$/, '');
    // The URL as the fleet writes it must name a registry repository (no layout, no "..")
    // before any mapping applies: a mapping to a layout must not let it reach another path.
    try {
      const written = parseReference(path, { repositoryOnly: true });
      if (written.kind !== 'registry' || written.repository.split('/').includes('..'))
        throw new Error('not a registry repository');
    } catch (error) {
      throw new SourceFailure(
        'CONFIG_INVALID',
        `spec.url ${JSON.stringify(escapeControl(url))} is not a registry URL: ${(error as Error).message}`,
        'url',
      );
    }
    let mapped = path;
    let best = -1;
    for (const { from, to } of this.#options.registryMap ?? [])
      if ((path === from || path.startsWith(`${from}/`)) && from.length > best) {
        best = from.length;
        mapped = to + path.slice(from.length);
      }
    let reference;
    try {
      reference = parseReference(mapped, { repositoryOnly: true });
    } catch (error) {
      throw new SourceFailure(
        'CONFIG_INVALID',
        `spec.url ${JSON.stringify(escapeControl(url))} is not a repository: ${(error as Error).message}`,
        'url',
      );
    }
    // A fleet names registries only: a local OCI layout is the caller's to map to, never the
    // fleet's to read (a document from the repository must not make airlock open local paths).
    if (reference.kind === 'layout' && best < 0)
      throw new SourceFailure(
        'CONFIG_INVALID',
        `spec.url ${JSON.stringify(escapeControl(url))} is not a registry URL`,
        'url',
      );
    const repository = this.#options.session.open(reference);
    return { repository, name: repository.name };
  }

  /** The policy spec.verify declares, with keys from its Secret and identities as written. */
  #policy(source: SourceSpec, available: readonly GoMap[]): VerifyPolicy | undefined {
    const verify = source.verify;
    if (verify === undefined || verify === null) return undefined;
    const at = `${source.fieldPrefix}.verify`;
    const provider = str(field(verify, 'provider')) || 'cosign';
    if (provider !== 'cosign')
      throw new SourceFailure(
        'VERIFICATION_FAILED',
        `verify.provider ${JSON.stringify(escapeControl(provider))}: airlock verifies cosign signatures only`,
        `${at}.provider`,
      );
    const secretName = str(field(field(verify, 'secretRef'), 'name'));
    const findSecret = (name: string): GoMap | undefined =>
      available.findLast(
        (o) =>
          nestedString(o, 'apiVersion') === 'v1' &&
          nestedString(o, 'kind') === 'Secret' &&
          objectName(o) === name &&
          objectNamespace(o) === source.namespace,
      );
    if (secretName !== '') {
      const supplied =
        this.#options.keySecrets?.get(`${source.namespace}/${secretName}`) ??
        this.#options.keySecrets?.get(secretName);
      let keys: { name: string; pem: string }[];
      if (supplied !== undefined) keys = [{ name: `${secretName}/cosign.pub`, pem: supplied }];
      else {
        const secret = findSecret(secretName);
        if (secret === undefined)
          throw new SourceFailure(
            'VERIFICATION_FAILED',
            `the key Secret ${escapeControl(`${source.namespace}/${secretName}`)} is not among the rendered objects`,
            `${at}.secretRef.name`,
            ['supply the public key the cluster holds in this Secret'],
            'keySecrets',
          );
        // Every entry ending in .pub is tried, as source-controller does (flux-oci.md §2.5).
        keys = [...secretValues(secret)]
          .filter(([k]) => k.endsWith('.pub'))
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
          .map(([k, pem]) => ({ name: `${secretName}/${k}`, pem }));
        if (keys.length === 0)
          throw new SourceFailure(
            'VERIFICATION_FAILED',
            `the key Secret ${escapeControl(`${source.namespace}/${secretName}`)} has no entry ending in .pub`,
            `${at}.secretRef.name`,
          );
      }
      try {
        // Flux verifies key signatures offline, without a transparency-log entry (IgnoreTlog).
        return resolveVerifyPolicy({ keys, ignoreTlog: true });
      } catch (error) {
        throw new SourceFailure(
          'VERIFICATION_FAILED',
          `the key in ${escapeControl(`${source.namespace}/${secretName}`)} does not load: ${(error as Error).message}`,
          `${at}.secretRef.name`,
        );
      }
    }
    const match = field(verify, 'matchOIDCIdentity');
    const entries = Array.isArray(match) ? match : [];
    // Without matchOIDCIdentity, Flux accepts any identity the trusted root vouches for.
    const identities =
      entries.length === 0
        ? [{ subjectRegExp: '', issuerRegExp: '' }]
        : entries.map((entry, index) => {
            const subject = str(field(entry, 'subject'));
            const issuer = str(field(entry, 'issuer'));
            // The CRD requires both: an empty pattern would match any identity.
            if (subject === '' || issuer === '')
              throw new SourceFailure(
                'CONFIG_INVALID',
                `matchOIDCIdentity[${index}] needs both issuer and subject`,
                `${at}.matchOIDCIdentity[${index}]`,
              );
            return { subjectRegExp: subject, issuerRegExp: issuer };
          });
    const rootSecret = str(field(field(verify, 'trustedRootSecretRef'), 'name'));
    let trustedRoot = this.#options.trustedRoot;
    if (rootSecret !== '') {
      const secret = findSecret(rootSecret);
      const value =
        secret === undefined ? undefined : secretValues(secret).get('trusted_root.json');
      if (value === undefined)
        throw new SourceFailure(
          'VERIFICATION_FAILED',
          `the trusted root Secret ${escapeControl(`${source.namespace}/${rootSecret}`)} with trusted_root.json is not among the rendered objects`,
          `${at}.trustedRootSecretRef.name`,
        );
      trustedRoot = value;
    }
    if (trustedRoot === undefined)
      throw new SourceFailure(
        'TRUSTED_ROOT_REQUIRED',
        'keyless verification needs a trusted root, and none was given',
        `${at}.matchOIDCIdentity`,
        ['supply the Sigstore trusted_root.json the cluster trusts'],
        'trustedRoot',
      );
    try {
      return resolveVerifyPolicy({ identities, trustedRoot });
    } catch (error) {
      throw new SourceFailure(
        'VERIFICATION_FAILED',
        `the verification policy is invalid: ${(error as Error).message}`,
        `${at}.matchOIDCIdentity`,
      );
    }
  }

  /** The tag or digest the ref selects (flux-oci.md §2.1, §2.2). */
  async #select(
    source: SourceSpec,
    repository: Repository,
  ): Promise<{ tag?: string; descriptor: Descriptor }> {
    const at = `${source.fieldPrefix}.ref`;
    const { digest, semverFilter } = source.ref;
    let { semver } = source.ref;
    if (digest !== undefined) {
      if (!isDigest(digest))
        throw new SourceFailure(
          'CONFIG_INVALID',
          `ref.digest ${JSON.stringify(escapeControl(digest))} is not a digest`,
          `${at}.digest`,
        );
      const descriptor = await repository.resolve(digest);
      if (descriptor === undefined)
        throw new SourceFailure(
          'REGISTRY_NOT_FOUND',
          `${escapeControl(repository.name)}@${escapeControl(digest)} does not exist`,
          `${at}.digest`,
        );
      return { descriptor };
    }
    let tag = source.ref.tag ?? 'latest';
    let tagField = `${at}.tag`;
    if (semver === undefined && !isValidTag(tag))
      throw new SourceFailure(
        'CONFIG_INVALID',
        `ref.tag ${JSON.stringify(escapeControl(tag))} is not a tag`,
        tagField,
      );
    if (semver !== undefined) {
      tagField = `${at}.semver`;
      // Masterminds ranges AND with commas; node-semver with spaces.
      semver = semver.replace(/\s*,\s*/g, ' ');
      if (!isValidRange(semver))
        throw new SourceFailure(
          'CONFIG_INVALID',
          `semver ${JSON.stringify(escapeControl(semver))} is not a version range`,
          tagField,
        );
      let tags = await repository.listTags();
      if (semverFilter !== undefined) {
        let filter: RegExp;
        try {
          filter = new RegExp(semverFilter);
        } catch {
          throw new SourceFailure(
            'CONFIG_INVALID',
            `semverFilter ${JSON.stringify(escapeControl(semverFilter))} is not a regular expression`,
            `${at}.semverFilter`,
          );
        }
        tags = tags.filter((t) => filter.test(t));
      }
      const [best] = tagsInRange(tags, semver);
      if (best === undefined)
        throw new SourceFailure(
          'REGISTRY_NOT_FOUND',
          `${escapeControl(repository.name)} has no tag in the range ${JSON.stringify(escapeControl(semver))}`,
          tagField,
        );
      tag = best;
    }
    const descriptor = await repository.resolve(tag);
    if (descriptor === undefined)
      throw new SourceFailure(
        'REGISTRY_NOT_FOUND',
        `${escapeControl(repository.name)}:${escapeControl(tag)} does not exist`,
        tagField,
      );
    return { tag, descriptor };
  }

  /**
   * Resolves and verifies a source once. A source that is missing or fails verification is
   * recorded with its failure (a finding for `fleet check`); registry and network failures throw.
   */
  async resolve(source: SourceSpec, available: readonly GoMap[]): Promise<ResolvedSource> {
    const known = this.#resolved.get(source.object);
    if (known !== undefined) return known.result;
    if (!this.#order.includes(source.object)) this.#order.push(source.object);
    let pulledFrom = source.url;
    let repository: Repository | undefined;
    let selected: { tag?: string; descriptor: Descriptor } | undefined;
    try {
      const opened = this.#open(source.url);
      repository = opened.repository;
      pulledFrom = opened.name;
      const policy = this.#policy(source, available);
      selected = await this.#select(source, repository);
      pulledFrom = `${opened.name}@${selected.descriptor.digest}`;
      let verified: ResolvedSource['verified'];
      if (policy !== undefined) {
        try {
          const v = await verifyArtifact(repository, selected.descriptor.digest, policy, {
            knownDigest: selected.descriptor.digest,
            ...(this.#options.signal === undefined ? {} : { signal: this.#options.signal }),
          });
          verified = {
            format: v.format,
            ...(v.keyName === undefined ? {} : { keyName: v.keyName }),
            ...(v.subject === undefined ? {} : { subject: v.subject }),
            ...(v.issuer === undefined ? {} : { issuer: v.issuer }),
          };
        } catch (error) {
          if (error instanceof AirlockError && error.code === 'VERIFICATION_FAILED')
            throw new SourceFailure(
              'VERIFICATION_FAILED',
              error.message,
              `${source.fieldPrefix}.verify`,
              error.details,
            );
          throw error;
        }
      }
      const result: ResolvedSource = {
        object: source.object,
        url: source.url,
        pulledFrom,
        ...(selected.tag === undefined ? {} : { tag: selected.tag }),
        digest: selected.descriptor.digest,
        ...(verified === undefined ? {} : { verified }),
      };
      this.#resolved.set(source.object, { result, repository });
      return result;
    } catch (error) {
      if (!(error instanceof SourceFailure)) throw error;
      const result: ResolvedSource = {
        object: source.object,
        url: source.url,
        pulledFrom,
        ...(selected?.tag === undefined ? {} : { tag: selected.tag }),
        ...(selected === undefined ? {} : { digest: selected.descriptor.digest }),
        failure: {
          code: error.code,
          message: error.message,
          field: error.field.startsWith(source.fieldPrefix)
            ? error.field
            : `${source.fieldPrefix}.${error.field}`,
          details: error.details,
          ...(error.option === undefined ? {} : { option: error.option }),
        },
      };
      this.#resolved.set(source.object, { result });
      return result;
    }
  }

  /** The bytes of the layer the source's layerSelector picks (flux-oci.md §2.3). */
  async #layer(source: SourceSpec, resolved: Resolved): Promise<Buffer> {
    const repository = resolved.repository;
    const digest = resolved.result.digest;
    if (repository === undefined || digest === undefined)
      throw new AirlockError('INTERNAL', `${source.object} was not resolved`);
    const { manifest } = await fetchImageManifest(repository, digest);
    const mediaType = source.chart === true ? undefined : source.layerSelector?.mediaType;
    const layer =
      source.chart === true
        ? (manifest.layers.find(
            (l) => l.mediaType === 'application/vnd.cncf.helm.chart.content.v1.tar+gzip',
          ) ?? manifest.layers[0])
        : mediaType === undefined
          ? manifest.layers[0]
          : manifest.layers.find((l) => l.mediaType === mediaType);
    if (layer === undefined)
      throw new AirlockError(
        'MANIFEST_INVALID',
        `${source.object}: ${escapeControl(resolved.result.pulledFrom)} has no ${mediaType === undefined ? 'layer' : `layer of type ${escapeControl(mediaType)}`}`,
        { data: { object: source.object, field: `${source.fieldPrefix}.layerSelector` } },
      );
    return readAll(await repository.fetchBlob(layer));
  }

  /** The artifact's files, extracted as source-controller extracts them, for kustomize builds. */
  tree(source: SourceSpec): Promise<SourceCopy> {
    const known = this.#trees.get(source.object);
    if (known !== undefined) return known;
    const tree = this.#extract(source);
    // One extraction per source, shared by every Kustomization on it (and a prefetch).
    this.#trees.set(source.object, tree);
    return tree;
  }

  /**
   * Starts pulling and extracting a verified source in the background, so it overlaps other
   * work; its failure surfaces when a Kustomization asks for the tree.
   */
  prefetch(source: SourceSpec): void {
    const resolved = this.#resolved.get(source.object);
    if (resolved === undefined || resolved.result.failure !== undefined) return;
    if (source.layerSelector?.operation === 'copy') return;
    this.tree(source).catch(() => undefined);
  }

  async #extract(source: SourceSpec): Promise<SourceCopy> {
    const resolved = this.#resolved.get(source.object);
    if (resolved === undefined || resolved.result.failure !== undefined)
      throw new AirlockError('INTERNAL', `${source.object} is not a usable source`);
    if (source.layerSelector?.operation === 'copy')
      throw new AirlockError(
        'CONFIG_INVALID',
        `${source.object}: layerSelector.operation is copy, so the artifact holds no files a Kustomization can build`,
        { data: { object: source.object, field: 'spec.layerSelector.operation' } },
      );
    const layer = await this.#layer(source, resolved);
    const base = await mkdtemp(join(tmpdir(), 'airlock-artifact-'));
    try {
      await extractLayer(
        layer,
        join(base, 'files'),
        `${source.object} (${resolved.result.pulledFrom})`,
      );
      return await copySource(join(base, 'files'));
    } finally {
      await rm(base, { recursive: true, force: true });
    }
  }

  /** A Helm chart archive: the source's chart layer, as helm-controller loads it. */
  async chart(source: SourceSpec): Promise<Buffer> {
    const resolved = this.#resolved.get(source.object);
    if (resolved === undefined || resolved.result.failure !== undefined)
      throw new AirlockError('INTERNAL', `${source.object} is not a usable source`);
    const known = this.#charts.get(source.object);
    if (known !== undefined) return known;
    const bytes = await this.#layer({ ...source, chart: true }, resolved);
    this.#charts.set(source.object, bytes);
    return bytes;
  }

  /** Removes every extracted tree, waiting for extractions still running. */
  async dispose(): Promise<void> {
    const trees = await Promise.allSettled(this.#trees.values());
    this.#trees.clear();
    await Promise.all(
      trees.map((t) => (t.status === 'fulfilled' ? t.value.dispose() : Promise.resolve())),
    );
  }
}
