import { AirlockError } from '../../errors.ts';
import { DEFAULT_MAX_SIZE, readUserFile, writeFileAtomic } from '../../core/index.ts';
import { junitReport, type MirrorItem, type MirrorReport, runMirror } from '../../mirror/index.ts';
import { openSession } from '../../session/index.ts';
import {
  type CommandSpec,
  type OptionValues,
  sessionOptionsFrom,
  stringOption,
} from '../command.ts';
import { readKeyFile, SIGNER_OPTIONS, signerFrom } from '../keys.ts';
import { formatBytes } from '../output.ts';
import { renderBatch } from '../render.ts';

const DEFAULT_TARGET = 'oci-layout:./airlock-store';

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

function positive(values: OptionValues, flag: string, fallback: number): number {
  const text = stringOption(values, flag);
  const value = text === undefined ? fallback : Number(text);
  if (!Number.isFinite(value) || value <= 0)
    throw new AirlockError('USAGE', `--${flag} "${text ?? ''}" is not a positive number`);
  return value;
}

/** The closing line: what was mirrored, and whether it was signed, in so many words. */
function summary(report: MirrorReport, plan: boolean, signing: boolean): string {
  const count = (test: (i: MirrorItem) => boolean): number => report.items.filter(test).length;
  const present = count((i) => i.outcome === 'present');
  const failed = count((i) => i.outcome === 'failed');
  const unmatched = count((i) => i.reason === 'no version matches');
  const tail = [
    `${present} already present`,
    ...(unmatched > 0 ? [`${unmatched} row(s) match no version`] : []),
    `${failed} failed`,
  ];
  if (plan) {
    const mirror = count((i) => i.reason === 'planned' && i.action === 'mirror');
    const sign = count((i) => i.reason === 'planned' && i.action === 'sign');
    return `plan: ${mirror} to mirror${signing ? ' and sign' : ' (unsigned)'}, ${sign > 0 ? `${sign} to sign, ` : ''}${tail.join(', ')}`;
  }
  const mirrored = count((i) => i.outcome === 'done' && i.action === 'mirror');
  const signedOnly = count((i) => i.outcome === 'done' && i.action === 'sign');
  const stopped = count((i) => i.reason === 'aborted' || i.reason === 'fail-fast');
  const { bytes, durationMs } = report.summary;
  return [
    signing ? `${mirrored} mirrored and signed` : `${mirrored} mirrored, NOT signed`,
    ...(signedOnly > 0 ? [`${signedOnly} signed (mirrored before)`] : []),
    ...tail,
    ...(stopped > 0 ? [`${stopped} not started`] : []),
  ]
    .join(', ')
    .concat(`; ${formatBytes(bytes)} in ${(durationMs / 1000).toFixed(1)} s`);
}

export const mirrorCommand: CommandSpec = {
  name: 'mirror',
  usage:
    'airlock mirror INVENTORY.csv [--to REGISTRY/PREFIX] [--key cosign.key | --keyless] [flags]',
  description: [
    'For each inventory row: list the upstream versions (Helm HTTP repository, OCI registry or local',
    'directory), keep those the constraint asks for, skip those already mirrored (and signed), then',
    'fetch (digest-checked), verify upstream signatures where configured, inject tests, push as a Helm',
    'OCI artifact (or the CRDs as a Flux artifact for type=crds), tag, and sign. A failed row does not',
    'stop the others; the exit status is 1 when any failed. Re-running finishes an interrupted run.',
    'A row whose range matches no upstream version is a warning (a failure with --strict).',
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
    ...SIGNER_OPTIONS,
    'trusted-root': {
      type: 'string',
      value: 'FILE',
      env: true,
      description: 'trusted_root.json for the verify_identity / verify_issuer columns.',
    },
    plan: { type: 'boolean', description: 'Print what would be mirrored; change nothing.' },
    strict: { type: 'boolean', description: 'Fail a row whose range matches no version.' },
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
    'max-size': {
      type: 'string',
      value: 'BYTES',
      env: true,
      description: `Largest upstream index, chart or local file read (default ${DEFAULT_MAX_SIZE}).`,
    },
  },
  async run(context) {
    const { positionals, values, out } = context;
    const [file, ...extra] = positionals;
    if (file === undefined || extra.length > 0)
      throw new AirlockError('USAGE', 'mirror takes one INVENTORY.csv');
    const text = (await readUserFile(file, { what: 'the inventory' })).toString('utf8');
    const shard = parseShard(stringOption(values, 'shard'));
    const timeout = positive(values, 'timeout', 60);
    const maxSize = Math.floor(positive(values, 'max-size', DEFAULT_MAX_SIZE));
    const plan = values.plan === true;
    const signing = stringOption(values, 'key') !== undefined || values.keyless === true;
    // A plan needs no key: it plans the signed run without decrypting anything.
    const signer = signing && !plan ? await signerFrom(context) : undefined;
    const rootPath = stringOption(values, 'trusted-root');
    const trustedRoot =
      rootPath === undefined ? undefined : await readKeyFile(rootPath, 'the trusted root');
    if (!signing && !plan)
      out.info('airlock: warning: no --key or --keyless given: nothing will be signed');
    const session = openSession({
      ...(await sessionOptionsFrom(values, context.env, context.stdin)),
      maxSize,
      upstreamTimeoutMs: timeout * 1000,
    });
    try {
      const report = await runMirror(session, {
        inventory: { text, file },
        target: stringOption(values, 'to') ?? DEFAULT_TARGET,
        ...(signer ? { signer } : {}),
        signing,
        ...(trustedRoot === undefined ? {} : { trustedRoot }),
        plan,
        strict: values.strict === true,
        failFast: values['fail-fast'] === true,
        ...(shard ? { shard } : {}),
        signal: context.signal,
        onEvent: (event) => {
          if (event.type === 'planned')
            out.debug(`plan: ${event.ops} to do, ${event.present} already present`);
          else
            out.progress(
              `mirroring ${event.done}/${event.total}: ${event.item.chart} ${event.item.version ?? ''}`,
            );
        },
      });
      const junit = stringOption(values, 'junit');
      if (junit !== undefined) await writeFileAtomic(junit, junitReport(report));
      for (const item of report.items)
        if (item.reason === 'no version matches')
          out.info(
            `airlock: warning: ${item.row}: no version of ${item.chart} matches its range (--strict makes this a failure)`,
          );
      const status = renderBatch(out, report, {
        line: (item) =>
          `${item.row} ${item.chart}${item.version === undefined ? '' : ` ${item.version}`}${item.type === 'crds' ? ' (crds)' : ''} → ${item.reference}${item.digest === undefined ? '' : `@${item.digest}`}`,
        summary: summary(report, plan, signing),
        showAll: plan,
      });
      // Stopped by Ctrl-C: not a success, even if nothing failed.
      const aborted = report.items.some((i) => i.reason === 'aborted');
      return aborted ? Math.max(status, 1) : status;
    } finally {
      session.close();
    }
  },
};
