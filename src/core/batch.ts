// One report shape for every batch command (copy, mirror, sign, verify, chart push, artifact push):
// docs/json.md documents it and holds its JSON Schema. The runner shares one concurrency budget,
// stops on an AbortSignal, and turns every failure into that item's own record.
import { AirlockError, type ErrorCode, toAirlockError } from '../errors.ts';

/**
 * What happened to one item:
 * - `done`: the work was carried out (copied, mirrored, signed, verified, pushed);
 * - `present`: nothing to do, the result was already there;
 * - `failed`: it was tried and failed (see `error`);
 * - `skipped`: it was not tried (see `reason`: aborted, fail-fast, planned only, …).
 */
export type Outcome = 'done' | 'present' | 'failed' | 'skipped';

export interface ItemError {
  readonly code: ErrorCode;
  readonly message: string;
  readonly details: readonly string[];
  /** The error's machine-readable facts (`option` lets the CLI name the flag), when it has any. */
  readonly data?: Readonly<Record<string, unknown>>;
}

/** The fields every batch item has; commands add their own beside them (mirror: row, chart, …). */
export interface BatchItem {
  /** What the item is about: the destination reference, or the artifact that was checked. */
  readonly reference: string;
  /** The digest the item resolved to or produced, when known. */
  readonly digest?: string;
  readonly outcome: Outcome;
  /** Why it is present or skipped, in a few words. */
  readonly reason?: string;
  readonly error?: ItemError;
  /** Bytes moved (uploaded or written) for this item. */
  readonly bytes: number;
  readonly durationMs: number;
}

export interface BatchSummary {
  readonly total: number;
  readonly done: number;
  readonly present: number;
  readonly failed: number;
  readonly skipped: number;
  readonly bytes: number;
  readonly durationMs: number;
}

export interface BatchReport<Item extends BatchItem = BatchItem> {
  /** The command or library function that produced it: "copy", "mirror", "sign", … */
  readonly operation: string;
  readonly items: readonly Item[];
  readonly summary: BatchSummary;
}

/** What a batch function returns for one item; the runner adds the timing. */
export type ItemResult<Item extends BatchItem> = Omit<Item, 'durationMs'> & { durationMs?: number };

export interface BatchEvent<Item extends BatchItem> {
  readonly type: 'item';
  readonly item: Item;
  /** Items finished so far, and in all. */
  readonly done: number;
  readonly total: number;
}

export interface BatchOptions<Item extends BatchItem> {
  /** Items in flight at once (default 8). */
  readonly concurrency?: number;
  /** Stops the batch: items not started are `skipped` ("aborted"); running ones get the signal. */
  readonly signal?: AbortSignal;
  /** Stop starting new items after the first failure; the rest are `skipped` ("fail-fast"). */
  readonly failFast?: boolean;
  readonly onEvent?: (event: BatchEvent<Item>) => void;
}

export function itemError(caught: unknown): ItemError {
  const error = toAirlockError(caught);
  return {
    code: error.code,
    message: error.message,
    details: error.details,
    ...(Object.keys(error.data).length > 0 ? { data: error.data } : {}),
  };
}

export function summarise(items: readonly BatchItem[], durationMs: number): BatchSummary {
  const count = (outcome: Outcome): number => items.filter((i) => i.outcome === outcome).length;
  return {
    total: items.length,
    done: count('done'),
    present: count('present'),
    failed: count('failed'),
    skipped: count('skipped'),
    bytes: items.reduce((sum, i) => sum + i.bytes, 0),
    durationMs,
  };
}

export function abortedError(signal: AbortSignal | undefined): AirlockError {
  const reason: unknown = signal?.reason;
  return new AirlockError(
    'ABORTED',
    reason instanceof Error && reason.name !== 'AbortError' ? reason.message : 'stopped',
    { cause: reason },
  );
}

/** Throws ABORTED when the signal has fired: call it between the steps of one item. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortedError(signal);
}

/**
 * Runs `work` over `inputs`, `concurrency` at a time, and returns one report in input order. A
 * thrown error becomes that item's `failed` record (`describe` gives the fields that name the item,
 * for failed and skipped items alike); nothing else stops.
 */
export async function runBatch<Input, Item extends BatchItem>(
  operation: string,
  inputs: readonly Input[],
  work: (input: Input, signal: AbortSignal | undefined) => Promise<ItemResult<Item>>,
  describe: (input: Input) => Omit<Item, 'durationMs' | 'bytes' | 'outcome'>,
  options: BatchOptions<Item> = {},
): Promise<BatchReport<Item>> {
  const started = Date.now();
  const items = new Array<Item>(inputs.length);
  const concurrency = options.concurrency ?? 8;
  // Zero or NaN workers would report an empty success: refuse instead.
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new AirlockError(
      'INPUT_INVALID',
      `concurrency must be a positive whole number, got ${String(concurrency)}`,
      { data: { option: 'concurrency' } },
    );
  let next = 0;
  let finished = 0;
  let stopReason: string | undefined;
  const record = (index: number, item: Item): void => {
    items[index] = item;
    finished++;
    options.onEvent?.({ type: 'item', item, done: finished, total: inputs.length });
  };
  const worker = async (): Promise<void> => {
    while (next < inputs.length) {
      const index = next++;
      const input = inputs[index] as Input;
      if (options.signal?.aborted) stopReason ??= 'aborted';
      if (stopReason !== undefined) {
        record(index, {
          ...describe(input),
          outcome: 'skipped',
          reason: stopReason,
          bytes: 0,
          durationMs: 0,
        } as unknown as Item);
        continue;
      }
      const t = Date.now();
      try {
        const result = await work(input, options.signal);
        record(index, { ...result, durationMs: result.durationMs ?? Date.now() - t } as Item);
      } catch (caught) {
        const error = itemError(caught);
        if (options.failFast) stopReason ??= 'fail-fast';
        if (error.code === 'ABORTED') stopReason ??= 'aborted';
        record(index, {
          ...describe(input),
          outcome: 'failed',
          error,
          bytes: 0,
          durationMs: Date.now() - t,
        } as unknown as Item);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, inputs.length) }, worker));
  return { operation, items, summary: summarise(items, Date.now() - started) };
}

/** Builds a report from items produced elsewhere (mirror merges listing failures with ops). */
export function batchReport<Item extends BatchItem>(
  operation: string,
  items: readonly Item[],
  started: number,
): BatchReport<Item> {
  return { operation, items, summary: summarise(items, Date.now() - started) };
}
