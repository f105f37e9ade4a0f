import assert from 'node:assert/strict';
import { Transform } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { blobBuffers } from '../../src/core/index.ts';
import {
  copyAll,
  type CopyItem,
  type CopyRequest,
  copySpecs,
  type Descriptor,
  RegistryClient,
  type RepositoryOpener,
} from '../../src/oci/index.ts';
import { makeArtifact, pushArtifact, type TestArtifact } from '../harness/artifacts.ts';
import { type FaultProxy, startProxy } from '../harness/proxy.ts';
import { type RegistryServer, startRegistry } from '../harness/registry.ts';
import { missingTools } from '../harness/tools.ts';
import { assertRejectsCode } from '../helpers/assert-code.ts';

const skip = missingTools(['docker-registry']);
const BIG = 6 * 1024 * 1024;

describe('copy batches: one report shape, stops, large blobs', { skip }, () => {
  let source: RegistryServer;
  let destination: RegistryServer;
  let sourceProxy: FaultProxy;
  let destinationProxy: FaultProxy;
  let client: RegistryClient;
  let big: TestArtifact;
  const small: TestArtifact[] = [];

  const request = (from: string, to: string, tag = 'v1'): CopyRequest => ({
    source: client.repository(sourceProxy.host, from),
    reference: tag,
    destination: client.repository(destinationProxy.host, to),
    tags: [tag],
  });
  const opener: RepositoryOpener = {
    open: (ref) => {
      assert.equal(ref.kind, 'registry');
      return client.repository(ref.registry, ref.repository);
    },
  };
  const tagOf = async (repository: string, tag = 'v1') =>
    (await client.repository(destination.host, repository).resolve(tag))?.digest;

  before(async () => {
    [source, destination] = await Promise.all([startRegistry(), startRegistry()]);
    [sourceProxy, destinationProxy] = await Promise.all([
      startProxy({ upstream: source.url }),
      startProxy({ upstream: destination.url }),
    ]);
    // Blobs over 64 KiB take the large-blob path: streamed, read into reused buffers.
    client = new RegistryClient({
      insecureRegistries: [sourceProxy.host, destinationProxy.host, destination.host],
      monolithicUploadLimit: 64 * 1024,
      retry: { baseDelayMs: 5, maxDelayMs: 50 },
    });
    const seeder = new RegistryClient({ insecureRegistries: [source.host] });
    big = makeArtifact({ name: 'big', layerSize: BIG });
    await pushArtifact(seeder.repository(source.host, 'big/a'), big, 'v1');
    for (let i = 0; i < 12; i++) {
      const artifact = makeArtifact({ name: `small-${i}` });
      small.push(artifact);
      await pushArtifact(seeder.repository(source.host, `small/${i}`), artifact, 'v1');
    }
    seeder.close();
  });
  after(async () => {
    client.close();
    await Promise.all([sourceProxy.stop(), destinationProxy.stop()]);
    await Promise.all([source.stop(), destination.stop()]);
  });

  it('reports done, present, dry run and failed items in the one batch shape', async () => {
    const dry = await copyAll([request('small/0', 'shape/0')], { dryRun: true });
    assert.deepEqual(
      dry.items.map((i) => [i.outcome, i.reason]),
      [['skipped', 'dry run']],
    );
    assert.equal(await tagOf('shape/0'), undefined, 'a dry run writes nothing');
    const report = await copyAll([
      request('small/0', 'shape/0'),
      request('small/1', 'shape/1'),
      request('small/404', 'shape/404'),
    ]);
    assert.equal(report.operation, 'copy');
    const [copied, other, missing] = report.items as [CopyItem, CopyItem, CopyItem];
    assert.equal(copied.outcome, 'done');
    assert.equal(copied.digest, small[0]!.digest);
    assert.equal(copied.reference, `${destinationProxy.host}/shape/0:v1`);
    assert.equal(copied.source, `${sourceProxy.host}/small/0:v1`);
    assert.deepEqual(copied.tags, ['v1']);
    assert.equal(
      copied.bytes,
      small[0]!.blobs.reduce((sum, b) => sum + b.descriptor.size, 0),
    );
    assert.equal(other.outcome, 'done');
    assert.equal(missing.outcome, 'failed');
    assert.equal(missing.error?.code, 'REGISTRY_NOT_FOUND');
    assert.deepEqual(
      { done: report.summary.done, failed: report.summary.failed, total: report.summary.total },
      { done: 2, failed: 1, total: 3 },
    );
    const again = await copyAll([request('small/0', 'shape/0')]);
    assert.deepEqual(
      again.items.map((i) => [i.outcome, i.bytes]),
      [['present', 0]],
    );
  });

  it('checks a tag regex and a semver range before any request, naming the option', async () => {
    destinationProxy.log.length = 0;
    sourceProxy.log.length = 0;
    const specs = [{ source: `${sourceProxy.host}/small/0`, destination: `${destination.host}/x` }];
    const pattern = await assertRejectsCode(
      () => copySpecs(opener, specs, { tagPattern: '(' }),
      'INPUT_INVALID',
    );
    assert.equal(pattern.data.option, 'tagPattern');
    const range = await assertRejectsCode(
      () => copySpecs(opener, specs, { semverRange: '>=1 <<2' }),
      'INPUT_INVALID',
    );
    assert.equal(range.data.option, 'semverRange');
    assert.equal(sourceProxy.log.length + destinationProxy.log.length, 0, 'no request was sent');
    const filtered = await copySpecs(opener, specs, { tagPattern: '^x' });
    assert.equal(filtered.summary.total, 0, 'no tag matches');
    const all = await copySpecs(opener, specs, { tagPattern: '^v' });
    assert.deepEqual(
      all.items.map((i) => [i.outcome, i.reference]),
      [['done', `${destination.host}/x:v1`]],
    );
  });

  it('a stop skips what has not started and leaves no tag for what it cut short', async () => {
    sourceProxy.rule = () => ({ kind: 'delay', ms: 40 });
    const controller = new AbortController();
    const requests = small.map((_, i) => request(`small/${i}`, `stopped/${i}`));
    const report = await copyAll(requests, {
      concurrency: 2,
      signal: controller.signal,
      onEvent: (event) => {
        if (event.type === 'item' && event.done === 2) controller.abort();
      },
    });
    sourceProxy.rule = undefined;
    const outcomes = report.items.map((i) => i.outcome);
    assert.ok(outcomes.filter((o) => o === 'done').length >= 2, outcomes.join(' '));
    assert.ok(
      report.items.some((i) => i.outcome === 'skipped' && i.reason === 'aborted'),
      outcomes.join(' '),
    );
    for (const [i, item] of report.items.entries()) {
      const tagged = await tagOf(`stopped/${i}`);
      if (item.outcome === 'done') assert.equal(tagged, small[i]!.digest);
      else {
        assert.equal(tagged, undefined, `no tag for ${item.outcome} ${item.reference}`);
        if (item.outcome === 'failed') assert.equal(item.error?.code, 'ABORTED');
      }
    }
  });

  it('a stop during a large blob cuts its stream: nothing committed, no tag', async () => {
    const controller = new AbortController();
    const real = client.repository(sourceProxy.host, 'big/a');
    // The real source, with a counter on the blob stream: stop once 1 MiB has flowed.
    const counted = new Proxy(real, {
      get(target, key) {
        if (key === 'fetchBlob')
          return async (descriptor: Descriptor) => {
            const stream = await target.fetchBlob(descriptor);
            let seen = 0;
            const counter = new Transform({
              transform(chunk: Buffer, _encoding, callback) {
                seen += chunk.length;
                if (seen > 1024 * 1024) controller.abort();
                callback(null, chunk);
              },
            });
            counter.once('close', () => stream.destroy());
            return stream.pipe(counter);
          };
        const value: unknown = Reflect.get(target, key);
        return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
      },
    });
    const report = await copyAll([{ ...request('big/a', 'cut/a'), source: counted }], {
      signal: controller.signal,
    });
    const [item] = report.items;
    assert.equal(controller.signal.aborted, true);
    assert.equal(item?.outcome, 'failed');
    assert.equal(item.error?.code, 'ABORTED');
    assert.equal(await tagOf('cut/a'), undefined);
    const layer = big.blobs[1]!.descriptor.digest;
    assert.equal(await client.repository(destination.host, 'cut/a').hasBlob(layer), false);
  });

  it('streams a large blob registry to registry in reused buffers, through a cut download', async () => {
    let cut = 0;
    const layer = big.blobs[1]!.descriptor.digest;
    sourceProxy.rule = ({ method, path }) =>
      method === 'GET' && path.endsWith(`/blobs/${layer}`) && cut++ === 0
        ? { kind: 'truncate' }
        : undefined;
    const before = blobBuffers.allocated;
    const report = await copyAll([request('big/a', 'big/a')]);
    sourceProxy.rule = undefined;
    assert.deepEqual(
      report.items.map((i) => [i.outcome, i.error?.code]),
      [['done', undefined]],
    );
    assert.equal(await tagOf('big/a'), big.digest);
    assert.equal(cut, 2, 'the cut download was retried');
    // 6 MiB is 96 buffers of 64 KiB: reuse keeps the count to what is in flight at once.
    const allocated = blobBuffers.allocated - before;
    assert.ok(allocated >= 1 && allocated <= 24, `${allocated} buffers allocated`);
    const uploads = destinationProxy.log.filter((r) => r.method === 'PATCH');
    assert.ok(uploads.length >= 1, 'streamed in a chunked PATCH');
  });

  it('a corrupted large blob fails with DIGEST_MISMATCH and is never committed', async () => {
    const layer = big.blobs[1]!.descriptor.digest;
    sourceProxy.rule = ({ method, path }) =>
      method === 'GET' && path.endsWith(`/blobs/${layer}`) ? { kind: 'flip-byte' } : undefined;
    const report = await copyAll([request('big/a', 'flipped/a')]);
    sourceProxy.rule = undefined;
    assert.equal(report.items[0]?.error?.code, 'DIGEST_MISMATCH');
    assert.equal(await tagOf('flipped/a'), undefined);
    assert.equal(await client.repository(destination.host, 'flipped/a').hasBlob(layer), false);
  });
});
