// Benchmark (issue 9): `promote plan` for 200 components across 3 environments against a local
// registry (budget ≤ 2 s), compared in the same run with what the shell glue does for the digests
// alone (one `skopeo inspect --raw` per component); and the requests `promote tag` makes, counted
// from a recording proxy (budget: at most the verify + tag + sign requests).
// Not a test: it prints times, ratios and request counts. Usage: npm run bench:promote
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { packageChartBytes, pushCharts } from '../src/artifact/index.ts';
import { promoteTag } from '../src/promote/index.ts';
import { openSession } from '../src/session/index.ts';
import {
  generateKeyPair,
  resolveSigner,
  resolveVerifyPolicy,
  signArtifacts,
} from '../src/sign/index.ts';
import { startProxy } from '../test/harness/proxy.ts';
import {
  exampleConfig,
  type ExampleComponent,
  exampleReleasesRepo,
} from '../test/harness/releases-repo.ts';
import { startRegistry } from '../test/harness/registry.ts';
import { tempDir } from '../test/harness/tools.ts';
import { median, timed } from './lib.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const TRIALS = Number(process.env.BENCH_TRIALS ?? '3');
const COMPONENTS = Number(process.env.BENCH_COMPONENTS ?? '200');
const KINDS = ['helmrepository', 'ocirepository', 'resourceset'] as const;

await timed('npm', ['run', 'build']);
const work = await tempDir('airlock-bench-promote-');
const registry = await startRegistry();
const session = openSession({ insecureRegistries: [registry.host], env: { HOME: work.path } });
try {
  // 200 charts at two versions: dev runs the newer, test and prod the older (patch steps).
  const components: ExampleComponent[] = Array.from({ length: COMPONENTS }, (_, i) => ({
    name: `app-${String(i).padStart(3, '0')}`,
    kind: KINDS[i % KINDS.length] ?? 'helmrepository',
    versions: { dev: '1.0.1', test: '1.0.0', prod: '1.0.0' },
    changedHoursAgo: { dev: 72 },
    previousVersion: '1.0.0',
  }));
  const keys = generateKeyPair('bench');
  const started = Date.now();
  const sources = [];
  for (const c of components)
    for (const version of ['1.0.0', '1.0.1']) {
      const dir = join(work.path, 'charts', `${c.name}-${version}`);
      await mkdir(join(dir, 'templates'), { recursive: true });
      await writeFile(
        join(dir, 'Chart.yaml'),
        `apiVersion: v2\nname: ${c.name}\nversion: ${version}\n`,
      );
      await writeFile(join(dir, 'templates', 'cm.yaml'), `kind: ConfigMap # ${version}\n`);
      sources.push({ tgz: (await packageChartBytes(dir)).tgz, where: `${c.name}-${version}.tgz` });
    }
  await pushCharts(session.target(`${registry.host}/charts`), sources, { concurrency: 16 });
  const signer = resolveSigner({ key: { pem: keys.privateKeyPEM, password: 'bench' } });
  await signArtifacts(
    session,
    components.map((c) => `${registry.host}/charts/${c.name}:1.0.1`),
    signer,
    { concurrency: 16 },
  );
  const config = exampleConfig().replace(
    '      - clusters/test\n',
    '      - clusters/test\n    verify:\n      key: keys/test.pub\n',
  );
  const repo = await exampleReleasesRepo(join(work.path, 'releases'), {
    registry: registry.host,
    components,
    promotion: config,
  });
  await mkdir(join(repo.root, 'keys'), { recursive: true });
  await writeFile(join(repo.root, 'keys', 'test.pub'), keys.publicKeyPEM);
  console.log(
    `setup: ${COMPONENTS} components, ${sources.length} charts, ${(Date.now() - started) / 1000}s`,
  );

  const planRuns: number[] = [];
  const skopeoRuns: number[] = [];
  let decisions = '';
  for (let trial = 1; trial <= TRIALS; trial++) {
    const plan = await timed(
      process.execPath,
      [
        join(ROOT, 'dist', 'cli', 'main.js'),
        'promote',
        'plan',
        '--to',
        'test',
        '--repo',
        repo.root,
        '--insecure-registry',
        registry.host,
        '--json',
      ],
      { HOME: work.path },
    );
    planRuns.push(plan.seconds);
    const items = (JSON.parse(plan.stdout) as { items: { decision: string }[] }).items;
    decisions = [...new Set(items.map((i) => i.decision))]
      .map((d) => `${d} ${items.filter((i) => i.decision === d).length}`)
      .join(', ');
    // The glue's digest step alone: skopeo per component, sequential as a shell loop runs it.
    const t = Date.now();
    for (const c of components)
      await timed('skopeo', [
        'inspect',
        '--raw',
        '--tls-verify=false',
        `docker://${registry.host}/charts/${c.name}:1.0.1`,
      ]);
    skopeoRuns.push((Date.now() - t) / 1000);
  }
  const plan = median(planRuns);
  const skopeo = median(skopeoRuns);
  console.log(
    `promote plan --to test, ${COMPONENTS} components × 3 environments: ${plan.toFixed(2)} s (budget 2 s) [${decisions}]`,
  );
  console.log(
    `skopeo inspect --raw × ${COMPONENTS} (digests only): ${skopeo.toFixed(2)} s; ratio airlock/skopeo ${(plan / skopeo).toFixed(2)}`,
  );

  // promote tag through a recording proxy: every request counted by kind.
  const proxy = await startProxy({ upstream: `http://${registry.host}` });
  const proxied = openSession({ insecureRegistries: [proxy.host], env: { HOME: work.path } });
  try {
    const release = generateKeyPair('bench');
    const report = await promoteTag(
      proxied,
      `${proxy.host}/charts/app-000:1.0.1`,
      ['1.0.1-stable', 'latest-stable'],
      {
        policy: resolveVerifyPolicy({ keys: [{ name: 'test.pub', pem: keys.publicKeyPEM }] }),
        signer: resolveSigner({ key: { pem: release.privateKeyPEM, password: 'bench' } }),
      },
    );
    if (report.summary.failed > 0) throw new Error(JSON.stringify(report.items[0]?.error));
    const kinds = new Map<string, number>();
    const sequence: string[] = [];
    for (const r of proxy.log) {
      const path = r.path.replace(/sha256[:-][0-9a-f]{64}(\.sig)?/g, (m) =>
        m.endsWith('.sig') ? '<sig-tag>' : '<digest>',
      );
      const key = `${r.method} ${path.replace(/\/v2\/charts\/app-000/, '').replace(/\/blobs\/uploads\/.*/, '/blobs/uploads/…')}`;
      sequence.push(`${key} ${r.status}`);
      kinds.set(key, (kinds.get(key) ?? 0) + 1);
    }
    console.log(`promote tag (2 tags, key signer): ${proxy.log.length} requests`);
    for (const [key, count] of [...kinds].sort())
      console.log(`  ${String(count).padStart(2)} ${key}`);
    console.log('  in order:');
    sequence.forEach((line, i) => console.log(`  ${String(i + 1).padStart(2)}. ${line}`));
  } finally {
    proxied.close();
    await proxy.stop();
  }
  const results = join(ROOT, 'bench', 'results');
  await mkdir(results, { recursive: true });
  await writeFile(
    join(results, 'promote.json'),
    JSON.stringify(
      { components: COMPONENTS, planSeconds: planRuns, skopeoSeconds: skopeoRuns },
      null,
      2,
    ),
  );
} finally {
  session.close();
  await registry.stop();
  await work.remove();
}
