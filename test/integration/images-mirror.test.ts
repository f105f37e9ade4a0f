import assert from 'node:assert/strict';
import { createCipheriv } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Digest, MediaType, sha256 } from '../../src/core/index.ts';
import { mirrorImages, type MirrorImagesReport } from '../../src/images/index.ts';
import { RegistryClient } from '../../src/oci/index.ts';
import { openSession, type Session } from '../../src/session/index.ts';
import {
  generateKeyPair,
  resolveSigner,
  resolveVerifyPolicy,
  signLegacy,
  verifyArtifact,
} from '../../src/sign/index.ts';
import { pushTestImage, pushTestIndex } from '../harness/images.ts';
import { type FaultProxy, startProxy } from '../harness/proxy.ts';
import { type RegistryServer, startRegistry } from '../harness/registry.ts';
import { missingTools, run, tempDir } from '../harness/tools.ts';
import { airlock } from '../helpers/cli.ts';
import { assertBatchReport } from '../helpers/report-schema.ts';

// Issue 12 §2 acceptance: a multi-arch index whose children share base layers, mirrored into a
// test registry behind the recording proxy: digests equal by skopeo, no blob uploaded twice
// across every target repository (the others are mounts), the platform filter honoured.

const skip = missingTools(['docker-registry', 'skopeo']);
const PASSWORD = 'images-mirror';

/** Incompressible, reproducible bytes (AES-256-CTR over zeros, one key per seed). */
function blob(seed: number, size = 64 * 1024): Buffer {
  const key = Buffer.alloc(32);
  key.writeUInt32BE(seed);
  return createCipheriv('aes-256-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(size));
}

/** Completed blob uploads (PUT …?digest= answered 201) per digest, across `prefix`'s repositories. */
function completedUploads(proxy: FaultProxy, prefix: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of proxy.log) {
    if (r.method !== 'PUT' || r.status !== 201 || !r.path.startsWith(`/v2/${prefix}/`)) continue;
    const match = /\/blobs\/uploads\/[^?]*\?(?:.*&)?digest=([^&]+)/.exec(r.path);
    if (!match) continue;
    const digest = decodeURIComponent(match[1] ?? '');
    counts.set(digest, (counts.get(digest) ?? 0) + 1);
  }
  return counts;
}

/** Cross-repository mounts the registry granted (POST ?mount=&from= answered 201). */
function mounts(proxy: FaultProxy, prefix: string): string[] {
  return proxy.log
    .filter(
      (r) =>
        r.method === 'POST' &&
        r.status === 201 &&
        r.path.startsWith(`/v2/${prefix}/`) &&
        r.path.includes('mount=') &&
        r.path.includes('from='),
    )
    .map((r) => r.path);
}

// skopeo reads the target registry itself, not through the proxy: the proxy runs in this process,
// which execFileSync blocks.
function rawDigest(reference: string): Digest {
  return sha256(
    Buffer.from(run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${reference}`])),
  );
}

function rawManifest(reference: string): { manifests?: { digest: string; platform?: unknown }[] } {
  return JSON.parse(
    run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${reference}`]),
  ) as { manifests?: { digest: string; platform?: unknown }[] };
}

function item(report: MirrorImagesReport, source: string) {
  const found = report.items.find((i) => i.source === source);
  assert.ok(found, `no item for ${source}: ${report.items.map((i) => i.source).join(', ')}`);
  return found;
}

