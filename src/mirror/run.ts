import { resolve } from 'node:path';
import { AirlockError, ConfigError, type ConfigIssue } from '../errors.ts';
import {
  batchReport,
  type BatchItem,
  type BatchReport,
  type Digest,
  type ItemError,
  itemError,
  mapLimit,
  readUserFile,
  runBatch,
  sha256,
  throwIfAborted,
} from '../core/index.ts';
import { type Repository, withWrites } from '../oci/index.ts';
import type { Session, Target } from '../session/index.ts';
import {
  chartCRDEntries,
  chartTag,
  injectTests,
  packLayer,
  pushChartArchive,
  pushFluxArtifact,
  readChartArchive,
} from '../artifact/index.ts';
import {
  resolveVerifyPolicy,
  type Signer,
  signLegacy,
  signatureTag,
  verifyArtifact,
  type VerifyPolicy,
} from '../sign/index.ts';
import { type InventoryRow, parseInventory } from './inventory.ts';
import {
  inShard,
  type MirrorAction,
  type MirrorOp,
  planMirror,
  selectUpstream,
  type TargetState,
  targetRepository,
  type UpstreamVersion,
} from './plan.ts';
import { fetchChart, listUpstream, type UpstreamContext } from './upstream.ts';
import { mirrorImageRows } from './images.ts';

/**
 * One item of the mirror report (docs/json.md's batch item, plus the mirror's fields): one per
 * chart version, or one per row that failed or matched nothing before versions were known.
 * `reference` is the target (`registry/prefix/chart:tag`, or the repository for a row item) and
 * `digest` the target manifest digest.
 */
export interface MirrorItem extends BatchItem {
  /** The inventory line, for messages: `inventory.csv:4`. */
  readonly row: string;
  /** The chart name; for an image row, the image repository (`docker.io/library/nginx`). */
  readonly chart: string;
  readonly type: 'helm' | 'crds' | 'image';
  /** Absent for a row item (its upstream could not be listed, or no version matched). For an image row, the tag. */
  readonly version?: string;
  /** Where the version came from (index URL of the .tgz, oci reference, local path); else the row's source. */
  readonly source: string;
  /** sha256 of the upstream .tgz as fetched (or as the index states it, for a plan). */
  readonly sourceDigest?: string;
  /** What was done, or would be (plan): `mirror` (push, tag, sign) or `sign` (pushed before). */
  readonly action?: MirrorAction;
  /** The signature tag written (or found, for a present version). */
  readonly signature?: string;
  /** true: signed by this run or its signature was found; false: mirrored unsigned; absent: not checked. */
  readonly signed?: boolean;
  /** Image rows: the platforms of the index children mirrored, and how the row's filter applied. */
  readonly platforms?: readonly string[];
  readonly platformFilter?: 'filtered' | 'complete' | 'pinned' | 'not-an-index';
  /** Image rows: blobs uploaded, mounted from another mirrored repository, or already present. */
  readonly blobs?: {
    readonly uploaded: number;
    readonly mounted: number;
    readonly present: number;
  };
}

export type MirrorReport = BatchReport<MirrorItem>;

export type MirrorEvent =
  | { readonly type: 'planned'; readonly ops: number; readonly present: number }
  | {
      readonly type: 'item';
      readonly item: MirrorItem;
      readonly done: number;
      readonly total: number;
    };

