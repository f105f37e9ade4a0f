import { randomUUID } from 'node:crypto';
import { parse as parseYAML } from 'yaml';
import { AirlockError } from '../errors.ts';
import { type Digest, MediaType, readAll, sha256 } from '../core/index.ts';
import { type Descriptor, fetchImageManifest, type Repository } from '../oci/index.ts';
import { readChartArchive, readLayer } from '../artifact/index.ts';
import { attachReferrer, attestBundle, type BundleSignResult, type Signer } from '../sign/index.ts';
import type { KeyObject } from 'node:crypto';

// CycloneDX 1.6 JSON (https://cyclonedx.org/docs/1.6/json/), written directly: the document is
// small and a generator library would add a large dependency tree to a supply-chain tool.
export const CYCLONEDX_MEDIA_TYPE = 'application/vnd.cyclonedx+json';
export const CYCLONEDX_PREDICATE = 'https://cyclonedx.org/bom';

interface Component {
  type: 'application' | 'container' | 'file' | 'library' | 'data';
  'bom-ref': string;
  name: string;
  version?: string;
  purl?: string;
  hashes?: { alg: 'SHA-256'; content: string }[];
  properties?: { name: string; value: string }[];
}

export interface SBOM {
  readonly kind: 'flux-artifact' | 'helm-chart';
  readonly bom: Record<string, unknown>;
}

function hex(digest: string): string {
  return digest.slice(digest.indexOf(':') + 1);
}

function document(
  subject: Component,
  components: Component[],
  digest: Digest,
): Record<string, unknown> {
  return {
    bomFormat: 'CycloneDX',
    specVersion: '1.6',
    serialNumber: `urn:uuid:${randomUUID()}`,
    version: 1,
    metadata: {
      timestamp: `${new Date().toISOString().slice(0, 19)}Z`,
      tools: { components: [{ type: 'application', name: 'airlock', version: '0.1.0' }] },
      component: { ...subject, hashes: [{ alg: 'SHA-256', content: hex(digest) }] },
    },
    components,
    dependencies: [{ ref: subject['bom-ref'], dependsOn: components.map((c) => c['bom-ref']) }],
  };
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
 * name.
 */
export async function generateSBOM(
  repository: Repository,
  reference: string,
): Promise<SBOM & { digest: Digest }> {
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
      ? (chart.metadata.dependencies as Record<string, unknown>[])
      : [];
    const components: Component[] = [
      ...dependencies.map((d): Component => {
        const name = typeof d.name === 'string' ? d.name : 'unknown';
        const version = typeof d.version === 'string' ? d.version : '';
        return {
          type: 'application',
          'bom-ref': `dependency:${name}`,
          name,
          ...(version ? { version } : {}),
          purl: `pkg:helm/${name}${version ? `@${version}` : ''}`,
          properties:
            typeof d.repository === 'string'
              ? [{ name: 'helm:repository', value: d.repository }]
              : [],
        };
      }),
      ...chartImages(values, templates).map((image): Component => ({
        type: 'container',
        'bom-ref': `image:${image}`,
        name: image,
      })),
    ];
    const subject: Component = {
      type: 'application',
      'bom-ref': `chart:${chart.metadata.name}`,
      name: chart.metadata.name,
      version: chart.metadata.version,
      purl: `pkg:helm/${chart.metadata.name}@${chart.metadata.version}`,
    };
    return { kind: 'helm-chart', bom: document(subject, components, digest), digest };
  }
  const layer =
    manifest.layers.find((l) => l.mediaType === MediaType.fluxContent) ?? manifest.layers[0];
  if (!layer) throw new AirlockError('MANIFEST_INVALID', `${where} has no layers`);
  const files = readLayer(await layerBytes(repository, layer), where).filter(
    (e) => e.type === 'file',
  );
  const components = files.map((f): Component => ({
    type: 'file',
    'bom-ref': `file:${f.name}`,
    name: f.name,
    hashes: [{ alg: 'SHA-256', content: hex(sha256(f.data)) }],
  }));
  const annotations = manifest.annotations ?? {};
  const subject: Component = {
    type: 'data',
    'bom-ref': `artifact:${repository.name}`,
    name: repository.name,
    ...(annotations['org.opencontainers.image.revision']
      ? { version: annotations['org.opencontainers.image.revision'] }
      : {}),
    properties: annotations['org.opencontainers.image.source']
      ? [{ name: 'oci:source', value: annotations['org.opencontainers.image.source'] }]
      : [],
  };
  return { kind: 'flux-artifact', bom: document(subject, components, digest), digest };
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

/** Generates the SBOM, attaches it as a referrer, and signs it as an in-toto attestation (bundle referrer). */
export async function attachSBOM(
  repository: Repository,
  reference: string,
  signer: Signer & { publicKey: KeyObject },
): Promise<SBOMResult> {
  const sbom = await generateSBOM(repository, reference);
  const subject = await repository.resolve(sbom.digest);
  if (!subject)
    throw new AirlockError('REGISTRY_NOT_FOUND', `${repository.name}@${sbom.digest}: not found`);
  const sbomDigest = await attachReferrer(
    repository,
    subject,
    CYCLONEDX_MEDIA_TYPE,
    Buffer.from(JSON.stringify(sbom.bom)),
    { 'org.opencontainers.image.description': 'CycloneDX SBOM' },
  );
  const attestation = await attestBundle(
    repository,
    sbom.digest,
    signer,
    CYCLONEDX_PREDICATE,
    sbom.bom,
  );
  const components = (sbom.bom.components as unknown[]).length;
  return {
    kind: sbom.kind,
    reference: `${repository.name}@${sbom.digest}`,
    sbomDigest,
    attestation,
    components,
    bom: sbom.bom,
  };
}
