import { parse as parseYAML } from 'yaml';
import type * as CDXEnums from '@cyclonedx/cyclonedx-library/Enums';
import type * as CDXModels from '@cyclonedx/cyclonedx-library/Models';
import type * as CDXSerialize from '@cyclonedx/cyclonedx-library/Serialize';
import type * as CDXSpec from '@cyclonedx/cyclonedx-library/Spec';
import { AirlockError } from '../errors.ts';
import { type Digest, hasControl, MediaType, readAll, sha256 } from '../core/index.ts';
import { type Descriptor, fetchImageManifest, type Repository } from '../oci/index.ts';
import { readChartArchive, readLayer } from '../artifact/index.ts';
import { attachReferrer, attestBundle, type BundleSignResult, type Signer } from '../sign/index.ts';

// CycloneDX 1.6 JSON (https://cyclonedx.org/docs/1.6/json/), built with the OWASP CycloneDX
// JavaScript library: its model and JSON normaliser are the ones users' other CycloneDX tools
// share, so what airlock writes is what they read and validate.
export const CYCLONEDX_MEDIA_TYPE = 'application/vnd.cyclonedx+json';
export const CYCLONEDX_PREDICATE = 'https://cyclonedx.org/bom';

const TOOL = { name: 'airlock', version: '0.1.0' } as const;

interface Library {
  readonly Enums: typeof CDXEnums;
  readonly Models: typeof CDXModels;
  readonly Serialize: typeof CDXSerialize;
  readonly Spec: typeof CDXSpec;
}

let library: Promise<Library> | undefined;

// Loaded on first use, and only the four parts used (~25 ms; the package root with its
// validators and contrib helpers costs ~70 ms): `airlock --help` and commands that write no
// SBOM never pay for it (issue 8 §4 start-up budget).
function loadLibrary(): Promise<Library> {
  library ??= Promise.all([
    import('@cyclonedx/cyclonedx-library/Enums'),
    import('@cyclonedx/cyclonedx-library/Models'),
    import('@cyclonedx/cyclonedx-library/Serialize'),
    import('@cyclonedx/cyclonedx-library/Spec'),
  ]).then(([Enums, Models, Serialize, Spec]) => ({ Enums, Models, Serialize, Spec }));
  return library;
}

/** One component as airlock describes it, before it becomes a CycloneDX model object. */
interface Part {
  readonly type: 'application' | 'container' | 'file' | 'data';
  readonly ref: string;
  readonly name: string;
  readonly version?: string;
  readonly purl?: string;
  /** SHA-256, lower-case hex. */
  readonly sha256?: string;
  readonly properties?: readonly (readonly [name: string, value: string])[];
  readonly links?: readonly {
    readonly type: 'vcs' | 'website' | 'distribution';
    readonly url: string;
  }[];
}

export interface SBOM {
  readonly kind: 'flux-artifact' | 'helm-chart';
  readonly bom: Record<string, unknown>;
}

function hex(digest: string): string {
  return digest.slice(digest.indexOf(':') + 1);
}

/**
 * An absolute URL fit for an external reference (the schema's `iri-reference`), or nothing: only
 * network schemes, so a local subchart path (`file://../common`) is not mistaken for a download.
 */
function linkURL(value: unknown): string | undefined {
  if (typeof value !== 'string' || hasControl(value) || /\s/.test(value)) return undefined;
  if (!URL.canParse(value)) return undefined;
  return /^(https?|oci|git|ssh|git\+https?|git\+ssh):$/.test(new URL(value).protocol)
    ? value
    : undefined;
}

/** purl components are percent-encoded (https://github.com/package-url/purl-spec, "Rules for each purl component"). */
function helmPurl(name: string, version: string): string {
  return `pkg:helm/${encodeURIComponent(name)}${version ? `@${encodeURIComponent(version)}` : ''}`;
}

/**
 * Builds and serialises the BOM. Reproducible: the same artifact gives the same bytes, so a
 * re-run attaches the same referrer instead of another one. Like the CycloneDX generators'
 * reproducible mode, it therefore writes no `serialNumber` (a random UUID) and no
 * `metadata.timestamp` (both optional in the spec). Lists are kept in airlock's own order
 * (files as in the layer, images sorted bytewise) rather than the library's `sortLists`,
 * which compares with `localeCompare` and so depends on the machine's locale. bom-refs are
 * made unique here, deterministically: the serialiser would otherwise replace a duplicate
 * with a random one.
 */