export interface MirrorOptions {
  /** The inventory's CSV text and its path: messages name `file:line`, relative paths resolve from its directory. */
  readonly inventory: { readonly text: string; readonly file: string };
  /** Registry prefix (`registry.internal/mirror`) or `oci-layout:PATH` the repositories go below. */
  readonly target: string;
  /** Signs every version mirrored (and every pushed-but-unsigned one). None: nothing is signed. */
  readonly signer?: Signer;
  /**
   * For a plan: whether the run it plans will sign (a version pushed but unsigned is then "to
   * sign"). Default: whether a signer is given. A run signs exactly when it has a signer.
   */
  readonly signing?: boolean;
  /** trusted_root.json text for the rows' verify_identity / verify_issuer columns. */
  readonly trustedRoot?: string;
  /** Plan only: list what would be mirrored (items `skipped`, reason "planned"); write nothing. */
  readonly plan?: boolean;
  /** A row whose constraint matches no upstream version fails (UPSTREAM_NOT_FOUND) instead of warning. */
  readonly strict?: boolean;
  /** After the first failure start nothing new (the rest: `skipped`, reason "fail-fast"). */
  readonly failFast?: boolean;
  readonly shard?: { readonly index: number; readonly count: number };
  /** Chart versions in flight at once (default: the session's concurrency). */
  readonly concurrency?: number;
  /**
   * Stops the run: nothing new starts (`skipped`, reason "aborted"); a version in flight is dropped
   * before its tag is written, or, once tagged, finished and signed, so no tag lacks its artifact
   * and nothing pushed goes unreported.
   */
  readonly signal?: AbortSignal;
  readonly onEvent?: (event: MirrorEvent) => void;
}

/** Reasons of `skipped` and `present` items, for callers that branch on them. */
export const REASON = {
  planned: 'planned',
  noMatch: 'no version matches',
  aborted: 'aborted',
  failFast: 'fail-fast',
  present: 'already mirrored',
  presentSigned: 'already mirrored and signed',
} as const;

/** Repositories from which on the catalog is read once instead of listing each absent repository. */
const CATALOG_FROM = 64;
/** The catalog is abandoned (each repository listed instead) past this many pages per repository asked about. */
const CATALOG_PAGES_PER_REPOSITORY = 1 / 16;

interface RowItem {
  readonly row: InventoryRow;
  readonly item: MirrorItem;
  /** Where the version is in the row's selection (newest first); -1 for a row item. */
  readonly rank?: number;
}

function rowItem(
  row: InventoryRow,
  target: Target,
  fields: Pick<MirrorItem, 'outcome'> & Partial<MirrorItem>,
): RowItem {
  return {
    row,
    item: {
      reference: `${target.name}/${targetRepository(row)}`,
      row: row.where,
      chart: row.chart,
      type: row.type,
      source: row.source,
      bytes: 0,
      durationMs: 0,
      ...fields,
    },
  };
}

/** An op's item fields. Built without spreads: a 10,000-row plan makes 60,000 of them. */
function opFields(
  op: MirrorOp,
  target: Target,
): Omit<MirrorItem, 'outcome' | 'bytes' | 'durationMs'> {
  const fields: { -readonly [K in keyof MirrorItem]?: MirrorItem[K] } = {
    reference: `${target.name}/${op.repository}:${op.tag}`,
    row: op.row.where,
    chart: op.row.chart,
    type: op.row.type,
    version: op.version.version,
    source: op.version.location,
    action: op.action,
  };
  if (op.digest) fields.digest = op.digest;
  if (op.version.digest) fields.sourceDigest = `sha256:${op.version.digest}`;
  return fields as Omit<MirrorItem, 'outcome' | 'bytes' | 'durationMs'>;
}

/**
 * The Shared Artifacts pipeline (isolated-gitops seed): inventory → upstream versions → plan →
 * fetch, verify, (inject tests), push, tag, sign, per chart version, concurrently. A failure fails
 * its own item; the rest go on unless failFast. Re-running skips what is already mirrored.
 */
