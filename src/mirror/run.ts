import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { AirlockError, toAirlockError } from '../errors.ts';
import { mapLimit, sha256 } from '../core/index.ts';
import type { Repository } from '../oci/index.ts';
import {
  chartCRDEntries,
  injectTests,
  packLayer,
  pushChartArchive,
  pushFluxArtifact,
  readChartArchive,
} from '../artifact/index.ts';
import {
  loadPublicKey,
  type Signer,
  signLegacy,
  signatureTag,
  verifyArtifact,
} from '../sign/index.ts';
import { type InventoryRow, parseInventory } from './inventory.ts';
import {
  inShard,
  type MirrorOp,
  planMirror,
  type TargetState,
  targetRepository,
  type UpstreamVersion,
} from './plan.ts';
import { fetchChart, listUpstream, type UpstreamContext } from './upstream.ts';

export type MirrorRecordAction = 'mirrored' | 'signed' | 'present' | 'failed' | 'planned';

/** One record per chart version (or per row that failed before versions were known). */
export interface MirrorRecord {
  readonly row: string;
  readonly chart: string;
  readonly type: 'helm' | 'crds';
  readonly version?: string;
  readonly source: string;
  readonly sourceDigest?: string;
  readonly target?: string;
  readonly targetDigest?: string;
  readonly bytes?: number;
  readonly durationMs: number;
  readonly action: MirrorRecordAction;
  readonly signature?: string;
  readonly error?: { code: string; message: string; details: readonly string[] };
}

export interface MirrorOptions {
  readonly inventoryText: string;
  readonly inventoryFile: string;
  readonly upstream: Omit<UpstreamContext, 'baseDir'>;
  /** Opens a repository below the --to prefix. */
  readonly openTarget: (repository: string) => Repository;
  /** Human form of the target prefix, for records. */
  readonly targetName: string;
  readonly signer?: Signer;
  readonly planOnly?: boolean;
  readonly failFast?: boolean;
  readonly shard?: { index: number; count: number };
  readonly concurrency?: number;
  readonly onEvent?: (
    event:
      | { type: 'record'; record: MirrorRecord; done: number; total: number }
      | { type: 'planned'; ops: number; present: number },
  ) => void;
}

export interface MirrorReport {
  readonly records: readonly MirrorRecord[];
  readonly summary: {
    mirrored: number;
    signed: number;
    present: number;
    failed: number;
    planned: number;
    bytes: number;
    seconds: number;
  };
}

function failure(
  row: InventoryRow,
  error: unknown,
  started: number,
  version?: UpstreamVersion,
): MirrorRecord {
  const e = toAirlockError(error);
  return {
    row: row.where,
    chart: row.chart,
    type: row.type,
    ...(version ? { version: version.version, source: version.location } : { source: row.source }),
    durationMs: Date.now() - started,
    action: 'failed',
    error: { code: e.code, message: e.message, details: e.details },
  };
}

async function targetState(
  repository: Repository,
  candidates: readonly string[],
): Promise<TargetState> {
  const tags = new Set(await repository.listTags());
  const signedTags = new Set<string>();
  await mapLimit(
    candidates.filter((t) => tags.has(t)),
    8,
    async (tag) => {
      const descriptor = await repository.resolve(tag);
      if (descriptor && tags.has(signatureTag(descriptor.digest))) signedTags.add(tag);
    },
  );
  return { tags, signedTags };
}

/**
 * The Shared Artifacts pipeline (isolated-gitops seed): inventory → upstream versions → plan →
 * fetch, verify, (inject tests), push, tag, sign, per chart version, concurrently. A failure fails
 * its own record; the rest go on unless failFast. Re-running skips what is already mirrored.
 */
export async function runMirror(options: MirrorOptions): Promise<MirrorReport> {
  const started = Date.now();
  const baseDir = resolve(options.inventoryFile, '..');
  const rows = parseInventory(options.inventoryText, options.inventoryFile).filter((row) =>
    inShard(row, options.shard),
  );
  const context: UpstreamContext = { indexCache: new Map(), ...options.upstream, baseDir };
  const records: MirrorRecord[] = [];
  const concurrency = options.concurrency ?? 8;

  // Upstream listings, one per row; a row whose upstream fails is a failed record, not a stop.
  const upstream = new Map<InventoryRow, UpstreamVersion[]>();
  await mapLimit(rows, concurrency, async (row) => {
    const t = Date.now();
    try {
      upstream.set(row, await listUpstream(row, context));
    } catch (error) {
      records.push(failure(row, error, t));
    }
  });
  const listed = rows.filter((row) => upstream.has(row));
  const byRepository = new Map<string, Set<string>>();
  for (const row of listed) {
    const tags = byRepository.get(targetRepository(row)) ?? new Set<string>();
    for (const v of upstream.get(row) ?? []) tags.add(v.version.replaceAll('+', '_'));
    byRepository.set(targetRepository(row), tags);
  }
  const targets = new Map<string, TargetState>();
  await mapLimit([...byRepository], concurrency, async ([repository, candidates]) => {
    targets.set(repository, await targetState(options.openTarget(repository), [...candidates]));
  });
  const plan = planMirror(listed, upstream, targets, { signing: options.signer !== undefined });
  options.onEvent?.({ type: 'planned', ops: plan.ops.length, present: plan.present.length });
  for (const p of plan.present) {
    records.push({
      row: p.row.where,
      chart: p.row.chart,
      type: p.row.type,
      version: p.version,
      source: p.row.source,
      target: `${options.targetName}/${p.repository}:${p.tag}`,
      durationMs: 0,
      action: 'present',
    });
  }
  if (options.planOnly) {
    for (const op of plan.ops) {
      records.push({
        row: op.row.where,
        chart: op.row.chart,
        type: op.row.type,
        version: op.version.version,
        source: op.version.location,
        ...(op.version.digest ? { sourceDigest: `sha256:${op.version.digest}` } : {}),
        target: `${options.targetName}/${op.repository}:${op.tag}`,
        durationMs: 0,
        action: 'planned',
      });
    }
    return report(records, started);
  }
  let done = 0;
  let stop = false;
  await mapLimit(plan.ops, concurrency, async (op) => {
    if (stop) return;
    const record = await runOp(op, options, context);
    records.push(record);
    done++;
    options.onEvent?.({ type: 'record', record, done, total: plan.ops.length });
    if (record.action === 'failed' && options.failFast) stop = true;
  });
  return report(records, started);
}

