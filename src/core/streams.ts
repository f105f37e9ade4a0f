import type { Readable } from 'node:stream';
import { AirlockError } from '../errors.ts';

/** Reads a whole stream into memory, refusing more than `limit` bytes. */
export async function readAll(stream: Readable, limit = 512 * 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      stream.destroy();
      throw new AirlockError('MANIFEST_INVALID', `content larger than ${limit} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
