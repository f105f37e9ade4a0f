// The registry-bound floor: the fewest requests that move the same bytes. For each artifact:
// GET the manifest, GET each blob, POST + PUT each blob, PUT the manifest; no existence checks,
// no retries, no verification, same concurrency and keep-alive as airlock. With MODE=warm, the
// fewest requests that prove nothing changed: HEAD the tag in source and destination. Usage:
//   node bench/floor.ts SRC_HOST DST_HOST LIST_FILE CONCURRENCY [cold|warm]
// where LIST_FILE has one "repository tag" per line.
import { readFileSync } from 'node:fs';
import { floorClient, workers } from './lib.ts';

const [srcHost = '', dstHost = '', listFile = '', concurrencyText = '8', mode = 'cold'] =
  process.argv.slice(2);
const concurrency = Number(concurrencyText);
const client = floorClient(concurrency);
const request = client.request;

async function checkOne(repository: string, tag: string): Promise<void> {
  const accept = 'application/vnd.oci.image.manifest.v1+json';
  const [src, dst] = await Promise.all([
    request('HEAD', `http://${srcHost}/v2/${repository}/manifests/${tag}`, undefined, { accept }),
    request('HEAD', `http://${dstHost}/v2/${repository}/manifests/${tag}`, undefined, { accept }),
  ]);
  if (src.headers['docker-content-digest'] !== dst.headers['docker-content-digest'])
    throw new Error(`${repository}:${tag} differs`);
}

async function copyOne(repository: string, tag: string): Promise<void> {
  const accept = 'application/vnd.oci.image.manifest.v1+json';
  const manifest = await request(
    'GET',
    `http://${srcHost}/v2/${repository}/manifests/${tag}`,
    undefined,
    { accept },
  );
  const parsed = JSON.parse(manifest.body.toString('utf8')) as {
    config: { digest: string };
    layers: { digest: string }[];
  };
  await Promise.all(
    [parsed.config, ...parsed.layers].map(async ({ digest }) => {
      const [blob, start] = await Promise.all([
        request('GET', `http://${srcHost}/v2/${repository}/blobs/${digest}`),
        request('POST', `http://${dstHost}/v2/${repository}/blobs/uploads/`),
      ]);
      const location = new URL(String(start.headers.location), `http://${dstHost}`);
      location.searchParams.set('digest', digest);
      const put = await request('PUT', location.toString(), blob.body, {
        'content-type': 'application/octet-stream',
      });
      if (put.status !== 201) throw new Error(`blob upload failed: ${put.status}`);
    }),
  );
  const put = await request(
    'PUT',
    `http://${dstHost}/v2/${repository}/manifests/${tag}`,
    manifest.body,
    { 'content-type': accept },
  );
  if (put.status !== 201) throw new Error(`manifest upload failed: ${put.status}`);
}

const items = readFileSync(listFile, 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((line) => line.split(' ') as [string, string]);
await workers(items, concurrency, ([repository, tag]) =>
  mode === 'warm' ? checkOne(repository, tag) : copyOne(repository, tag),
);
client.close();
process.stdout.write(JSON.stringify({ requests: client.count(), artifacts: items.length }));