async function render(
  subject: Part,
  parts: readonly Part[],
  digest: Digest,
): Promise<{ bom: Record<string, unknown>; json: string }> {
  const { Enums, Models, Serialize, Spec } = await loadLibrary();
  const types = {
    application: Enums.ComponentType.Application,
    container: Enums.ComponentType.Container,
    file: Enums.ComponentType.File,
    data: Enums.ComponentType.Data,
  } as const;
  const linkTypes = {
    vcs: Enums.ExternalReferenceType.VCS,
    website: Enums.ExternalReferenceType.Website,
    distribution: Enums.ExternalReferenceType.Distribution,
  } as const;
  const seen = new Set<string>();
  const uniqueRef = (ref: string): string => {
    let candidate = ref;
    for (let n = 2; seen.has(candidate); n++) candidate = `${ref}#${n}`;
    seen.add(candidate);
    return candidate;
  };
  const component = (part: Part): CDXModels.Component =>
    new Models.Component(types[part.type], part.name, {
      bomRef: uniqueRef(part.ref),
      ...(part.version ? { version: part.version } : {}),
      ...(part.purl ? { purl: part.purl } : {}),
      hashes: new Models.HashDictionary(
        part.sha256 ? [[Enums.HashAlgorithm['SHA-256'], part.sha256]] : [],
      ),
      properties: new Models.PropertyRepository(
        (part.properties ?? []).map(([name, value]) => new Models.Property(name, value)),
      ),
      externalReferences: new Models.ExternalReferenceRepository(
        (part.links ?? []).map((l) => new Models.ExternalReference(l.url, linkTypes[l.type])),
      ),
    });
  const main = component({ ...subject, sha256: hex(digest) });
  const components = parts.map(component);
  for (const c of components) main.dependencies.add(c.bomRef);
  const bom = new Models.Bom({
    metadata: new Models.Metadata({
      tools: new Models.Tools({
        components: new Models.ComponentRepository([
          new Models.Component(types.application, TOOL.name, { version: TOOL.version }),
        ]),
      }),
      component: main,
    }),
    components: new Models.ComponentRepository(components),
  });
  const serializer = new Serialize.JsonSerializer(
    new Serialize.JSON.Normalize.Factory(Spec.Spec1dot6),
  );
  const json = serializer.serialize(bom);
  return { bom: JSON.parse(json) as Record<string, unknown>, json };
}

/** Image references in a chart: `image:` strings and {registry, repository, tag} maps in values, untemplated `image:` lines in templates. */
export function chartImages(values: unknown, templates: readonly string[]): string[] {
  const found = new Set<string>();
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) {
      node.forEach(walk);
      return;
    }
    if (node === null || typeof node !== 'object') return;
    const object = node as Record<string, unknown>;
    for (const [key, value] of Object.entries(object)) {
      if (key === 'image' && typeof value === 'string' && value.trim() !== '')
        found.add(value.trim());
      if (key === 'image' && value !== null && typeof value === 'object' && !Array.isArray(value)) {
        const image = value as Record<string, unknown>;
        if (typeof image.repository === 'string' && image.repository !== '') {
          const registry =
            typeof image.registry === 'string' && image.registry !== '' ? `${image.registry}/` : '';
          const tag =
            typeof image.tag === 'string' || typeof image.tag === 'number'
              ? `:${String(image.tag)}`
              : '';
          const digest =
            typeof image.digest === 'string' && image.digest !== '' ? `@${image.digest}` : '';
          found.add(`${registry}${image.repository}${tag}${digest}`);
        }
      }
      walk(value);
    }
  };
  walk(values);
  for (const template of templates) {
    for (const match of template.matchAll(/^\s*-?\s*image:\s*["']?([^\s"'{}#]+)["']?\s*$/gm))
      if (match[1]) found.add(match[1]);
  }
  return [...found].sort();
}

async function layerBytes(repository: Repository, descriptor: Descriptor): Promise<Buffer> {
  return readAll(await repository.fetchBlob(descriptor));
}

/**
 * A CycloneDX SBOM for an artifact: for a Flux artifact, every file with its SHA-256; for a Helm
 * chart, the chart, its declared dependencies, and the container images its values and templates
 * name. `json` is the serialised document, byte for byte what {@link attachSBOM} attaches.
 */