export async function runMirror(session: Session, options: MirrorOptions): Promise<MirrorReport> {
  const started = Date.now();
  const { file } = options.inventory;
  const baseDir = resolve(file, '..');
  const inventory = parseInventory(options.inventory.text, file).filter((row) =>
    inShard(row, options.shard),
  );
  // Image rows go through images' mirrorImages after the charts (images.ts).
  const rows = inventory.filter((row) => row.type !== 'image');
  const imageRows = inventory.filter((row) => row.type === 'image');
  // Everything local is checked before the first request: verification columns and their keys.
  const policies = await verificationPolicies(
    inventory,
    baseDir,
    options.trustedRoot,
    session.maxSize,
  );
  const target = session.target(options.target);
  const signal = options.signal;
  const concurrency = options.concurrency ?? session.concurrency;
  // A run signs exactly when it has a signer; only a plan may assume one (it needs no key).
  const signing =
    options.plan === true
      ? (options.signing ?? options.signer !== undefined)
      : options.signer !== undefined;
  // An http:// source in the inventory is the inventory's explicit choice of plain HTTP.
  const plainHosts = [
    ...new Set(
      rows.filter((r) => r.source.startsWith('http://')).map((r) => new URL(r.source).host),
    ),
  ];
  const context: UpstreamContext = {
    transport: session.upstream(plainHosts),
    credentials: (host) => session.credentials.get(host),
    indexCache: new Map(),
    openOCI: (reference) => {
      const slash = reference.indexOf('/');
      return session.client.repository(reference.slice(0, slash), reference.slice(slash + 1));
    },
    baseDir,
    maxSize: session.maxSize,
  };

  // 1. Upstream listings, one per row: a row whose upstream fails is its own failed item.
  const early: RowItem[] = [];
  const selected = new Map<InventoryRow, { wanted: UpstreamVersion[]; offered: number }>();
  await mapLimit(rows, concurrency, async (row) => {
    if (signal?.aborted) {
      early.push(rowItem(row, target, { outcome: 'skipped', reason: REASON.aborted }));
      return;
    }
    const t = Date.now();
    try {
      const offered = await listUpstream(row, context);
      selected.set(row, { wanted: selectUpstream(offered, row.versions), offered: offered.length });
    } catch (error) {
      early.push(
        rowItem(row, target, {
          outcome: 'failed',
          error: itemError(error),
          durationMs: Date.now() - t,
        }),
      );
    }
  });

  // The parsed indexes are not needed past listing (a big one holds 60,000 entries).
  context.indexCache?.clear();

  // 2. What the target holds, for the repositories and tags wanted.
  const wantedTags = new Map<string, Set<string>>();
  for (const [row, { wanted }] of selected) {
    const tags = wantedTags.get(targetRepository(row)) ?? new Set<string>();
    for (const v of wanted) tags.add(chartTag(v.version));
    wantedTags.set(targetRepository(row), tags);
  }
  const { states, failures } = await targetStates(session, target, wantedTags, {
    signing,
    concurrency,
    signal,
  });
  for (const row of [...selected.keys()]) {
    const failure = failures.get(targetRepository(row));
    if (failure === undefined) continue;
    selected.delete(row);
    early.push(rowItem(row, target, { outcome: 'failed', error: failure }));
  }

  // 3. The plan.
  const plan = planMirror(selected, states, { signing, signatureTag });
  const rank = new Map<UpstreamVersion, number>();
  for (const { wanted } of selected.values()) wanted.forEach((v, i) => rank.set(v, i));
  selected.clear();
  options.onEvent?.({ type: 'planned', ops: plan.ops.length, present: plan.present.length });
  for (const { row, offered } of plan.unmatched) {
    const message = `${row.where}: no version of ${row.chart} matches "${row.versions}" (the upstream offers ${offered})`;
    early.push(
      rowItem(
        row,
        target,
        options.strict === true
          ? {
              outcome: 'failed',
              error: itemError(
                new AirlockError('UPSTREAM_NOT_FOUND', message, { data: { option: 'strict' } }),
              ),
            }
          : { outcome: 'skipped', reason: REASON.noMatch },
      ),
    );
  }
  for (const p of plan.present)
    early.push({
      row: p.row,
      rank: rank.get(p.version) ?? 0,
      item: {
        reference: `${target.name}/${p.repository}:${p.tag}`,
        ...(p.digest ? { digest: p.digest } : {}),
        row: p.row.where,
        chart: p.row.chart,
        type: p.row.type,
        version: p.version.version,
        source: p.version.location,
        ...(p.version.digest ? { sourceDigest: `sha256:${p.version.digest}` } : {}),
        outcome: 'present',
        reason: p.signed === true ? REASON.presentSigned : REASON.present,
        ...(p.signed === true && p.digest ? { signature: signatureTag(p.digest) } : {}),
        ...(p.signed === undefined ? {} : { signed: p.signed }),
        bytes: 0,
        durationMs: 0,
      },
    });

  // 4. The run (or the plan's list).
  const preFailed = early.some((e) => e.item.outcome === 'failed');
  let ran: RowItem[];
  const skipped = (reason: string): RowItem[] =>
    plan.ops.map((op) => {
      const item = opFields(op, target) as { -readonly [K in keyof MirrorItem]?: MirrorItem[K] };
      item.outcome = 'skipped';
      item.reason = reason;
      item.bytes = 0;
      item.durationMs = 0;
      return { row: op.row, rank: rank.get(op.version) ?? 0, item: item as MirrorItem };
    });
  // An abort during listing leaves the target state incomplete: not even a plan is given then.
  if (signal?.aborted) ran = skipped(REASON.aborted);
  else if (options.plan === true) ran = skipped(REASON.planned);
  else if (options.failFast === true && preFailed) ran = skipped(REASON.failFast);
  else {
    const report = await runBatch<MirrorOp, MirrorItem>(
      'mirror',
      plan.ops,
      (op, opSignal) =>
        runOp(op, { target, context, policies, states, signer: options.signer, signal: opSignal }),
      (op) => opFields(op, target),
      {
        concurrency,
        ...(signal ? { signal } : {}),
        ...(options.failFast === true ? { failFast: true } : {}),
        onEvent: (event) => options.onEvent?.({ ...event, type: 'item' }),
      },
    );
    ran = report.items.map((item, i) => {
      const op = plan.ops[i] as MirrorOp;
      return { row: op.row, rank: rank.get(op.version) ?? 0, item };
    });
  }
  // 5. Image rows: every tag of every row in one mirrorImages call.
  const failed = [...early, ...ran].some((e) => e.item.outcome === 'failed');
  const images =
    imageRows.length === 0
      ? []
      : await mirrorImageRows(session, imageRows, {
          target: options.target,
          targetName: target.name,
          policies,
          signer: options.signer,
          plan: options.plan === true,
          strict: options.strict === true,
          failFast: options.failFast === true,
          concurrency,
          signal,
          ...(signal?.aborted
            ? { stopped: REASON.aborted }
            : options.failFast === true && failed
              ? { stopped: REASON.failFast }
              : {}),
          onItem: (item, done, total) => options.onEvent?.({ type: 'item', item, done, total }),
        });
  // Inventory order, each row's versions as selected (newest first).
  const all = [...early, ...ran, ...images];
  all.sort((a, b) => a.row.line - b.row.line || (a.rank ?? -1) - (b.rank ?? -1));
  return batchReport(
    'mirror',
    all.map((e) => e.item),
    started,
  );
}

