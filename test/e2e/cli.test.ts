import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { RegistryClient } from '../../src/oci/index.ts';
import { COMMANDS } from '../../src/cli/app.ts';
import { makeArtifact, pushArtifact } from '../harness/artifacts.ts';
import { type FaultProxy, startProxy } from '../harness/proxy.ts';
import { type RegistryServer, startRegistry } from '../harness/registry.ts';
import { missingTools, tempDir } from '../harness/tools.ts';
import { airlock } from '../helpers/cli.ts';

const skip = missingTools(['docker-registry', 'htpasswd', 'openssl']);
const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname;

describe('airlock CLI', { skip }, () => {
  let plain: RegistryServer;
  let basic: RegistryServer;
  let tls: RegistryServer;
  let work: { path: string; remove: () => Promise<void> };
  let env: NodeJS.ProcessEnv;
  const digests: Record<string, string> = {};
  const outputs: string[] = [];
  const airlockTags = async (repo: string): Promise<string[]> => {
    const result = await airlock(['ls', '--json', '--insecure-registry', plain.host, repo], {
      env,
    });
    return result.json<{ tags: string[] }>().tags;
  };
  const run = async (args: string[], stdin?: string) => {
    const result = await airlock(args, { env, ...(stdin === undefined ? {} : { stdin }) });
    outputs.push(result.stdout, result.stderr);
    return result;
  };

  before(async () => {
    [plain, basic, tls] = await Promise.all([
      startRegistry(),
      startRegistry({ auth: 'htpasswd' }),
      startRegistry({ tls: true }),
    ]);
    work = await tempDir();
    env = { HOME: work.path, DOCKER_CONFIG: join(work.path, 'docker') };
    const client = new RegistryClient({ insecureRegistries: [plain.host] });
    const repo = client.repository(plain.host, 'charts/demo');
    for (const version of ['1.0.0', '1.1.0', '2.0.0', '2.1.0-rc.1']) {
      const artifact = makeArtifact({ name: `demo-${version}` });
      await pushArtifact(repo, artifact, version);
      digests[version] = artifact.digest;
    }
    client.close();
  });
  after(async () => {
    await Promise.all([plain.stop(), basic.stop(), tls.stop()]);
    await work.remove();
  });

  it('prints help with examples for every command', async () => {
    for (const command of COMMANDS) {
      const result = await run([command.name, '--help']);
      assert.equal(result.code, 0, command.name);
      assert.match(result.stdout, /Usage: airlock/);
      assert.match(result.stdout, /Examples:\n {2}.*airlock /);
    }
    assert.equal((await run(['frobnicate'])).code, 2);
  });

  it('copies one artifact into a layout, then lists, tags and inspects it', async () => {
    const layout = join(work.path, 'store');
    const copied = await run([
      'copy',
      '--json',
      '--insecure-registry',
      plain.host,
      `${plain.host}/charts/demo:1.0.0`,
      `oci-layout:${layout}`,
    ]);
    assert.equal(copied.code, 0, copied.stderr);
    const report = copied.json<{
      items: { digest: string; outcome: string }[];
      summary: { done: number; failed: number };
    }>();
    assert.deepEqual(report.summary.done, 1);
    assert.equal(report.items[0]?.digest, digests['1.0.0']);
    assert.equal((await run(['tag', `oci-layout:${layout}:1.0.0`, 'stable', 'prod'])).code, 0);
    const listed = await run(['ls', '--json', `oci-layout:${layout}`]);
    assert.deepEqual(listed.json<{ tags: string[] }>().tags, ['1.0.0', 'prod', 'stable']);
    const inspected = await run(['inspect', '--json', `oci-layout:${layout}:prod`]);
    assert.equal(
      inspected.json<{ descriptor: { digest: string } }>().descriptor.digest,
      digests['1.0.0'],
    );
    const human = await run(['inspect', `oci-layout:${layout}:prod`]);
    assert.match(human.stdout, /application\/vnd\.cncf\.helm\.chart\.content\.v1\.tar\+gzip/);
  });

  it('copies a whole repository filtered by semver, and ls filters the same way', async () => {
    const result = await run([
      'copy',
      '--json',
      '--insecure-registry',
      plain.host,
      '--semver',
      '>=1.1.0',
      `${plain.host}/charts/demo`,
      `${plain.host}/mirror/demo`,
    ]);
    assert.equal(result.code, 0, result.stderr);
    const ls = await run(['ls', '--insecure-registry', plain.host, `${plain.host}/mirror/demo`]);
    assert.deepEqual(ls.stdout.trim().split('\n'), ['1.1.0', '2.0.0']);
    const newest = await run([
      'ls',
      '--json',
      '--insecure-registry',
      plain.host,
      '--semver',
      '*',
      `${plain.host}/charts/demo`,
    ]);
    assert.deepEqual(newest.json<{ tags: string[] }>().tags, ['2.0.0', '1.1.0', '1.0.0']);
  });

  it('reads AIRLOCK_* environment variables for flags', async () => {
    const result = await airlock(['ls', `${plain.host}/charts/demo`], {
      env: { ...env, AIRLOCK_INSECURE_REGISTRY: plain.host },
    });
    assert.equal(result.code, 0, result.stderr);
  });

  it('refuses bad input with one clear error, a code and an exit status, writing nothing', async () => {
    const layout = join(work.path, 'never-written');
    const cases: { args: string[]; code: string; exit: number }[] = [
      {
        args: ['copy', 'Registry.example.com/UPPER:1', `oci-layout:${layout}`],
        code: 'REF_INVALID',
        exit: 2,
      },
      { args: ['copy', `${plain.host}/charts/demo:1.0.0`], code: 'USAGE', exit: 2 },
      {
        args: [
          'copy',
          '--concurrency',
          'lots',
          `${plain.host}/charts/demo:1.0.0`,
          `oci-layout:${layout}`,
        ],
        code: 'USAGE',
        exit: 2,
      },
      {
        args: ['copy', 'registry.invalid/a/b:1', `oci-layout:${layout}`],
        code: 'REGISTRY_UNREACHABLE',
        exit: 1,
      },
      { args: ['copy', `${tls.host}/a/b:1`, `oci-layout:${layout}`], code: 'TLS_FAILED', exit: 1 },
      {
        args: ['copy', `${plain.host}/charts/demo:1.0.0`, `oci-layout:${layout}`],
        code: 'PROTOCOL_MISMATCH',
        exit: 1,
      },
      {
        args: [
          'copy',
          '--insecure-registry',
          tls.host,
          `${tls.host}/a/b:1`,
          `oci-layout:${layout}`,
        ],
        code: 'PROTOCOL_MISMATCH',
        exit: 1,
      },
      {
        args: [
          'copy',
          '--insecure-registry',
          basic.host,
          `${basic.host}/a/b:1`,
          `oci-layout:${layout}`,
        ],
        code: 'REGISTRY_AUTH',
        exit: 1,
      },
      {
        args: [
          'copy',
          '--insecure-registry',
          plain.host,
          `${plain.host}/charts/demo:9.9.9`,
          `oci-layout:${layout}`,
        ],
        code: 'REGISTRY_NOT_FOUND',
        exit: 1,
      },
    ];
    for (const c of cases) {
      const result = await run([c.args[0]!, '--json', ...c.args.slice(1)]);
      assert.equal(result.code, c.exit, `${c.args.join(' ')}: ${result.stderr}`);
      const error = result.json<{
        error?: { code: string };
        items?: { error?: { code: string } }[];
      }>();
      assert.equal(error.error?.code ?? error.items?.[0]?.error?.code, c.code, c.args.join(' '));
      assert.match(result.stderr, /airlock: /);
      assert.equal(existsSync(layout), false, 'nothing was written');
    }
    const corrupt = join(work.path, 'corrupt');
    await mkdir(corrupt);
    await writeFile(join(corrupt, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    await writeFile(join(corrupt, 'index.json'), '{"manifests": "nope"}');
    const result = await run(['ls', '--json', `oci-layout:${corrupt}`]);
    assert.equal(result.code, 2);
    assert.equal(result.json<{ error: { code: string } }>().error.code, 'LAYOUT_INVALID');
  });

  it('artifact and chart commands refuse bad input with codes and exit 2', async () => {
    const dir = join(work.path, 'artifact-input');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'cm.yaml'), 'kind: ConfigMap\n');
    await writeFile(join(dir, 'not-a-chart.tgz'), 'plain text');
    const cases: { args: string[]; code: string }[] = [
      {
        args: [
          'artifact',
          'push',
          dir,
          `${plain.host}/apps/x:v1`,
          '--source',
          'https://git.example/x',
          '--revision',
          'main',
        ],
        code: 'INPUT_INVALID',
      },
      // No source or revision given, and none to read: the directory is no git checkout.
      { args: ['artifact', 'push', dir, `${plain.host}/apps/x:v1`], code: 'INPUT_INVALID' },
      {
        args: [
          'artifact',
          'push',
          dir,
          `${plain.host}/apps/x:v1`,
          '--source',
          's',
          '--revision',
          `main@sha1:${'c'.repeat(40)}`,
          '-a',
          'novalue',
        ],
        code: 'INPUT_INVALID',
      },
      {
        args: ['chart', 'push', join(dir, 'not-a-chart.tgz'), `${plain.host}/charts`],
        code: 'CONFIG_INVALID',
      },
      { args: ['chart', 'package', join(dir, 'missing')], code: 'CONFIG_INVALID' },
      { args: ['artifact'], code: 'USAGE' },
    ];
    for (const c of cases) {
      const registryFlags = c.args[1] === 'package' ? [] : ['--insecure-registry', plain.host];
      const result = await run([...c.args, '--json', ...registryFlags]);
      assert.equal(result.code, 2, `${c.args.join(' ')}: ${result.stderr}`);
      // A refused command prints {error}; a batch (chart push) prints its report, item by item.
      const json = result.json<{
        error?: { code: string };
        items?: { outcome: string; error?: { code: string } }[];
      }>();
      assert.equal(json.error?.code ?? json.items?.[0]?.error?.code, c.code, c.args.join(' '));
    }
    assert.deepEqual(await airlockTags(`${plain.host}/apps/x`), [], 'nothing was pushed');
  });

  it('builds, pushes, diffs and pulls a Flux artifact through the CLI', async () => {
    const dir = join(work.path, 'flux-src');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'cm.yaml'), 'kind: ConfigMap\n');
    const meta = [
      '--source',
      'https://git.example/x',
      '--revision',
      `main@sha1:${'d'.repeat(40)}`,
      '--insecure-registry',
      plain.host,
    ];
    const pushed = await run([
      'artifact',
      'push',
      dir,
      `oci://${plain.host}/apps/cli:v1`,
      '--reproducible',
      '--json',
      ...meta,
    ]);
    assert.equal(pushed.code, 0, pushed.stderr);
    type Pushed = { items: { url: string; digest: string; outcome: string }[] };
    const flux = pushed.json<Pushed>().items[0]!;
    assert.equal(flux.url, `oci://${plain.host}/apps/cli@${flux.digest}`);
    const again = await run([
      'artifact',
      'push',
      dir,
      `${plain.host}/apps/cli:v2`,
      '--reproducible',
      '--json',
      ...meta,
    ]);
    assert.equal(
      again.json<Pushed>().items[0]?.digest,
      flux.digest,
      '--reproducible gives the same manifest digest',
    );
    const same = await run([
      'artifact',
      'diff',
      dir,
      `${plain.host}/apps/cli:v1`,
      '--insecure-registry',
      plain.host,
    ]);
    assert.equal(same.code, 0);
    assert.equal(same.stdout.trim(), 'no changes');
    await writeFile(join(dir, 'cm.yaml'), 'kind: Secret\n');
    const changed = await run([
      'artifact',
      'diff',
      dir,
      `${plain.host}/apps/cli:v1`,
      '--insecure-registry',
      plain.host,
    ]);
    assert.equal(changed.code, 1);
    assert.equal(changed.stdout.trim(), 'modified  cm.yaml');
    const pulled = await run([
      'artifact',
      'pull',
      `${plain.host}/apps/cli:v1`,
      '-o',
      join(work.path, 'flux-out'),
      '--insecure-registry',
      plain.host,
    ]);
    assert.equal(pulled.code, 0, pulled.stderr);
    assert.equal(
      await readFile(join(work.path, 'flux-out', 'cm.yaml'), 'utf8'),
      'kind: ConfigMap\n',
    );
  });

  it('one tag command (artifact tag is its alias), one spelling of filters, login builds its connection like every command', async () => {
    const at = `${plain.host}/charts/demo`;
    const flags = ['--json', '--insecure-registry', plain.host];
    const tagged = await run(['tag', `${at}:1.0.0`, 'one', ...flags]);
    const aliased = await run(['artifact', 'tag', `${at}:1.0.0`, '--tag', 'two', ...flags]);
    assert.equal(aliased.code, 0, aliased.stderr);
    assert.deepEqual(
      aliased.json<{ tags: string[] }>(),
      { ...tagged.json<{ tags: string[] }>(), tags: ['two'] },
      'same implementation, same output',
    );
    for (const filter of [
      ['--semver', '^2'],
      ['--filter-semver', '^2'],
    ]) {
      const listed = await run(['artifact', 'list', at, ...filter, ...flags]);
      assert.equal(listed.code, 0, listed.stderr);
      assert.deepEqual(
        listed.json<{ tag: string }[]>().map((l) => l.tag),
        ['2.0.0'],
        filter.join(' '),
      );
    }
    const badRegex = await run(['ls', at, '--tags', '(', ...flags]);
    assert.equal(badRegex.code, 2);
    assert.equal(badRegex.json<{ error: { code: string } }>().error.code, 'INPUT_INVALID');
    assert.match(badRegex.stderr, /--tags/, 'the CLI names the flag');
    const login = await run(
      [
        'login',
        basic.host,
        '--username',
        basic.username!,
        '--password-stdin',
        '--ca-file',
        join(work.path, 'no-such-ca.pem'),
        '--json',
      ],
      `${basic.password!}\n`,
    );
    assert.equal(login.code, 2, login.stderr);
    assert.equal(login.json<{ error: { code: string } }>().error.code, 'FILE_UNREADABLE');
  });

  it('reports every bad line of a --from-file list at once and touches no registry', async () => {
    const list = join(work.path, 'bad-list.txt');
    await writeFile(
      list,
      `# comment\n${plain.host}/charts/demo:1.0.0 oci-layout:${work.path}/x\nonly-one-field\nBAD/ref:1 oci-layout:${work.path}/y\n`,
    );
    const result = await run(['copy', '--json', '--from-file', list]);
    assert.equal(result.code, 2);
    const error = result.json<{ error: { code: string; details: string[] } }>().error;
    assert.equal(error.code, 'CONFIG_INVALID');
    assert.ok(error.details.some((d) => d.startsWith(`${list}:3:`)));
    assert.ok(error.details.some((d) => d.startsWith(`${list}:4:`)));
    assert.equal(existsSync(join(work.path, 'x')), false);
  });

  it('logs in with --password-stdin, uses the stored credentials, logs out, and never prints the password', async () => {
    const password = basic.password!;
    const wrong = await run(
      [
        'login',
        '--insecure-registry',
        basic.host,
        '--username',
        basic.username!,
        '--password-stdin',
        basic.host,
      ],
      'not-the-password\n',
    );
    assert.equal(wrong.code, 1);
    const login = await run(
      [
        'login',
        '--insecure-registry',
        basic.host,
        '--username',
        basic.username!,
        '--password-stdin',
        basic.host,
      ],
      `${password}\n`,
    );
    assert.equal(login.code, 0, login.stderr);
    const config = JSON.parse(await readFile(join(work.path, 'docker', 'config.json'), 'utf8')) as {
      auths: Record<string, { auth: string }>;
    };
    assert.equal(
      Buffer.from(config.auths[basic.host]!.auth, 'base64').toString(),
      `${basic.username!}:${password}`,
    );
    const copied = await run([
      'copy',
      '--insecure-registry',
      basic.host,
      '--insecure-registry',
      plain.host,
      `${plain.host}/charts/demo:1.0.0`,
      `${basic.host}/private/demo`,
    ]);
    assert.equal(copied.code, 0, copied.stderr);
    const explicit = await run(
      [
        'ls',
        '--insecure-registry',
        basic.host,
        '--username',
        basic.username!,
        '--password-stdin',
        `${basic.host}/private/demo`,
      ],
      password,
    );
    assert.equal(explicit.stdout.trim(), '1.0.0');
    assert.equal((await run(['logout', basic.host])).code, 0);
    const denied = await run([
      'ls',
      '--insecure-registry',
      basic.host,
      `${basic.host}/private/demo`,
    ]);
    assert.equal(denied.code, 1);
    for (const text of outputs)
      assert.ok(!text.includes(password), 'the password never appears in output');
  });

  it('finishes a copy killed with SIGKILL half way, uploading only what was missing', async () => {
    const client = new RegistryClient({ insecureRegistries: [plain.host] });
    const count = 40;
    for (let i = 0; i < count; i++)
      await pushArtifact(
        client.repository(plain.host, `kill/src${i}`),
        makeArtifact({ layerSize: 4096 }),
        'v1',
      );
    client.close();
    const proxy: FaultProxy = await startProxy({ upstream: plain.url });
    proxy.rule = () => ({ kind: 'delay', ms: 15 });
    const list = join(work.path, 'kill-list.txt');
    await writeFile(
      list,
      Array.from(
        { length: count },
        (_, i) => `${plain.host}/kill/src${i}:v1 ${proxy.host}/kill/dst${i}`,
      ).join('\n'),
    );
    const args = [
      MAIN,
      'copy',
      '--from-file',
      list,
      '--concurrency',
      '2',
      '--insecure-registry',
      plain.host,
      '--insecure-registry',
      proxy.host,
    ];
    const child = spawn(process.execPath, args, {
      env: { ...env, PATH: process.env.PATH },
      stdio: 'ignore',
    });
    const manifestPuts = () =>
      proxy.log.filter((r) => r.method === 'PUT' && r.path.includes('/manifests/')).length;
    while (manifestPuts() < count / 3) await sleep(10);
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    const committed = (from: number) =>
      proxy.log
        .slice(from)
        .filter((r) => r.method === 'PUT' && r.path.includes('digest=') && r.status === 201)
        .map((r) => new URL(r.path, 'http://x').searchParams.get('digest'));
    const firstRun = new Set(committed(0));
    const firstTags = manifestPuts();
    assert.ok(
      firstTags > 0 && firstTags < count,
      `killed half way (${firstTags} of ${count} tagged)`,
    );
    const mark = proxy.log.length;
    proxy.rule = undefined;
    const rerun = await run([
      'copy',
      '--json',
      '--from-file',
      list,
      '--insecure-registry',
      plain.host,
      '--insecure-registry',
      proxy.host,
    ]);
    assert.equal(rerun.code, 0, rerun.stderr);
    const secondRun = committed(mark);
    assert.deepEqual(
      secondRun.filter((d) => firstRun.has(d)),
      [],
      'nothing uploaded twice',
    );
    assert.equal(
      firstRun.size + secondRun.length,
      count * 2,
      'every blob uploaded exactly once over both runs',
    );
    const secondTags = proxy.log
      .slice(mark)
      .filter((r) => r.method === 'PUT' && r.path.includes('/manifests/')).length;
    assert.ok(secondTags <= count - firstTags + 2, 'tags already written were not written again');
    await proxy.stop();
  });
});