describe('images mirror', { skip }, () => {
  let upstream: RegistryServer;
  let target: RegistryServer;
  let proxy: FaultProxy;
  let client: RegistryClient;
  let session: Session;
  let work: { path: string; remove: () => Promise<void> };
  /** The upstream as the mirror names it: 127.0.0.1_PORT. */
  let hostPath: string;
  const app: { digest?: Digest; children?: Map<string, Digest> } = {};
  let toolDigest: Digest;
  let singleDigest: Digest;
  const keyA = generateKeyPair(PASSWORD);
  const keyB = generateKeyPair(PASSWORD);
  const files = { aPub: '', bPub: '', aKey: '' };

  before(async () => {
    upstream = await startRegistry();
    target = await startRegistry();
    proxy = await startProxy({ upstream: target.url });
    client = new RegistryClient({ insecureRegistries: [upstream.host, proxy.host] });
    session = openSession({ insecureRegistries: [upstream.host, proxy.host] });
    work = await tempDir('airlock-images-mirror-');
    hostPath = upstream.host.replace(':', '_');
    files.aPub = join(work.path, 'a.pub');
    files.bPub = join(work.path, 'b.pub');
    files.aKey = join(work.path, 'a.key');
    await writeFile(files.aPub, keyA.publicKeyPEM);
    await writeFile(files.bPub, keyB.publicKeyPEM);
    await writeFile(files.aKey, keyA.privateKeyPEM, { mode: 0o600 });

    // Three platforms over two shared base layers; a second image in another repository on the
    // same base; a single-platform image.
    const base = [blob(1), blob(2, 256 * 1024)];
    const pushed = await pushTestIndex(
      client.repository(upstream.host, 'library/app'),
      [
        { platform: 'linux/amd64', layers: [...base, blob(10)] },
        { platform: 'linux/arm64', layers: [...base, blob(11)] },
        { platform: 'linux/arm/v7', layers: [...base, blob(12)] },
      ],
      '1.0.0',
    );
    app.digest = pushed.digest;
    app.children = pushed.children;
    toolDigest = (
      await pushTestIndex(
        client.repository(upstream.host, 'team/tool'),
        [
          { platform: 'linux/amd64', layers: [...base, blob(20)] },
          { platform: 'linux/arm64', layers: [...base, blob(21)] },
        ],
        '2.0',
        { mediaType: MediaType.dockerManifestList },
      )
    ).digest;
    singleDigest = (
      await pushTestImage(client.repository(upstream.host, 'team/single'), [...base, blob(30)], '1')
    ).digest;
    // Key A signs the app index upstream.
    const sA = resolveSigner({ key: { pem: keyA.privateKeyPEM, password: PASSWORD } });
    await signLegacy(client.repository(upstream.host, 'library/app'), '1.0.0', sA);
  });

  after(async () => {
    session.close();
    client.close();
    await proxy.stop();
    await upstream.stop();
    await target.stop();
    await work.remove();
  });

  it('mirrors a multi-arch index and images sharing its layers: digests equal, each blob uploaded once', async () => {
    proxy.log.length = 0;
    const report = await mirrorImages({
      session,
      images: [
        `${upstream.host}/library/app:1.0.0`,
        `${upstream.host}/team/tool:2.0`,
        `${upstream.host}/team/single:1`,
      ],
      to: `${proxy.host}/all`,
    });
    assertBatchReport(report);
    assert.deepEqual(
      report.items.map((i) => i.outcome),
      ['done', 'done', 'done'],
      JSON.stringify(report.items),
    );
    const mirrored = (path: string) => `${target.host}/all/${hostPath}/${path}`;
    assert.equal(rawDigest(mirrored('library/app:1.0.0')), app.digest);
    assert.equal(rawDigest(mirrored('team/tool:2.0')), toolDigest);
    assert.equal(rawDigest(mirrored('team/single:1')), singleDigest);
    for (const child of app.children?.values() ?? [])
      assert.equal(rawDigest(mirrored(`library/app@${child}`)), child);
    const appItem = item(report, `${upstream.host}/library/app:1.0.0`);
    assert.equal(appItem.digest, app.digest);
    assert.equal(appItem.reference, `${proxy.host}/all/${hostPath}/library/app:1.0.0`);

    const uploads = completedUploads(proxy, 'all');
    const twice = [...uploads].filter(([, n]) => n > 1);
    assert.deepEqual(twice, [], 'a blob was uploaded twice');
    // The two base layers are uploaded once into one repository and mounted into the two others.
    const base = [sha256(blob(1)), sha256(blob(2, 256 * 1024))];
    for (const digest of base) assert.equal(uploads.get(digest), 1, `${digest} uploaded once`);
    const granted = mounts(proxy, 'all');
    for (const digest of base)
      assert.equal(
        granted.filter((p) => p.includes(`mount=${digest}`)).length,
        2,
        `${digest} mounted into the two other repositories`,
      );
    const reported = report.items.reduce((n, i) => n + (i.blobs?.mounted ?? 0), 0);
    assert.equal(reported, granted.length, 'the report counts the mounts');
    const unique = [...uploads.keys()].length;
    assert.equal(
      report.items.reduce((n, i) => n + (i.blobs?.uploaded ?? 0), 0),
      unique,
      'uploads reported = distinct blobs uploaded',
    );
  });

  it('a second run finds everything mirrored and writes nothing', async () => {
    proxy.log.length = 0;
    const report = await mirrorImages({
      session,
      images: [`${upstream.host}/library/app:1.0.0`, `${upstream.host}/team/tool:2.0`],
      to: `${proxy.host}/all`,
    });
    assert.deepEqual(
      report.items.map((i) => [i.outcome, i.reason]),
      [
        ['present', 'already mirrored'],
        ['present', 'already mirrored'],
      ],
    );
    assert.deepEqual(
      proxy.log.filter((r) => r.method !== 'HEAD' && r.method !== 'GET'),
      [],
    );
  });

  it('a platform filter keeps only the chosen children, each with its upstream digest', async () => {
    const report = await mirrorImages({
      session,
      images: [`${upstream.host}/library/app:1.0.0`, `${upstream.host}/team/single:1`],
      to: `${proxy.host}/arm`,
      platforms: ['linux/arm64', 'linux/arm/v7'],
    });
    assertBatchReport(report);
    const appItem = item(report, `${upstream.host}/library/app:1.0.0`);
    assert.equal(appItem.outcome, 'done');
    assert.equal(appItem.platformFilter, 'filtered');
    assert.equal(appItem.sourceDigest, app.digest);
    assert.notEqual(appItem.digest, app.digest, 'the filtered index is another manifest');
    assert.deepEqual(appItem.platforms, ['linux/arm64', 'linux/arm/v7']);
    const reference = `${target.host}/arm/${hostPath}/library/app:1.0.0`;
    assert.equal(rawDigest(reference), appItem.digest);
    const listed = rawManifest(reference).manifests?.map((m) => m.digest);
    assert.deepEqual(listed, [app.children?.get('linux/arm64'), app.children?.get('linux/arm/v7')]);
    const repository = client.repository(proxy.host, `arm/${hostPath}/library/app`);
    for (const [platform, digest] of app.children ?? [])
      assert.equal(await repository.hasManifest(digest), platform !== 'linux/amd64', platform);
    // The amd64 child's own layer was never uploaded.
    assert.equal(await repository.hasBlob(sha256(blob(10))), false);
    // A single-platform image is not an index: copied as it is.
    assert.equal(item(report, `${upstream.host}/team/single:1`).platformFilter, 'not-an-index');

    // Deterministic: the re-run finds the filtered index under its tag.
    const again = await mirrorImages({
      session,
      images: [`${upstream.host}/library/app:1.0.0`],
      to: `${proxy.host}/arm`,
      platforms: ['linux/arm64', 'linux/arm/v7'],
    });
    assert.equal(again.items[0]?.outcome, 'present');
    assert.equal(again.items[0].digest, appItem.digest);
  });

  it('an image pinned by digest is copied whole under a filter; a platform the index lacks fails', async () => {
    const report = await mirrorImages({
      session,
      images: [
        `${upstream.host}/library/app@${app.digest ?? ''}`,
        `${upstream.host}/team/tool:2.0`,
      ],
      to: `${proxy.host}/pinned`,
      platforms: ['linux/s390x'],
    });
    const pinned = item(report, `${upstream.host}/library/app@${app.digest ?? ''}`);
    assert.equal(pinned.outcome, 'done');
    assert.equal(pinned.platformFilter, 'pinned');
    assert.equal(pinned.digest, app.digest);
    assert.equal(
      rawDigest(`${target.host}/pinned/${hostPath}/library/app@${app.digest ?? ''}`),
      app.digest,
    );
    const missing = item(report, `${upstream.host}/team/tool:2.0`);
    assert.equal(missing.outcome, 'failed');
    assert.equal(missing.error?.code, 'UPSTREAM_NOT_FOUND');
  });

  it('verifies the upstream signature before writing and signs the mirrored digest', async () => {
    const accept = resolveVerifyPolicy({
      keys: [{ name: 'a.pub', pem: keyA.publicKeyPEM }],
      ignoreTlog: true,
    });
    const other = resolveVerifyPolicy({
      keys: [{ name: 'b.pub', pem: keyB.publicKeyPEM }],
      ignoreTlog: true,
    });
    const refused = await mirrorImages({
      session,
      images: [`${upstream.host}/library/app:1.0.0`],
      to: `${proxy.host}/verified`,
      verify: other,
    });
    assert.equal(refused.items[0]?.outcome, 'failed');
    assert.equal(refused.items[0].error?.code, 'VERIFICATION_FAILED');
    const repository = client.repository(proxy.host, `verified/${hostPath}/library/app`);
    assert.equal(await repository.resolve('1.0.0'), undefined, 'nothing tagged');
    assert.equal(await repository.hasManifest(app.children?.get('linux/amd64') as Digest), false);

    const signer = resolveSigner({ key: { pem: keyB.privateKeyPEM, password: PASSWORD } });
    const report = await mirrorImages({
      session,
      images: [`${upstream.host}/library/app:1.0.0`],
      to: `${proxy.host}/verified`,
      verify: accept,
      sign: signer,
    });
    const done = report.items[0];
    assert.equal(done?.outcome, 'done', JSON.stringify(done));
    assert.equal(done.verification?.keyName, 'a.pub');
    assert.equal(done.signed, true);
    const checked = await verifyArtifact(repository, '1.0.0', other);
    assert.equal(checked.digest, app.digest);
    // Re-run: mirrored and signed before, so nothing to do.
    const again = await mirrorImages({
      session,
      images: [`${upstream.host}/library/app:1.0.0`],
      to: `${proxy.host}/verified`,
      verify: accept,
      sign: signer,
    });
    assert.deepEqual(
      again.items.map((i) => [i.outcome, i.reason, i.signed]),
      [['present', 'already mirrored and signed', true]],
    );
  });

  describe('one writer per tag', () => {
    /** An older index of library/app, which a chart may still pin under the tag 1.0.0. */
    let stale: Digest;
    const app100 = () => `${upstream.host}/library/app:1.0.0`;
    const pin = (digest: Digest | undefined) => `${app100()}@${digest ?? ''}`;
    /** Manifest PUTs (answered 201) of `tag` in the mirrored library/app below `prefix`. */
    const tagWrites = (prefix: string, tag: string) =>
      proxy.log.filter(
        (r) =>
          r.method === 'PUT' &&
          r.status === 201 &&
          r.path === `/v2/${prefix}/${hostPath}/library/app/manifests/${tag}`,
      ).length;

    before(async () => {
      const base = [blob(1), blob(2, 256 * 1024)];
      stale = (
        await pushTestIndex(
          client.repository(upstream.host, 'library/app'),
          [
            { platform: 'linux/amd64', layers: [...base, blob(60)] },
            { platform: 'linux/arm64', layers: [...base, blob(61)] },
          ],
          'old',
        )
      ).digest;
    });

    it('a tag listed unpinned and pinned is written once, from the unpinned line, in any order', async () => {
      // What images list prints when one chart pins a digest (an older one, and the current one)
      // and another names the bare tag; with a platform filter, so the unpinned line's tag names
      // a filtered index and each pinned digest is a whole index.
      const list = join(work.path, 'pinned-and-not.txt');
      await writeFile(list, [pin(stale), app100(), pin(app.digest)].join('\n'));
      proxy.log.length = 0;
      const report = await mirrorImages({
        session,
        fromFile: list,
        to: `${proxy.host}/onetag`,
        platforms: ['linux/arm64'],
      });
      assertBatchReport(report);
      assert.deepEqual(
        report.items.map((i) => [i.where, i.outcome, i.platformFilter, i.tags]),
        [
          [`${list}:1`, 'done', 'pinned', []],
          [`${list}:2`, 'done', 'filtered', ['1.0.0']],
          [`${list}:3`, 'done', 'pinned', []],
        ],
        JSON.stringify(report.items),
      );
      const unpinned = item(report, app100());
      assert.equal(unpinned.tagsLeft, undefined);
      // Each pinned line says who writes its tag, and what the tag names upstream: the stale pin
      // differs from it, the current one does not.
      for (const [digest, source] of [
        [stale, pin(stale)],
        [app.digest, pin(app.digest)],
      ] as const) {
        const pinned = item(report, source);
        assert.equal(pinned.digest, digest);
        assert.equal(pinned.sourceDigest, digest);
        assert.deepEqual(pinned.tagsLeft, [
          { tag: '1.0.0', reason: 'unpinned', writtenBy: app100(), tagDigest: app.digest },
        ]);
      }
      assert.equal(tagWrites('onetag', '1.0.0'), 1, 'the tag is written once');
      const mirrored = `${target.host}/onetag/${hostPath}/library/app`;
      assert.equal(rawDigest(`${mirrored}:1.0.0`), unpinned.digest, 'the tag: the filtered index');
      assert.deepEqual(
        rawManifest(`${mirrored}:1.0.0`).manifests?.map((m) => m.digest),
        [app.children?.get('linux/arm64')],
      );
      // Pods pulling tag@digest find each pinned digest whole.
      assert.equal(rawDigest(`${mirrored}@${stale}`), stale);
      assert.equal(rawDigest(`${mirrored}@${app.digest ?? ''}`), app.digest);

      // The same lines in the reverse order, into another prefix: the same tag digest.
      proxy.log.length = 0;
      const reversed = await mirrorImages({
        session,
        images: [pin(app.digest), app100(), pin(stale)],
        to: `${proxy.host}/onetag-reversed`,
        platforms: ['linux/arm64'],
      });
      assert.deepEqual(
        reversed.items.map((i) => i.outcome),
        ['done', 'done', 'done'],
        JSON.stringify(reversed.items.map((i) => i.error)),
      );
      assert.equal(tagWrites('onetag-reversed', '1.0.0'), 1, 'the tag is written once');
      assert.equal(
        rawDigest(`${target.host}/onetag-reversed/${hostPath}/library/app:1.0.0`),
        unpinned.digest,
      );

      // A re-run finds all three mirrored and writes nothing.
      proxy.log.length = 0;
      const again = await mirrorImages({
        session,
        fromFile: list,
        to: `${proxy.host}/onetag`,
        platforms: ['linux/arm64'],
      });
      assert.deepEqual(
        again.items.map((i) => i.outcome),
        ['present', 'present', 'present'],
      );
      assert.deepEqual(
        proxy.log.filter((r) => r.method !== 'HEAD' && r.method !== 'GET'),
        [],
      );
    });

    it('one pinned line writes its tag; pinned lines that disagree leave the tag unwritten', async () => {
      const single = await mirrorImages({
        session,
        images: [pin(stale)],
        to: `${proxy.host}/one-pin`,
      });
      assert.equal(single.items[0]?.outcome, 'done');
      assert.deepEqual(single.items[0].tags, ['1.0.0']);
      assert.equal(rawDigest(`${target.host}/one-pin/${hostPath}/library/app:1.0.0`), stale);

      proxy.log.length = 0;
      const report = await mirrorImages({
        session,
        images: [pin(stale), pin(app.digest)],
        to: `${proxy.host}/two-pins`,
      });
      assertBatchReport(report);
      assert.deepEqual(
        report.items.map((i) => [i.outcome, i.digest, i.tags, i.tagsLeft]),
        [
          ['done', stale, [], [{ tag: '1.0.0', reason: 'pinned-digests-differ' }]],
          ['done', app.digest, [], [{ tag: '1.0.0', reason: 'pinned-digests-differ' }]],
        ],
      );
      assert.equal(tagWrites('two-pins', '1.0.0'), 0);
      const repository = client.repository(proxy.host, `two-pins/${hostPath}/library/app`);
      assert.equal(await repository.resolve('1.0.0'), undefined, 'no tag');
      assert.equal(await repository.hasManifest(stale), true);
      assert.equal(await repository.hasManifest(app.digest as Digest), true);
    });

    it("airlock images mirror names the line that writes a pinned line's tag", async () => {
      const list = join(work.path, 'cli-pinned.txt');
      await writeFile(list, `${pin(stale)}\n${app100()}\n`);
      const result = await airlock(
        [
          'images',
          'mirror',
          '--from-file',
          list,
          '--to',
          `${proxy.host}/cli-onetag`,
          '--insecure-registry',
          upstream.host,
          '--insecure-registry',
          proxy.host,
        ],
        { env: { HOME: work.path } },
      );
      assert.equal(result.code, 0, result.stderr);
      const lines = result.stdout.split('\n');
      const pinnedLine = lines.find((l) => l.includes(`${list}:1 `));
      assert.ok(pinnedLine !== undefined, result.stdout);
      assert.ok(pinnedLine.includes(`tag 1.0.0 written from ${list}:2`), result.stdout);
      assert.ok(pinnedLine.includes(`where it is ${app.digest ?? ''} upstream`), result.stdout);
      assert.equal(
        rawDigest(`${target.host}/cli-onetag/${hostPath}/library/app:1.0.0`),
        app.digest,
        'no platform filter: the tag names the upstream index',
      );
    });
  });

  describe('airlock images mirror', () => {
    const cli = (args: string[]) =>
      airlock([...args, '--insecure-registry', upstream.host, '--insecure-registry', proxy.host], {
        env: { HOME: work.path, COSIGN_PASSWORD: PASSWORD },
      });

    it('mirrors an image list with --json, signed, each blob once', async () => {
      const list = join(work.path, 'images.txt');
      await writeFile(
        list,
        [
          '# what images list printed',
          `${upstream.host}/library/app:1.0.0  # chart app 1.0.0`,
          '',
          `${upstream.host}/team/tool:2.0`,
          `${upstream.host}/team/single:1`,
        ].join('\n'),
      );
      proxy.log.length = 0;
      const result = await cli([
        'images',
        'mirror',
        '--from-file',
        list,
        '--to',
        `${proxy.host}/cli`,
        '--key',
        files.aKey,
        '--json',
      ]);
      assert.equal(result.code, 0, result.stderr);
      const report = result.json<MirrorImagesReport>();
      assertBatchReport(report);
      assert.deepEqual(
        report.items.map((i) => [i.where, i.outcome, i.signed]),
        [
          [`${list}:2`, 'done', true],
          [`${list}:4`, 'done', true],
          [`${list}:5`, 'done', true],
        ],
      );
      assert.equal(rawDigest(`${target.host}/cli/${hostPath}/library/app:1.0.0`), app.digest);
      assert.deepEqual(
        [...completedUploads(proxy, 'cli')].filter(([, n]) => n > 1),
        [],
        'a blob was uploaded twice',
      );
    });

    it('an unparsable reference names its file and line: exit 2, nothing copied', async () => {
      const list = join(work.path, 'bad.txt');
      await writeFile(list, `${upstream.host}/team/single:1\n\nnginx:\nquay.io/Bad/Name\n`);
      proxy.log.length = 0;
      const result = await cli([
        'images',
        'mirror',
        '--from-file',
        list,
        '--to',
        `${proxy.host}/bad`,
        '--json',
      ]);
      assert.equal(result.code, 2);
      const error = result.json<{ error: { code: string; details: string[] } }>().error;
      assert.equal(error.code, 'CONFIG_INVALID');
      assert.deepEqual(
        error.details.map((d) => d.slice(0, d.indexOf(': '))),
        [`${list}:3`, `${list}:4`],
      );
      assert.deepEqual(proxy.log, [], 'no request made');
    });

    it('a refused upstream signature exits 3 and writes nothing', async () => {
      proxy.log.length = 0;
      const result = await cli([
        'images',
        'mirror',
        `${upstream.host}/library/app:1.0.0`,
        '--to',
        `${proxy.host}/refused`,
        '--verify-key',
        files.bPub,
        '--json',
      ]);
      assert.equal(result.code, 3, result.stderr);
      const report = result.json<MirrorImagesReport>();
      assertBatchReport(report);
      assert.equal(report.items[0]?.error?.code, 'VERIFICATION_FAILED');
      assert.deepEqual(
        proxy.log.filter((r) => r.method !== 'HEAD' && r.method !== 'GET'),
        [],
      );
      const accepted = await cli([
        'images',
        'mirror',
        `${upstream.host}/library/app:1.0.0`,
        '--to',
        `${proxy.host}/refused`,
        '--verify-key',
        files.aPub,
      ]);
      assert.equal(accepted.code, 0, accepted.stderr);
    });

    it('airlock mirror mirrors an inventory type=image row: a tag range, a platform filter', async () => {
      const repository = client.repository(upstream.host, 'team/ranged');
      const base = [blob(1), blob(2, 256 * 1024)];
      const children = new Map<string, Map<string, Digest>>();
      for (const [i, tag] of ['1.0.0', '1.1.0', '2.0.0', 'latest'].entries())
        children.set(
          tag,
          (
            await pushTestIndex(
              repository,
              [
                { platform: 'linux/amd64', layers: [...base, blob(40 + i)] },
                { platform: 'linux/arm64', layers: [...base, blob(50 + i)] },
              ],
              tag,
            )
          ).children,
        );
      const inventory = join(work.path, 'inventory.csv');
      await writeFile(
        inventory,
        [
          'source,chart,versions,type,platforms,tags',
          `${upstream.host}/team/ranged,,">=1 <2",image,linux/arm64,`,
          `${upstream.host}/team/single,,,image,,1`,
        ].join('\n'),
      );
      proxy.log.length = 0;
      const result = await cli(['mirror', inventory, '--to', `${proxy.host}/inv`, '--json']);
      assert.equal(result.code, 0, result.stderr);
      const report = result.json<{
        items: {
          row: string;
          type: string;
          version?: string;
          outcome: string;
          platformFilter?: string;
        }[];
      }>();
      assertBatchReport(report);
      assert.deepEqual(
        report.items.map((i) => [i.row, i.type, i.version, i.outcome, i.platformFilter]),
        [
          [`${inventory}:2`, 'image', '1.1.0', 'done', 'filtered'],
          [`${inventory}:2`, 'image', '1.0.0', 'done', 'filtered'],
          [`${inventory}:3`, 'image', '1', 'done', undefined],
        ],
      );
      const mirrored = client.repository(proxy.host, `inv/${hostPath}/team/ranged`);
      assert.deepEqual((await mirrored.listTags()).sort(), ['1.0.0', '1.1.0']);
      for (const tag of ['1.0.0', '1.1.0']) {
        const listed = rawManifest(`${target.host}/inv/${hostPath}/team/ranged:${tag}`).manifests;
        assert.deepEqual(
          listed?.map((m) => m.digest),
          [children.get(tag)?.get('linux/arm64')],
        );
      }
      assert.deepEqual(
        [...completedUploads(proxy, 'inv')].filter(([, n]) => n > 1),
        [],
        'a blob was uploaded twice',
      );
      // The plan of a second run: everything present.
      const plan = await cli([
        'mirror',
        inventory,
        '--to',
        `${proxy.host}/inv`,
        '--plan',
        '--json',
      ]);
      assert.equal(plan.code, 0, plan.stderr);
      assert.deepEqual(
        plan.json<{ items: { outcome: string }[] }>().items.map((i) => i.outcome),
        ['present', 'present', 'present'],
      );
    });
  });
});