/**
 * The rows' verification policies, built before any request: the column pair needs an oci://
 * source, keys are read (relative to the inventory), identities need a trusted root.
 */
async function verificationPolicies(
  rows: readonly InventoryRow[],
  baseDir: string,
  trustedRoot: string | undefined,
  maxSize: number,
): Promise<Map<InventoryRow, VerifyPolicy>> {
  const issues: ConfigIssue[] = [];
  for (const row of rows)
    if (
      (row.verifyKey !== undefined || row.verifyIdentity !== undefined) &&
      row.sourceKind !== 'oci' &&
      row.sourceKind !== 'image'
    )
      issues.push({
        where: row.where,
        message: `upstream signatures can only be verified for an oci:// source, not ${row.source}`,
      });
  if (issues.length > 0)
    throw new ConfigError(
      `${issues.length} row(s) verify signatures of a source that has none`,
      issues,
    );
  const policies = new Map<InventoryRow, VerifyPolicy>();
  const keys = new Map<string, Promise<string>>();
  for (const row of rows) {
    if (row.verifyKey === undefined && row.verifyIdentity === undefined) continue;
    const path = row.verifyKey === undefined ? undefined : resolve(baseDir, row.verifyKey);
    let pem: string | undefined;
    if (path !== undefined) {
      let pending = keys.get(path);
      if (!pending) {
        pending = readUserFile(path, { what: `the public key (${row.where})`, maxSize }).then((b) =>
          b.toString('utf8'),
        );
        keys.set(path, pending);
      }
      pem = await pending;
    }
    policies.set(
      row,
      resolveVerifyPolicy({
        keys:
          pem === undefined || row.verifyKey === undefined ? [] : [{ name: row.verifyKey, pem }],
        identities:
          row.verifyIdentity === undefined
            ? []
            : [{ subject: row.verifyIdentity, issuer: row.verifyIssuer ?? '' }],
        ...(trustedRoot === undefined ? {} : { trustedRoot }),
        // A key-signed legacy signature has no transparency-log entry to require.
        ignoreTlog: row.verifyIdentity === undefined,
      }),
    );
  }
  return policies;
}

