// docs/promotion.md is proven by running it (issue 9 §6): its promotion.yaml examples pass both
// docs/promotion.schema.json and parsePromotionConfig, broken files fail both; its Flux objects
// yield the pins the page says; its Flux verify policies accept exactly the identities its
// commands sign with; and its bash examples run as written, in order, against a real registry, a
// private Sigstore (mock Fulcio and Rekor), a real git releases repository and the fake forge
// behind TLS (so the examples need no test-only flags).
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { parseAllDocuments, parse as parseYAML } from 'yaml';
import { packageChartBytes, pushCharts } from '../../src/artifact/index.ts';
import { RegistryClient } from '../../src/oci/index.ts';
import { parsePromotionConfig } from '../../src/promote/index.ts';
import { pinsInFiles } from '../../src/promote/pins.ts';
import { openSession, type Session } from '../../src/session/index.ts';
import { generateKeyPair, resolveSigner, signArtifacts } from '../../src/sign/index.ts';
import { type FakeForge, startFakeForge } from '../harness/forge.ts';
import { exampleReleasesRepo, type ReleasesRepo } from '../harness/releases-repo.ts';
import { type RegistryServer, startRegistry } from '../harness/registry.ts';
import { type MockSigstore, startMockSigstore } from '../harness/sigstore.ts';
import { makeCertificateAuthority } from '../harness/tls.ts';
import { missingTools, tempDir } from '../harness/tools.ts';
import { bashBlocks, codeBlocks } from '../helpers/markdown.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const PAGE = join(ROOT, 'docs', 'promotion.md');
const SCHEMA = join(ROOT, 'docs', 'promotion.schema.json');
const ISSUER = 'https://token.actions.githubusercontent.com';
const PUSH_IDENTITY =
  'https://github.com/org/d2-infra/.github/workflows/push-artifact.yml@refs/heads/main';
const RELEASE_IDENTITY =
  'https://github.com/org/d2-infra/.github/workflows/release-artifact.yml@refs/tags/web/1.4.2';
const TOKEN = 'glpat-docs-sentinel-token';

const page = await readFile(PAGE, 'utf8');
const schema = JSON.parse(await readFile(SCHEMA, 'utf8')) as object;
const validate = new Ajv2020({ allErrors: true, strict: true, strictRequired: false }).compile(
  schema,
);

/** The page's ## sections by heading, so each section's examples run where the page says. */
function sections(markdown: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of markdown.split(/^## /m).slice(1)) {
    const newline = part.indexOf('\n');
    out.set(part.slice(0, newline).trim(), part.slice(newline));
  }
  return out;
}

/** ```yaml blocks whose first line names what they are (`# promotion.yaml …`, `# clusters/dev …`). */
const yamlBlocks = (prefix: string): string[] =>
  codeBlocks(page, 'yaml').filter((b) => b.startsWith(`# ${prefix}`));

function parserAccepts(text: string): { ok: boolean; problems: string[] } {
  try {
    parsePromotionConfig(text);
    return { ok: true, problems: [] };
  } catch (error) {
    const e = error as { code?: string; message: string; details?: string[] };
    assert.equal(e.code, 'CONFIG_INVALID', e.message);
    return { ok: false, problems: e.details?.length ? e.details : [e.message] };
  }
}

function schemaAccepts(text: string): boolean {
  return validate(parseYAML(text) as unknown);
}

const MINIMAL =
  'environments:\n  - name: dev\n    paths: [clusters/dev]\n  - name: test\n    paths: [clusters/test]\n';
const withEnv = (extra: string): string => `${MINIMAL}${extra}`;
const withRoot = (extra: string): string => `${MINIMAL}${extra}`;