function report(records: MirrorRecord[], started: number): MirrorReport {
  const count = (action: MirrorRecordAction): number =>
    records.filter((r) => r.action === action).length;
  records.sort(
    (a, b) =>
      a.row.localeCompare(b.row, 'en', { numeric: true }) ||
      (a.version ?? '').localeCompare(b.version ?? '', 'en', { numeric: true }),
  );
  return {
    records,
    summary: {
      mirrored: count('mirrored'),
      signed: count('signed'),
      present: count('present'),
      failed: count('failed'),
      planned: count('planned'),
      bytes: records.reduce((s, r) => s + (r.bytes ?? 0), 0),
      seconds: (Date.now() - started) / 1000,
    },
  };
}

async function verifyUpstream(op: MirrorOp, context: UpstreamContext): Promise<void> {
  const { row } = op;
  if (!row.verifyKey && !row.verifyIdentity) return;
  if (row.sourceKind !== 'oci')
    throw new AirlockError(
      'USAGE',
      `${row.where}: upstream signature verification needs an oci:// source`,
    );
  const location = op.version.location;
  const repository = context.openOCI(location.slice(0, location.lastIndexOf(':')));
  const keys = row.verifyKey
    ? [
        {
          name: row.verifyKey,
          key: loadPublicKey(
            await readFile(resolve(context.baseDir, row.verifyKey), 'utf8'),
            row.verifyKey,
          ),
        },
      ]
    : [];
  const identities = row.verifyIdentity
    ? [{ subject: row.verifyIdentity, issuer: row.verifyIssuer ?? '' }]
    : [];
  await verifyArtifact(repository, location.slice(location.lastIndexOf(':') + 1), {
    keys,
    identities,
    ignoreTlog: keys.length > 0,
  });
}

async function runOp(
  op: MirrorOp,
  options: MirrorOptions,
  context: UpstreamContext,
): Promise<MirrorRecord> {
  const started = Date.now();
  const { row, version } = op;
  const repository = options.openTarget(op.repository);
  const target = `${options.targetName}/${op.repository}:${op.tag}`;
  try {
    let digest: string;
    let bytes = 0;
    let sourceDigest: string | undefined = version.digest ? `sha256:${version.digest}` : undefined;
    if (op.action === 'mirror') {
      await verifyUpstream(op, context);
      let tgz = await fetchChart(row, version, context);
      sourceDigest = sha256(tgz);
      if (row.tests)
        tgz = await injectTests(tgz, resolve(context.baseDir, row.tests), version.location);
      const created = version.created ?? '1970-01-01T00:00:00Z';
      if (row.type === 'crds') {
        const layer = packLayer(chartCRDEntries(readChartArchive(tgz, version.location)));
        const pushed = await pushFluxArtifact(repository, layer, {
          tag: op.tag,
          meta: { source: row.source, revision: `${version.version}@${sourceDigest}`, created },
        });
        digest = pushed.digest;
        bytes = layer.tgz.length;
      } else {
        const pushed = await pushChartArchive(repository, tgz, {
          created,
          where: version.location,
        });
        digest = pushed.digest;
        bytes = tgz.length;
      }
    } else {
      const existing = await repository.resolve(op.tag);
      if (!existing)
        throw new AirlockError('REGISTRY_NOT_FOUND', `${target} disappeared while mirroring`);
      digest = existing.digest;
    }
    // The signature comes after the tag it covers.
    const signature = options.signer
      ? (await signLegacy(repository, digest, options.signer)).signatureTag
      : undefined;
    return {
      row: row.where,
      chart: row.chart,
      type: row.type,
      version: version.version,
      source: version.location,
      ...(sourceDigest ? { sourceDigest } : {}),
      target,
      targetDigest: digest,
      bytes,
      durationMs: Date.now() - started,
      action: op.action === 'mirror' ? 'mirrored' : 'signed',
      ...(signature ? { signature } : {}),
    };
  } catch (error) {
    return { ...failure(row, error, started, version), target };
  }
}