function isSignatureTag(tag: string): boolean {
  return tag.startsWith('sha256-') && tag.endsWith('.sig');
}

/**
 * Lists each repository once. With many repositories on a registry, the catalog is read first and
 * a repository it does not name is known empty without a request. Digests are looked up only when
 * signing, only for wanted tags that exist, and only where the repository holds signatures at all.
 */
async function targetStates(
  session: Session,
  target: Target,
  wanted: ReadonlyMap<string, ReadonlySet<string>>,
  options: { signing: boolean; concurrency: number; signal: AbortSignal | undefined },
): Promise<{ states: Map<string, TargetState>; failures: Map<string, ItemError> }> {
  const states = new Map<string, TargetState>();
  const failures = new Map<string, ItemError>();
  const existing = await catalogued(session, target, wanted.size);
  // Listings are small reads, bound by the registry's per-request cost: twice the transfers.
  await mapLimit([...wanted], options.concurrency * 2, async ([repository, tags]) => {
    if (options.signal?.aborted) return;
    try {
      if (existing !== undefined && !existing.has(repository)) {
        states.set(repository, { tags: new Set(), digests: new Map() });
        return;
      }
      const open = target.open(repository);
      const listed = new Set(await open.listTags());
      const digests = new Map<string, Digest>();
      if (options.signing && [...listed].some(isSignatureTag)) {
        await mapLimit(
          [...tags].filter((t) => listed.has(t)),
          options.concurrency,
          async (tag) => {
            const descriptor = await open.resolve(tag);
            if (descriptor) digests.set(tag, descriptor.digest);
          },
        );
      }
      states.set(repository, { tags: listed, digests });
    } catch (error) {
      failures.set(repository, itemError(error));
    }
  });
  return { states, failures };
}

/**
 * The repositories below the target prefix, from the registry's catalog, or undefined when the
 * catalog is not worth it (few repositories, a layout) or not available (many registries
 * restrict it: then each repository is listed).
 */
async function catalogued(
  session: Session,
  target: Target,
  repositories: number,
): Promise<Set<string> | undefined> {
  const reference = target.reference;
  if (reference.kind !== 'registry' || repositories < CATALOG_FROM) return undefined;
  const prefix = `${reference.repository}/`;
  try {
    const names = await session.client.catalog(reference.registry, {
      maxPages: Math.max(1, Math.ceil(repositories * CATALOG_PAGES_PER_REPOSITORY)),
    });
    return new Set(names.filter((n) => n.startsWith(prefix)).map((n) => n.slice(prefix.length)));
  } catch {
    return undefined;
  }
}