/** Files both the schema and the parser must refuse; each breaks one documented rule. */
const BROKEN: Record<string, string> = {
  'no environments': 'branchPrefix: x/\n',
  'one environment': 'environments:\n  - name: dev\n    paths: [a]\n',
  'environments not a list': 'environments: dev\n',
  'unknown top-level field': withRoot('enviroments: []\n'),
  'unknown environment field': withEnv('    soakTime: 24h\n'),
  'name missing': 'environments:\n  - paths: [a]\n  - name: test\n    paths: [b]\n',
  'name not a DNS label': MINIMAL.replace('name: dev', 'name: Dev_1'),
  'paths missing': 'environments:\n  - name: dev\n  - name: test\n    paths: [b]\n',
  'paths empty': MINIMAL.replace('paths: [clusters/dev]', 'paths: []'),
  'path absolute': MINIMAL.replace('paths: [clusters/dev]', 'paths: [/etc]'),
  'path leaves the repository': MINIMAL.replace('paths: [clusters/dev]', 'paths: [clusters/../..]'),
  'autoMerge unknown type': withEnv('    autoMerge: [patch, hotfix]\n'),
  'autoMerge not a list': withEnv('    autoMerge: patch\n'),
  'soak malformed': withEnv('    soak: 24 hours\n'),
  'soak a YAML number': withEnv('    soak: 24\n'),
  'pinDigests not boolean': withEnv('    pinDigests: "yes"\n'),
  'labels not strings': withEnv('    labels: [1]\n'),
  'verify empty': withEnv('    verify: {}\n'),
  'verify key and identity': withEnv(
    '    verify:\n      key: k.pub\n      identity: {subject: s, issuer: i}\n      trustedRoot: t.json\n',
  ),
  'verify identity without trustedRoot': withEnv(
    '    verify:\n      identity: {subject: s, issuer: i}\n',
  ),
  'identity with subject and subjectRegexp': withEnv(
    '    verify:\n      identity: {subject: s, subjectRegexp: r, issuer: i}\n      trustedRoot: t.json\n',
  ),
  'identity without issuer': withEnv(
    '    verify:\n      identity: {subject: s}\n      trustedRoot: t.json\n',
  ),
  'identity unknown field': withEnv(
    '    verify:\n      identity: {subject: s, issuer: i, audience: a}\n      trustedRoot: t.json\n',
  ),
  'resourceSetInputs without versionField': withRoot(
    'resourceSetInputs:\n  - repositoryField: repository\n',
  ),
  'resourceSetInputs with repository and repositoryField': withRoot(
    'resourceSetInputs:\n  - repository: oci://r/c\n    repositoryField: repo\n    versionField: v\n',
  ),
  'resourceSetInputs without a repository': withRoot('resourceSetInputs:\n  - versionField: v\n'),
  'resourceSetInputs not a list': withRoot('resourceSetInputs: {versionField: v}\n'),
  'labels unknown template': withRoot('labels:\n  state: s/{state}\n'),
  'labels template empty': withRoot('labels:\n  update: ""\n'),
  'forge kind unknown': withRoot('forge:\n  kind: gitea\n  apiURL: https://g/api\n  project: p\n'),
  'forge without project': withRoot('forge:\n  kind: gitlab\n  apiURL: https://g/api/v4\n'),
  'forge apiURL not http(s)': withRoot('forge:\n  kind: gitlab\n  apiURL: ssh://g\n  project: p\n'),
  'forge project a YAML number': withRoot(
    'forge:\n  kind: gitlab\n  apiURL: https://g/api/v4\n  project: 42\n',
  ),
  'forge not a mapping': withRoot('forge: gitlab\n'),
  'renovate unknown field': withRoot('renovate:\n  automerge: true\n'),
  'renovate schedule not a list': withRoot('renovate:\n  schedule: weekly\n'),
  'branchPrefix empty': withRoot('branchPrefix: ""\n'),
  'document not a mapping': '- dev\n- test\n',
};

