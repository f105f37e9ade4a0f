import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { parse } from 'yaml';
import { canonicalJSON, mapLimit, MediaType, sha256 } from '../../src/core/index.ts';
import type { Repository } from '../../src/oci/index.ts';
import { SHARED_FIXTURES } from './tools.ts';

export const UPSTREAM_HELM = join(SHARED_FIXTURES, 'upstream-helm');

export interface FixtureChart {
  readonly name: string;
  readonly version: string;
  readonly file: string;
  readonly digest: string;
  readonly metadata: Record<string, unknown>;
}

interface IndexEntry {
  name: string;
  version: string;
  digest: string;
  urls: string[];
  [key: string]: unknown;
}

/** Every chart version listed in the fixture repository's index.yaml. */
export async function fixtureCharts(): Promise<FixtureChart[]> {
  const index = parse(await readFile(join(UPSTREAM_HELM, 'index.yaml'), 'utf8')) as {
    entries: Record<string, IndexEntry[]>;
  };
  const charts: FixtureChart[] = [];
  for (const entries of Object.values(index.entries)) {
    for (const entry of entries) {
      const { created: _c, digest, urls, ...metadata } = entry;
      charts.push({
        name: entry.name,
        version: entry.version,
        file: join(UPSTREAM_HELM, urls[0] ?? ''),
        digest,
        metadata,
      });
    }
  }
  return charts;
}

/**
 * Pushes fixture charts as Helm-shaped OCI artifacts (config from the index metadata, the exact
 * .tgz as the chart layer) into `<prefix>/<name>:<version>` of one store. This seeds copy tests
 * and benchmarks; `airlock chart push` builds the full Helm format.
 */
export async function seedFixtureCharts(
  open: (repository: string) => Repository,
  prefix: string,
  charts: readonly FixtureChart[],
  concurrency = 8,
): Promise<void> {
  await mapLimit(charts, concurrency, async (chart) => {
    const repository = open(`${prefix}/${chart.name}`);
    const tgz = await readFile(chart.file);
    const config = Buffer.from(canonicalJSON(chart.metadata));
    const configDescriptor = {
      mediaType: MediaType.helmConfig,
      digest: sha256(config),
      size: config.length,
    };
    const layer = { mediaType: MediaType.helmChart, digest: sha256(tgz), size: tgz.length };
    await repository.pushBlob(configDescriptor, () => Promise.resolve(Readable.from([config])));
    await repository.pushBlob(layer, () => Promise.resolve(Readable.from([tgz])));
    const manifest = Buffer.from(
      canonicalJSON({
        schemaVersion: 2,
        config: configDescriptor,
        layers: [layer],
        annotations: {
          'org.opencontainers.image.title': chart.name,
          'org.opencontainers.image.version': chart.version,
        },
      }),
    );
    await repository.pushManifest(
      manifest,
      MediaType.ociManifest,
      chart.version.replaceAll('+', '_'),
    );
  });
}