export async function generateSBOM(
  repository: Repository,
  reference: string,
): Promise<SBOM & { digest: Digest; json: string }> {
  const fetched = await fetchImageManifest(repository, reference);
  const manifest = fetched.manifest;
  const digest = fetched.descriptor.digest;
  const where = `${repository.name}@${digest}`;
  if (manifest.config.mediaType === MediaType.helmConfig) {
    const layer = manifest.layers.find((l) => l.mediaType === MediaType.helmChart);
    if (!layer) throw new AirlockError('MANIFEST_INVALID', `${where} has no chart layer`);
    const chart = readChartArchive(await layerBytes(repository, layer), where);
    const file = (name: string): string | undefined =>
      chart.entries
        .find((e) => e.type === 'file' && e.name === `${chart.root}/${name}`)
        ?.data.toString('utf8');
    let values: unknown = {};
    try {
      values = parseYAML(file('values.yaml') ?? '{}') as unknown;
    } catch {
      values = {};
    }
    const templates = chart.entries
      .filter((e) => e.type === 'file' && e.name.startsWith(`${chart.root}/templates/`))
      .map((e) => e.data.toString('utf8'));
    const dependencies = Array.isArray(chart.metadata.dependencies)
      ? (chart.metadata.dependencies as unknown[]).filter(
          (d): d is Record<string, unknown> => d !== null && typeof d === 'object',
        )
      : [];
    const parts: Part[] = [
      ...dependencies.map((d): Part => {
        const name = typeof d.name === 'string' ? d.name : 'unknown';
        const version = typeof d.version === 'string' ? d.version : '';
        const repositoryURL = typeof d.repository === 'string' ? d.repository : undefined;
        const distribution = linkURL(repositoryURL);
        return {
          type: 'application',
          ref: `dependency:${name}`,
          name,
          ...(version ? { version } : {}),
          purl: helmPurl(name, version),
          properties: repositoryURL !== undefined ? [['helm:repository', repositoryURL]] : [],
          links: distribution ? [{ type: 'distribution', url: distribution }] : [],
        };
      }),
      ...chartImages(values, templates).map((image): Part => ({
        type: 'container',
        ref: `image:${image}`,
        name: image,
      })),
    ];
    const home = linkURL(chart.metadata.home);
    const sources = Array.isArray(chart.metadata.sources)
      ? (chart.metadata.sources as unknown[]).map(linkURL).filter((u) => u !== undefined)
      : [];
    const subject: Part = {
      type: 'application',
      ref: `chart:${chart.metadata.name}`,
      name: chart.metadata.name,
      version: chart.metadata.version,
      purl: helmPurl(chart.metadata.name, chart.metadata.version),
      links: [
        ...(home ? [{ type: 'website' as const, url: home }] : []),
        ...sources.map((url) => ({ type: 'vcs' as const, url })),
      ],
    };
    return { kind: 'helm-chart', ...(await render(subject, parts, digest)), digest };
  }
  const layer =
    manifest.layers.find((l) => l.mediaType === MediaType.fluxContent) ?? manifest.layers[0];
  if (!layer) throw new AirlockError('MANIFEST_INVALID', `${where} has no layers`);
  const files = readLayer(await layerBytes(repository, layer), where).filter(
    (e) => e.type === 'file',
  );
  const parts = files.map((f): Part => ({
    type: 'file',
    ref: `file:${f.name}`,
    name: f.name,
    sha256: hex(sha256(f.data)),
  }));
  const annotations = manifest.annotations ?? {};
  const source = annotations['org.opencontainers.image.source'];
  const revision = annotations['org.opencontainers.image.revision'];
  const vcs = linkURL(source);
  const subject: Part = {
    type: 'data',
    ref: `artifact:${repository.name}`,
    name: repository.name,
    ...(revision ? { version: revision } : {}),
    properties: source ? [['oci:source', source]] : [],
    links: vcs ? [{ type: 'vcs', url: vcs }] : [],
  };
  return { kind: 'flux-artifact', ...(await render(subject, parts, digest)), digest };
}

export interface SBOMResult {
  readonly kind: SBOM['kind'];
  readonly reference: string;
  readonly sbomDigest: Digest;
  readonly attestation: BundleSignResult;
  readonly components: number;
  /** The SBOM exactly as attached. */
  readonly bom: Record<string, unknown>;
}

/**
 * Generates the SBOM, attaches it as a referrer, and signs it as an in-toto attestation (bundle
 * referrer) with a key or keylessly (Fulcio certificate and Rekor entry).
 */
export async function attachSBOM(
  repository: Repository,
  reference: string,
  signer: Signer,
): Promise<SBOMResult> {
  const sbom = await generateSBOM(repository, reference);
  const subject = await repository.resolve(sbom.digest);
  if (!subject)
    throw new AirlockError('REGISTRY_NOT_FOUND', `${repository.name}@${sbom.digest}: not found`);
  const sbomDigest = await attachReferrer(
    repository,
    subject,
    CYCLONEDX_MEDIA_TYPE,
    Buffer.from(sbom.json),
    { 'org.opencontainers.image.description': 'CycloneDX SBOM' },
  );
  const attestation = await attestBundle(
    repository,
    sbom.digest,
    signer,
    CYCLONEDX_PREDICATE,
    sbom.bom,
    { knownSubject: subject },
  );
  const components = Array.isArray(sbom.bom.components) ? sbom.bom.components.length : 0;
  return {
    kind: sbom.kind,
    reference: `${repository.name}@${sbom.digest}`,
    sbomDigest,
    attestation,
    components,
    bom: sbom.bom,
  };
}