describe('docs/promotion.md: promotion.yaml and its JSON Schema', () => {
  it('the page carries docs/promotion.schema.json as it is', () => {
    const blocks = codeBlocks(page, 'json');
    assert.equal(blocks.length, 1);
    assert.deepEqual(JSON.parse(blocks[0] ?? ''), schema);
  });

  it('every promotion.yaml on the page passes the schema and parsePromotionConfig', () => {
    const blocks = yamlBlocks('promotion.yaml');
    assert.ok(blocks.length >= 2, 'the page shows promotion.yaml examples');
    for (const block of blocks) {
      assert.ok(schemaAccepts(block), `${block}\n${JSON.stringify(validate.errors, null, 2)}`);
      assert.deepEqual(parserAccepts(block), { ok: true, problems: [] }, block);
    }
  });

  it('defaults: the minimal file is valid to both, and the parser fills the documented defaults', () => {
    assert.ok(schemaAccepts(MINIMAL));
    const config = parsePromotionConfig(MINIMAL);
    assert.equal(config.branchPrefix, 'airlock/promote/');
    assert.deepEqual(config.labels, {
      environment: 'env/{environment}',
      update: 'update/{type}',
      promotion: 'promotion/{state}',
    });
    assert.deepEqual(config.environments[1], {
      name: 'test',
      paths: ['clusters/test'],
      autoMerge: [],
      soakMs: 0,
      soak: '0',
      pinDigests: false,
      labels: [],
    });
    const forge = parsePromotionConfig(
      withRoot('forge:\n  kind: gitlab\n  apiURL: https://g/api/v4\n  project: "42"\n'),
    ).forge;
    assert.deepEqual(
      { targetBranch: forge?.targetBranch, remote: forge?.remote },
      { targetBranch: 'main', remote: 'origin' },
    );
  });

  for (const [name, text] of Object.entries(BROKEN))
    it(`refused by both the schema and the parser: ${name}`, () => {
      assert.equal(schemaAccepts(text), false, `the schema accepts:\n${text}`);
      const parsed = parserAccepts(text);
      assert.equal(parsed.ok, false, `the parser accepts:\n${text}`);
      // Every problem names its place: file:line:col.
      for (const problem of parsed.problems) assert.match(problem, /^promotion\.yaml:\d+:\d+: /);
    });

  it('the parser reports every problem at once, with line and field', () => {
    const text = [
      'environments:',
      '  - name: dev',
      '    paths: [clusters/dev]',
      '    autoMerge: [hotfix]',
      '  - name: test',
      '    paths: [clusters/test]',
      '    soak: soon',
      'forge:',
      '  kind: gitlab',
      '  apiURL: https://gitlab.internal/api/v4',
      '',
    ].join('\n');
    const { problems } = parserAccepts(text);
    assert.equal(problems.length, 3, problems.join('\n'));
    assert.match(problems.join('\n'), /:4:\d+: environments\[0\]\.autoMerge: /);
    assert.match(problems.join('\n'), /:7:\d+: environments\[1\]\.soak: /);
    assert.match(problems.join('\n'), /forge\.project: is required/);
  });

  it('refused by both: labels or renovate that is not a mapping', () => {
    for (const text of [withRoot('labels: [env/x]\n'), withRoot('renovate: weekly\n')]) {
      assert.equal(schemaAccepts(text), false);
      assert.equal(parserAccepts(text).ok, false, text);
    }
  });
});