/** A repository that refuses to write a tag once the signal has fired (blobs may still land). */
function abortBeforeTag(inner: Repository, signal: AbortSignal | undefined): Repository {
  if (!signal) return inner;
  return withWrites(inner, {
    pushBlob: (descriptor, source, blobOptions) => {
      throwIfAborted(signal);
      return inner.pushBlob(descriptor, source, blobOptions);
    },
    pushManifest: (bytes, mediaType, tag) => {
      throwIfAborted(signal);
      return inner.pushManifest(bytes, mediaType, tag);
    },
    deleteManifest: (digest) => inner.deleteManifest(digest),
  });
}

interface OpContext {
  readonly target: Target;
  readonly context: UpstreamContext;
  readonly policies: ReadonlyMap<InventoryRow, VerifyPolicy>;
  readonly states: ReadonlyMap<string, TargetState>;
  readonly signer: Signer | undefined;
  readonly signal: AbortSignal | undefined;
}

async function runOp(op: MirrorOp, c: OpContext): Promise<Omit<MirrorItem, 'durationMs'>> {
  const { row, version } = op;
  const repository = c.target.open(op.repository);
  const fields = opFields(op, c.target);
  let digest: Digest | undefined = op.digest;
  let bytes = 0;
  let sourceDigest = fields.sourceDigest;
  try {
    if (op.action === 'mirror') {
      throwIfAborted(c.signal);
      const policy = c.policies.get(row);
      if (policy) {
        const location = version.location;
        await verifyArtifact(
          c.context.openOCI(location.slice(0, location.lastIndexOf(':'))),
          location.slice(location.lastIndexOf(':') + 1),
          policy,
          c.signal ? { signal: c.signal } : {},
        );
      }
      let tgz = await fetchChart(row, version, c.context);
      sourceDigest = sha256(tgz);
      if (row.tests)
        tgz = await injectTests(tgz, resolve(c.context.baseDir, row.tests), version.location);
      const created = version.created ?? '1970-01-01T00:00:00Z';
      const guarded = abortBeforeTag(repository, c.signal);
      if (row.type === 'crds') {
        const layer = packLayer(chartCRDEntries(readChartArchive(tgz, version.location)));
        const pushed = await pushFluxArtifact(guarded, layer, {
          tag: op.tag,
          meta: { source: row.source, revision: `${version.version}@${sourceDigest}`, created },
        });
        digest = pushed.digest;
        bytes = layer.tgz.length;
      } else {
        digest = (await pushChartArchive(guarded, tgz, { created, where: version.location }))
          .digest;
        bytes = tgz.length;
      }
    }
  } catch (error) {
    // Dropped before its tag was written: not a failure of this version, and nothing to undo.
    if (error instanceof AirlockError && error.code === 'ABORTED')
      return { ...fields, outcome: 'skipped', reason: REASON.aborted, bytes: 0 };
    throw error;
  }
  const pushedFields = {
    ...fields,
    ...(digest ? { digest } : {}),
    ...(sourceDigest ? { sourceDigest } : {}),
  };
  if (!c.signer) return { ...pushedFields, outcome: 'done', signed: false, bytes };
  // The signature comes after the tag it covers. A version just tagged is signed even after an
  // abort, so its record is complete; a sign-only item may still be dropped.
  const listed = c.states.get(op.repository)?.tags;
  const signed = await signLegacy(repository, op.tag, c.signer, {
    ...(digest ? { knownDigest: digest } : {}),
    // The tags were listed a moment ago: a digest with no .sig tag among them has no signatures.
    ...(digest && listed && !listed.has(signatureTag(digest)) ? { knownUnsigned: true } : {}),
    ...(op.action === 'sign' && c.signal ? { signal: c.signal } : {}),
  }).catch((error: unknown) => {
    if (op.action === 'sign' && error instanceof AirlockError && error.code === 'ABORTED')
      return undefined;
    throw error;
  });
  if (signed === undefined)
    return { ...pushedFields, outcome: 'skipped', reason: REASON.aborted, bytes };
  return {
    ...pushedFields,
    digest: signed.digest,
    outcome: 'done',
    signature: signed.signatureTag,
    signed: true,
    bytes,
  };
}
