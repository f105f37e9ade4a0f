import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AirlockError } from '../../errors.ts';
import {
  type CredentialStore,
  HTTPTransport,
  LayoutRepository,
  parseReference,
  type Repository,
} from '../../oci/index.ts';
import { junitReport, parseInventory, runMirror } from '../../mirror/index.ts';
import { oidcToken, resolveSigner, type Signer } from '../../sign/index.ts';
import {
  type CommandContext,
  type CommandSpec,
  concurrencyOption,
  stringList,
  stringOption,
} from '../command.ts';
import { ExitCode } from '../exit-codes.ts';
import { formatBytes } from '../output.ts';
import { keyPassword } from '../keys.ts';

export const DEFAULT_TARGET = 'oci-layout:./airlock-store';

function parseShard(text: string | undefined): { index: number; count: number } | undefined {
  if (text === undefined) return undefined;
  const match = /^(\d+)\/(\d+)$/.exec(text);
  const index = Number(match?.[1]);
  const count = Number(match?.[2]);
  if (!match || count < 1 || index < 1 || index > count)
    throw new AirlockError('USAGE', `--shard "${text}" is not I/N with 1 <= I <= N`, {
      details: ['Example: --shard 2/4 for the second of four parallel jobs.'],
    });
  return { index, count };
}

async function signerFrom(context: CommandContext): Promise<Signer | undefined> {
  const { values, env } = context;
  const keyPath = stringOption(values, 'key');
  if (keyPath !== undefined && values.keyless === true)
    throw new AirlockError('USAGE', 'pass --key or --keyless, not both');
  if (keyPath !== undefined) {
    let pem: string;
    try {
      pem = await readFile(keyPath, 'utf8');
    } catch (error) {
      throw new AirlockError('USAGE', `--key ${keyPath}: cannot read it`, { cause: error });
    }
    return resolveSigner({ key: { pem, password: await keyPassword(context), name: keyPath } });
  }
  if (values.keyless !== true) return undefined;
  const tokenEnv = stringOption(values, 'identity-token-env');
  const fulcioURL = stringOption(values, 'fulcio-url');
  const rekorURL = stringOption(values, 'rekor-url');
  return resolveSigner({
    keyless: {
      token: await oidcToken({
        env,
        ...(tokenEnv === undefined ? {} : { identityTokenEnv: tokenEnv }),
      }),
      ...(fulcioURL === undefined ? {} : { fulcioURL }),
      ...(rekorURL === undefined ? {} : { rekorURL }),
    },
  });
}