describe('docs/promotion.md: the Flux objects each environment runs', () => {
  it('dev, test and prod yield one pin per component, matched by repository, at the versions the page says', () => {
    const want: Record<string, Record<string, string>> = {
      dev: { podinfo: '6.5.1', web: '1.3.0', api: '2.0.1' },
      test: { podinfo: '6.5.0', web: '1.2.0', api: '2.0.0' },
      prod: { web: '1.2.0', api: '2.0.0' },
    };
    const config = parsePromotionConfig(yamlBlocks('promotion.yaml')[0] ?? '');
    const repositories = new Map<string, Set<string>>();
    for (const [env, versions] of Object.entries(want)) {
      const blocks = yamlBlocks(`clusters/${env} `);
      assert.equal(blocks.length, 1, env);
      const found = pinsInFiles(
        env,
        [{ path: `clusters/${env}/all.yaml`, text: blocks[0] ?? '' }],
        config.resourceSetInputs,
      );
      assert.deepEqual(found.skipped, [], env);
      assert.deepEqual(
        Object.fromEntries(found.pins.map((p) => [p.component, p.version])),
        versions,
        env,
      );
      for (const pin of found.pins) {
        const set = repositories.get(pin.component) ?? new Set<string>();
        set.add(pin.repository);
        repositories.set(pin.component, set);
        assert.match(pin.repository, /^oci:\/\/registry\.internal\/charts\//);
      }
      // prod pins digests: web and api carry theirs.
      if (env === 'prod')
        for (const pin of found.pins) assert.match(pin.digest ?? '', /^sha256:[0-9a-f]{64}$/);
    }
    // One repository per component across environments: that is the match.
    for (const [component, set] of repositories) assert.equal(set.size, 1, component);
  });

  it("model 1: staging's policy accepts the push workflow on main only, production's the release workflow on tags only", () => {
    const policy = (prefix: string): { issuer: RegExp; subject: RegExp } => {
      const blocks = yamlBlocks(prefix);
      assert.equal(blocks.length, 1, prefix);
      const docs = parseAllDocuments(blocks[0] ?? '').map(
        (d) => d.toJSON() as { kind: string; spec: Record<string, unknown> },
      );
      const oci = docs.find((d) => d.kind === 'OCIRepository');
      const verify = oci?.spec.verify as {
        provider: string;
        matchOIDCIdentity: { issuer: string; subject: string }[];
      };
      assert.equal(verify.provider, 'cosign');
      const [match] = verify.matchOIDCIdentity;
      return {
        issuer: new RegExp(match?.issuer ?? '$^'),
        subject: new RegExp(match?.subject ?? '$^'),
      };
    };
    const staging = policy('staging cluster');
    const production = policy('production cluster (');
    assert.match(ISSUER, staging.issuer);
    assert.match(ISSUER, production.issuer);
    assert.match(PUSH_IDENTITY, staging.subject);
    assert.doesNotMatch(RELEASE_IDENTITY, staging.subject);
    assert.match(RELEASE_IDENTITY, production.subject);
    assert.doesNotMatch(PUSH_IDENTITY, production.subject);
    assert.doesNotMatch(
      PUSH_IDENTITY.replace('refs/heads/main', 'refs/heads/evil'),
      staging.subject,
    );
  });

  it("the releases repository's CI job validates against GitLab's CI schema", async () => {
    const [block] = yamlBlocks('.gitlab-ci.yml');
    assert.ok(block !== undefined);
    const gitlab = JSON.parse(
      await readFile(join(ROOT, 'test/data/schemas/gitlab-ci.json'), 'utf8'),
    ) as object;
    const ajv = new Ajv({ strict: false, allErrors: true });
    addFormats.default(ajv);
    const check = ajv.compile(gitlab);
    assert.ok(check(parseYAML(block) as unknown), JSON.stringify(check.errors, null, 2));
    assert.match(block, /airlock promote apply --to test/);
    assert.match(block, /GIT_DEPTH: 0/);
  });
});

const skip = missingTools(['docker-registry', 'git', 'openssl', 'jq']);

/** The fake forge behind HTTPS with a throwaway CA, as an internal GitLab would be reached. */
async function tlsFront(
  forge: FakeForge,
  tls: { serverCert: string; serverKey: string },
): Promise<{ url: string; close(): Promise<void> }> {
  const upstream = new URL(forge.apiURL);
  const server = https.createServer(
    { cert: await readFile(tls.serverCert), key: await readFile(tls.serverKey) },
    (req, res) => {
      const forward = http.request(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, host: upstream.host },
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      forward.on('error', () => res.writeHead(502).end());
      req.pipe(forward);
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}${upstream.pathname}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function runBash(
  script: string,
  cwd: string,
  env: NodeJS.ProcessEnv,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', script], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

const git = (cwd: string, ...args: string[]): string =>
  execFileSync('git', ['-c', 'user.name=Dev', '-c', 'user.email=dev@example.test', ...args], {
    cwd,
    encoding: 'utf8',
  });

describe('docs/promotion.md: every bash example runs as written, in order', { skip }, () => {
  let registry: RegistryServer;
  let sigstore: MockSigstore;
  let forge: FakeForge;
  let front: { url: string; close(): Promise<void> };
  let session: Session;
  let work: { path: string; remove(): Promise<void> };
  let d2: string;
  let releases: ReleasesRepo;
  let caCert: string;

  before(async () => {
    [registry, sigstore] = await Promise.all([startRegistry(), startMockSigstore()]);
    work = await tempDir('airlock-promotion-docs-');
    session = openSession({ insecureRegistries: [registry.host], env: { HOME: work.path } });
    await mkdir(join(work.path, 'tls'));
    const ca = await makeCertificateAuthority(join(work.path, 'tls'));
    caCert = ca.caCert;
    forge = await startFakeForge('gitlab', { project: 'platform/releases', token: TOKEN });
    front = await tlsFront(forge, ca);

    // Model 1: a component repository as D2's d2-infra, checked out at the release tag.
    d2 = join(work.path, 'd2-infra');
    for (const [name, text] of [
      ['web', 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n'],
      ['cache', 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cache\n'],
    ] as const) {
      await mkdir(join(d2, 'components', name), { recursive: true });
      await writeFile(join(d2, 'components', name, 'configmap.yaml'), text);
    }
    await writeFile(join(d2, 'trusted_root.json'), JSON.stringify(sigstore.trustedRoot));
    git(d2, 'init', '-q', '--initial-branch=main');
    git(d2, 'remote', 'add', 'origin', 'https://github.com/org/d2-infra');
    git(d2, 'add', 'components');
    git(d2, 'commit', '-q', '-m', 'components');
    git(d2, 'tag', 'web/1.4.2');

    // Model 2: the mirrored charts, signed with the key test and prod verify with.
    const keys = generateKeyPair('docs');
    const refs: string[] = [];
    for (const [name, versions] of [
      ['podinfo', ['6.5.0', '6.5.1']],
      ['web', ['1.2.0', '1.3.0']],
      ['api', ['2.0.0', '2.0.1']],
    ] as const)
      for (const version of versions) {
        const dir = join(work.path, 'charts', `${name}-${version}`);
        await mkdir(join(dir, 'templates'), { recursive: true });
        await writeFile(
          join(dir, 'Chart.yaml'),
          `apiVersion: v2\nname: ${name}\nversion: ${version}\n`,
        );
        await writeFile(join(dir, 'templates', 'cm.yaml'), `kind: ConfigMap\n# ${version}\n`);
        const { tgz } = await packageChartBytes(dir);
        const pushed = await pushCharts(session.target(`${registry.host}/charts`), [
          { tgz, where: `${name}-${version}.tgz` },
        ]);
        assert.equal(pushed.summary.failed, 0);
        refs.push(`${registry.host}/charts/${name}:${version}`);
      }
    const signed = await signArtifacts(
      session,
      refs,
      resolveSigner({ key: { pem: keys.privateKeyPEM, password: 'docs' } }),
    );
    assert.equal(signed.summary.failed, 0);
    // The releases repository: the harness's dev/test/prod layout, with the page's promotion.yaml.
    releases = await exampleReleasesRepo(join(work.path, 'releases-repo'), {
      registry: registry.host,
      // The forge the page names is reached at the TLS front; the operator confirms it with
      // AIRLOCK_FORGE_URL (below), as the page says.
      promotion: (yamlBlocks('promotion.yaml')[0] ?? '').replace(
        'https://gitlab.internal',
        new URL(front.url).origin,
      ),
    });
    await mkdir(join(releases.root, 'keys'));
    await writeFile(join(releases.root, 'keys', 'release.pub'), keys.publicKeyPEM);
    git(releases.root, 'add', 'keys');
    git(releases.root, 'commit', '-q', '-m', 'test and prod verify with the release key');
    git(releases.root, 'push', '-q', 'origin', 'main');
  });
  after(async () => {
    session.close();
    await front.close();
    await forge.close();
    await Promise.all([registry.stop(), sigstore.stop()]);
    await work.remove();
  });

  it('model 1 in the component checkout, then model 2 and Renovate in the releases checkout', async () => {
    const byHeading = sections(page);
    const plan: { cwd: string; blocks: string[] }[] = [
      {
        cwd: d2,
        blocks: bashBlocks(byHeading.get('Model 1: tag promotion in the registry') ?? ''),
      },
      {
        cwd: releases.root,
        blocks: bashBlocks(
          byHeading.get('Model 2: environment promotion in the releases repository') ?? '',
        ),
      },
      { cwd: releases.root, blocks: bashBlocks(byHeading.get('Renovate') ?? '') },
    ];
    assert.ok(plan.every((p) => p.blocks.length >= 2));
    const prelude = `set -euo pipefail\nairlock() { "${process.execPath}" "${join(ROOT, 'src', 'cli', 'main.ts')}" "$@"; }\n`;
    const base = {
      PATH: process.env.PATH,
      HOME: work.path,
      REGISTRY: registry.host,
      AIRLOCK_INSECURE_REGISTRY: registry.host,
      COSIGN_PASSWORD: 'docs-example',
      AIRLOCK_FULCIO_URL: sigstore.fulcioURL,
      AIRLOCK_REKOR_URL: sigstore.rekorURL,
      RELEASES_BOT_TOKEN: TOKEN,
      AIRLOCK_FORGE_URL: front.url,
      NODE_EXTRA_CA_CERTS: caCert,
      GIT_CONFIG_GLOBAL: '/dev/null',
    };
    for (const { cwd, blocks } of plan)
      for (const block of blocks) {
        // Each CI job gets its own OIDC token: the release job's identity is the release
        // workflow on the tag, every other job's the push workflow on main.
        const identity = /^airlock release /m.test(block) ? RELEASE_IDENTITY : PUSH_IDENTITY;
        // Asynchronously: the mock Sigstore, the forge and its TLS front answer from this process.
        const result = await runBash(prelude + block, cwd, {
          ...base,
          SIGSTORE_ID_TOKEN: sigstore.token(identity, ISSUER),
        });
        assert.equal(result.status, 0, `${block}\n${result.stdout}\n${result.stderr}`);
        assert.ok(
          !`${result.stdout}${result.stderr}`.includes(TOKEN),
          'the forge token is never printed',
        );
        if (process.env.PROMOTION_DOCS_OUTPUT)
          process.stdout.write(`$ ${block}${result.stdout}${result.stderr}\n`);
      }

    // Model 1: the release is the digest staging ran; the refused promotion wrote nothing.
    const client = new RegistryClient({ insecureRegistries: [registry.host] });
    try {
      const web = client.repository(registry.host, 'd2-infra/web');
      const latest = (await web.resolve('latest'))?.digest;
      assert.ok(latest);
      assert.equal((await web.resolve('1.4.2'))?.digest, latest);
      assert.equal((await web.resolve('latest-stable'))?.digest, latest);
      const cache = client.repository(registry.host, 'd2-infra/cache');
      assert.equal((await cache.resolve('1.0.0'))?.digest, (await cache.resolve('latest'))?.digest);
      assert.equal(await cache.resolve('1.0.1'), undefined, 'a refused promotion tags nothing');
    } finally {
      client.close();
    }

    // Model 2: two merge requests, labelled as the page says, auto-merge on the patch only.
    assert.equal(forge.changes.length, 2);
    const change = (component: string) =>
      forge.changes.find((c) => c.sourceBranch === `airlock/promote/test/${component}`);
    assert.deepEqual(change('podinfo')?.labels.toSorted(), [
      'env/test',
      'promotion/auto-merge',
      'update/patch',
    ]);
    assert.equal(change('podinfo')?.autoMerge, true);
    assert.deepEqual(change('web')?.labels.toSorted(), [
      'env/test',
      'promotion/needs-review',
      'update/minor',
    ]);
    assert.equal(change('web')?.autoMerge, false);
    assert.equal(change('web')?.title, 'promote(test): web 1.2.0 → 1.3.0');
    // Renovate's block committed renovate.json on main; nothing else moved main.
    assert.match(git(releases.root, 'log', '-1', '--format=%s'), /renovate\.json/);
  });
});
