import type { Readable } from 'node:stream';
import { AirlockError } from '../errors.ts';

export interface ReadAllOptions {
  /**
   * The length the sender declared (Content-Length): the bytes go straight into one buffer of that
   * size instead of a chunk list plus its concatenation, and a body longer or shorter than it
   * declared is refused.
   */
  readonly declared?: number;
  /** What is read, for messages. */
  readonly what?: string;
  /** The error for more than `limit` bytes (default MANIFEST_INVALID). */
  readonly tooLarge?: (limit: number) => AirlockError;
  /** Maps a stream that broke mid-read (reset, truncation) to an error; default: rethrown. */
  readonly broken?: (error: Error) => AirlockError;
}

/**
 * Reads a whole stream into memory, refusing more than `limit` bytes: the one bounded reader
 * behind registry bodies (readBody), upstream charts and indexes, and blobs read whole.
 */
export async function readAll(
  stream: Readable,
  limit = 512 * 1024 * 1024,
  options: ReadAllOptions = {},
): Promise<Buffer> {
  const what = options.what ?? 'content';
  const tooLarge =
    options.tooLarge ??
    ((max: number) => new AirlockError('MANIFEST_INVALID', `${what} is larger than ${max} bytes`));
  const declared = options.declared;
  const into =
    declared !== undefined && Number.isInteger(declared) && declared >= 0 && declared <= limit
      ? Buffer.allocUnsafe(declared)
      : undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      if (size + chunk.length > limit) {
        stream.destroy();
        throw tooLarge(limit);
      }
      if (into) {
        if (size + chunk.length > into.length) {
          stream.destroy();
          throw new AirlockError('MANIFEST_INVALID', `${what}: more bytes than it declared`);
        }
        chunk.copy(into, size);
      } else chunks.push(chunk);
      size += chunk.length;
    }
  } catch (error) {
    if (error instanceof AirlockError || !options.broken) throw error;
    throw options.broken(error as Error);
  }
  if (into && size !== into.length) {
    const short = new Error(`the body ended after ${size} of ${into.length} bytes`);
    throw (
      options.broken?.(short) ?? new AirlockError('MANIFEST_INVALID', `${what}: ${short.message}`)
    );
  }
  return into ?? Buffer.concat(chunks, size);
}

interface Slot {
  readonly buffer: Buffer;
  refs: number;
}

/**
 * Fixed-size buffers that are handed back and reused, so a stream of a gigabyte does not allocate a
 * gigabyte of short-lived buffers. (Node gives every socket read a fresh 64 KiB buffer; V8 frees
 * them only when external memory has grown by ~64 MiB, which is where a streamed copy's peak
 * memory went.) A buffer may be split into several chunks: each chunk holds a reference, and the
 * buffer is reused once every chunk cut from it has been released.
 *
 * Releasing is an optimisation, never a duty: a chunk nobody releases is garbage like any other
 * buffer, and the pool allocates a new one. Releasing too early is the only way to misuse it:
 * release a chunk only when nothing reads it any more (after the write callback of the socket or
 * file it went to).
 */
export class BufferPool {
  readonly size: number;
  readonly #maxFree: number;
  readonly #free: Slot[] = [];
  readonly #slots = new WeakMap<ArrayBufferLike, Slot>();
  /** Buffers allocated so far (benchmarks and tests read it). */
  allocated = 0;

  constructor(size = 64 * 1024, maxFree = 64) {
    this.size = size;
    this.#maxFree = maxFree;
  }

  /** A buffer with one reference, held by the caller until it calls `release` on it. */
  take(): Buffer {
    const slot = this.#free.pop();
    if (slot) {
      slot.refs = 1;
      return slot.buffer;
    }
    // Slow: a buffer of its own, not a slice of Node's shared pool, so its ArrayBuffer is its key.
    const buffer = Buffer.allocUnsafeSlow(this.size);
    this.allocated++;
    this.#slots.set(buffer.buffer, { buffer, refs: 1 });
    return buffer;
  }

  /** One more reference to the pool buffer under `chunk` (a chunk cut from it is handed on). */
  hold(chunk: Uint8Array): void {
    const slot = this.#slots.get(chunk.buffer);
    if (slot) slot.refs++;
  }

  /** Drops one reference to the pool buffer under `chunk`; a no-op for other buffers. */
  release(chunk: Uint8Array): void {
    const slot = this.#slots.get(chunk.buffer);
    if (!slot || slot.refs <= 0) return;
    slot.refs--;
    if (slot.refs === 0 && this.#free.length < this.#maxFree) this.#free.push(slot);
  }

  /** Whether `chunk` lies in a buffer of this pool. */
  owns(chunk: Uint8Array): boolean {
    return this.#slots.has(chunk.buffer);
  }
}

/** The pool large blob transfers read into (registry downloads) and release from (uploads). */
export const blobBuffers = new BufferPool();

/** Releases a chunk of a streamed blob once it has been written; a no-op for ordinary buffers. */
export function releaseChunk(chunk: Uint8Array): void {
  blobBuffers.release(chunk);
}
