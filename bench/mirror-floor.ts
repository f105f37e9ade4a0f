// The registry-bound floor for what a signed mirror must write, per chart version: GET the .tgz
// from the upstream, POST + PUT the config and the chart blobs, PUT the manifest; then POST + PUT
// the signature payload and its config, PUT the .sig manifest. No checks, no verification, a dummy
// signature; same concurrency and keep-alive as airlock. Usage:
//   node bench/mirror-floor.ts UPSTREAM_URL DST_HOST LIST_FILE CONCURRENCY
// where LIST_FILE has one "chart version file" per line.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { floorClient, workers } from './lib.ts';

const [upstream = '', dstHost = '', listFile = '', concurrencyText = '8'] = process.argv.slice(2);
const concurrency = Number(concurrencyText);
const client = floorClient(concurrency);
const request = client.request;
const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function upload(repository: string, blob: Buffer): Promise<{ digest: string; size: number }> {
  const start = await request('POST', `http://${dstHost}/v2/${repository}/blobs/uploads/`);
  const location = new URL(String(start.headers.location), `http://${dstHost}`);
  location.searchParams.set('digest', sha(blob));
  const put = await request('PUT', location.toString(), blob, {
    'content-type': 'application/octet-stream',
  });
  if (put.status !== 201) throw new Error(`upload failed: ${put.status}`);
  return { digest: sha(blob), size: blob.length };
}

async function manifest(
  repository: string,
  reference: string,
  config: { digest: string; size: number },
  configType: string,
  layers: { mediaType: string; digest: string; size: number }[],
): Promise<string> {
  const body = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: configType, ...config },
      layers,
    }),
  );
  const put = await request(
    'PUT',
    `http://${dstHost}/v2/${repository}/manifests/${reference}`,
    body,
    { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
  );
  if (put.status !== 201) throw new Error(`manifest failed: ${put.status} ${put.body.toString()}`);
  return sha(body);
}

async function mirrorOne(chart: string, version: string, file: string): Promise<void> {
  const repository = `floor/${chart}`;
  const tgz = (await request('GET', `${upstream}/${file}`)).body;
  const config = Buffer.from(JSON.stringify({ name: chart, version }));
  const [c, l] = await Promise.all([upload(repository, config), upload(repository, tgz)]);
  const digest = await manifest(
    repository,
    version,
    c,
    'application/vnd.cncf.helm.config.v1+json',
    [{ mediaType: 'application/vnd.cncf.helm.chart.content.v1.tar+gzip', ...l }],
  );
  const payload = Buffer.from(
    JSON.stringify({ critical: { image: { 'docker-manifest-digest': digest } } }),
  );
  const sigConfig = Buffer.from(
    JSON.stringify({ rootfs: { type: 'layers', diff_ids: [sha(payload)] } }),
  );
  const [p, sc] = await Promise.all([upload(repository, payload), upload(repository, sigConfig)]);
  await manifest(
    repository,
    `sha256-${digest.slice(7)}.sig`,
    sc,
    'application/vnd.oci.image.config.v1+json',
    [{ mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json', ...p }],
  );
}

const items = readFileSync(listFile, 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((line) => line.split(' ') as [string, string, string]);
await workers(items, concurrency, ([chart, version, file]) => mirrorOne(chart, version, file));
client.close();
process.stdout.write(JSON.stringify({ requests: client.count(), artifacts: items.length }));
