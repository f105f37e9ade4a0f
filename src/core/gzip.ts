import { gunzipSync, gzipSync, constants } from 'node:zlib';
import { AirlockError } from '../errors.ts';

/**
 * Deterministic gzip: level 6 (Go's default), header MTIME 0, XFL 0 and OS 255 as Go's
 * compress/gzip writes it (shared/reference/flux-oci.md §1.4). The deflate stream comes from zlib,
 * not Go's compress/flate, so compressed bytes differ from Flux's; the tar inside is identical.
 */
export function gzipDeterministic(data: Uint8Array): Buffer {
  const out = gzipSync(data, { level: 6 });
  out[4] = 0;
  out[5] = 0;
  out[6] = 0;
  out[7] = 0;
  out[8] = 0;
  out[9] = 0xff;
  return out;
}

export function isGzip(data: Uint8Array): boolean {
  return data[0] === 0x1f && data[1] === 0x8b;
}

/** Decompresses with an output limit: a gzip bomb fails instead of filling memory. */
export function gunzipLimited(data: Uint8Array, maxOutput: number, where: string): Buffer {
  try {
    return gunzipSync(data, { maxOutputLength: maxOutput });
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (
      code === 'ERR_BUFFER_TOO_LARGE' ||
      (error as Error).message.includes('Cannot create a Buffer larger')
    ) {
      throw new AirlockError(
        'MANIFEST_INVALID',
        `${where}: decompresses to more than ${maxOutput} bytes`,
        {
          details: [
            'Refused as a possible decompression bomb; raise the size limit if the content is trusted and really that large.',
          ],
          data: { option: 'maxSize', limit: maxOutput },
        },
      );
    }
    if (code === 'Z_DATA_ERROR' || code === 'Z_BUF_ERROR') {
      throw new AirlockError(
        'MANIFEST_INVALID',
        `${where}: not valid gzip data (${(error as Error).message})`,
      );
    }
    throw error;
  }
}

export { constants as zlibConstants };