export const mirrorCommand: CommandSpec = {
  name: 'mirror',
  summary: 'Mirror the charts a CSV inventory lists into the private registry, signed',
  usage:
    'airlock mirror INVENTORY.csv [--to REGISTRY/PREFIX] [--key cosign.key | --keyless] [flags]',
  description: [
    'For each inventory row: list the upstream versions (Helm HTTP repository, OCI registry or local',
    'directory), keep those the constraint asks for, skip those already mirrored (and signed), then',
    'fetch (digest-checked), verify upstream signatures where configured, inject tests, push as a Helm',
    'OCI artifact (or the CRDs as a Flux artifact for type=crds), tag, and sign. A failed row does not',
    'stop the others; the exit status is 1 when any failed. Re-running finishes an interrupted run.',
    `--to defaults to ${DEFAULT_TARGET}, a local OCI layout store. See docs/inventory.md.`,
  ].join('\n'),
  examples: [
    'airlock mirror inventory.csv --to registry.internal/mirror --key cosign.key --junit mirror.xml',
    'airlock mirror inventory.csv --to registry.internal/mirror --plan',
    'airlock mirror inventory.csv --to registry.internal/mirror --keyless --shard 2/4 --json',
  ],
  registry: true,
  options: {
    to: {
      type: 'string',
      value: 'REF',
      env: true,
      description: `Target registry prefix or oci-layout:PATH (default ${DEFAULT_TARGET}).`,
    },
    key: {
      type: 'string',
      value: 'FILE',
      env: true,
      description: 'Sign with this cosign key (password from COSIGN_PASSWORD).',
    },
    keyless: {
      type: 'boolean',
      description: "Sign keylessly with the CI job's OIDC identity (Fulcio, Rekor).",
    },
    'identity-token-env': {
      type: 'string',
      value: 'NAME',
      description: 'Variable holding the OIDC token for --keyless.',
    },
    'fulcio-url': {
      type: 'string',
      value: 'URL',
      env: true,
      description: 'Fulcio of a private Sigstore.',
    },
    'rekor-url': {
      type: 'string',
      value: 'URL',
      env: true,
      description: 'Rekor of a private Sigstore.',
    },
    plan: { type: 'boolean', description: 'Print what would be mirrored; change nothing.' },
    'fail-fast': { type: 'boolean', description: 'Stop at the first failed chart.' },
    shard: {
      type: 'string',
      value: 'I/N',
      env: true,
      description: 'Handle only shard I of N of the inventory (parallel CI jobs).',
    },
    junit: { type: 'string', value: 'FILE', description: 'Write a JUnit XML report.' },
    timeout: {
      type: 'string',
      value: 'SECONDS',
      env: true,
      description: 'Idle timeout for upstream requests (default 60).',
    },
  },
  async run(context) {
    const { positionals, values, out } = context;
    const [file, ...extra] = positionals;
    if (file === undefined || extra.length > 0)
      throw new AirlockError('USAGE', 'mirror takes one INVENTORY.csv');
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      throw new AirlockError('USAGE', `${file}: cannot read the inventory`, { cause: error });
    }
    // Validate everything before touching any network.
    const rows = parseInventory(text, file);
    const shard = parseShard(stringOption(values, 'shard'));
    const timeoutText = stringOption(values, 'timeout');
    const timeout = timeoutText === undefined ? 60 : Number(timeoutText);
    if (!Number.isFinite(timeout) || timeout <= 0)
      throw new AirlockError(
        'USAGE',
        `--timeout "${timeoutText ?? ''}" is not a positive number of seconds`,
      );
    const to = parseReference(stringOption(values, 'to') ?? DEFAULT_TARGET, {
      repositoryOnly: true,
    });
    const signer = values.plan === true ? undefined : await signerFrom(context);
    const planSigning =
      values.plan === true &&
      (stringOption(values, 'key') !== undefined || values.keyless === true);
    const session = await context.session();
    // An http:// source in the inventory is the inventory's explicit choice of plain HTTP.
    const httpHosts = rows
      .filter((r) => r.source.startsWith('http://'))
      .map((r) => new URL(r.source).host);
    const caCertificates = await Promise.all(
      stringList(values, 'ca-file').map((f) => readFile(f, 'utf8')),
    );
    const transport = new HTTPTransport({
      insecureRegistries: [...httpHosts, ...stringList(values, 'insecure-registry')],
      caCertificates,
      timeoutMs: timeout * 1000,
      retry: { attempts: 3 },
    });
    // Helm repositories authenticate like registries: --username/--password-stdin, else config.json.
    const credentials: CredentialStore = session.credentials;
    const openTarget = (repository: string): Repository =>
      to.kind === 'layout'
        ? new LayoutRepository(join(to.path, repository))
        : session.client.repository(to.registry, `${to.repository}/${repository}`);
    const concurrency = concurrencyOption(values);
    try {
      const report = await runMirror({
        inventoryText: text,
        inventoryFile: file,
        upstream: {
          transport,
          credentials: (host) => credentials.get(host),
          openOCI: (reference) => {
            const slash = reference.indexOf('/');
            return session.client.repository(reference.slice(0, slash), reference.slice(slash + 1));
          },
        },
        openTarget,
        targetName:
          to.kind === 'layout' ? `oci-layout:${to.path}` : `${to.registry}/${to.repository}`,
        ...(signer ? { signer } : {}),
        planOnly: values.plan === true,
        failFast: values['fail-fast'] === true,
        ...(shard ? { shard } : {}),
        ...(concurrency === undefined ? {} : { concurrency }),
        onEvent: (event) => {
          if (event.type === 'planned')
            out.debug(`plan: ${event.ops} to mirror, ${event.present} already present`);
          else
            out.progress(
              `mirroring ${event.done}/${event.total}: ${event.record.chart} ${event.record.version ?? ''} ${event.record.action}`,
            );
        },
      });
      const junit = stringOption(values, 'junit');
      if (junit !== undefined) {
        await writeFile(`${junit}.tmp`, junitReport(report));
        await rename(`${junit}.tmp`, junit);
      }
      for (const r of report.records.filter((x) => x.action === 'failed')) {
        out.info(
          `airlock: ${r.row}: ${r.chart} ${r.version ?? ''}: ${r.error?.message ?? ''} (${r.error?.code ?? ''})`,
        );
      }
      const s = report.summary;
      const width = Math.max(
        5,
        ...report.records.map((r) => `${r.chart} ${r.version ?? ''}`.length),
      );
      const human = [
        ...report.records.map(
          (r) =>
            `${r.action.padEnd(9)} ${`${r.chart} ${r.version ?? ''}`.padEnd(width)}  ${r.action === 'failed' ? `${r.error?.code ?? ''}: ${r.error?.message ?? ''}` : (r.target ?? '')}`,
        ),
        values.plan === true
          ? `plan: ${s.planned} to mirror${planSigning ? ' and sign' : ''}, ${s.present} already present, ${s.failed} failed`
          : `${s.mirrored} mirrored, ${s.signed} signed, ${s.present} already present, ${s.failed} failed; ${formatBytes(s.bytes)} in ${s.seconds.toFixed(1)} s`,
      ];
      out.result(human, report);
      return s.failed > 0 ? ExitCode.failure : ExitCode.ok;
    } finally {
      transport.close();
    }
  },
};
