// Tar headers written the way Go's archive/tar writes them for Flux (shared/reference/flux-oci.md
// §1.4 and §7.6): USTAR when a name fits (with the prefix split for long ASCII names), a PAX 'x'
// record only when it must, numeric fields as zero-padded octal with a NUL, checksum "dddddd\0 ",
// uid/gid 0, empty user and group names, mtime 0, and two zero blocks at the end without padding
// to a 10 KiB record. Reading accepts USTAR, PAX and GNU long names.
import { AirlockError } from '../errors.ts';

export const BLOCK = 512;
const NAME_SIZE = 100;
const PREFIX_SIZE = 155;

export type TarEntryType = 'file' | 'dir';

export interface TarEntryHeader {
  readonly name: string;
  readonly type: TarEntryType;
  /** Permission bits (plus setuid/setgid/sticky), as on disk. */
  readonly mode: number;
  readonly size: number;
}

function isASCII(s: string): boolean {
  // eslint-disable-next-line no-control-regex
  return /^[\x00-\x7f]*$/.test(s);
}

function toASCII(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[^\x01-\x7f]/gu, '');
}

function writeString(block: Buffer, offset: number, size: number, value: string): void {
  const bytes = Buffer.from(value, 'utf8');
  bytes.copy(block, offset, 0, Math.min(size, bytes.length));
}

function writeOctal(block: Buffer, offset: number, size: number, value: number): void {
  writeString(block, offset, size, value.toString(8).padStart(size - 1, '0'));
}

function finish(block: Buffer): Buffer {
  // magic "ustar\0" and version "00" (USTAR and PAX alike), then the checksum with the field as spaces.
  writeString(block, 257, 6, 'ustar\0');
  writeString(block, 263, 2, '00');
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  writeString(block, 148, 7, sum.toString(8).padStart(6, '0'));
  block[154] = 0;
  block[155] = 0x20;
  return block;
}

/** Go's splitUSTARPath: prefix/suffix split at a "/" for ASCII names longer than 100 bytes. */
export function splitUSTARPath(name: string): [string, string] | undefined {
  let length = Buffer.byteLength(name);
  if (length <= NAME_SIZE || !isASCII(name)) return undefined;
  if (length > PREFIX_SIZE + 1) length = PREFIX_SIZE + 1;
  else if (name[length - 1] === '/') length--;
  const i = name.slice(0, length).lastIndexOf('/');
  const suffixLength = name.length - i - 1;
  if (i <= 0 || suffixLength > NAME_SIZE || suffixLength === 0 || i > PREFIX_SIZE) return undefined;
  return [name.slice(0, i), name.slice(i + 1)];
}

/** A PAX record "<len> key=value\n", where len counts the whole record (Go formatPAXRecord). */
export function paxRecord(key: string, value: string): string {
  const base = Buffer.byteLength(key) + Buffer.byteLength(value) + 3;
  let size = base + String(base).length;
  let record = `${size} ${key}=${value}\n`;
  if (Buffer.byteLength(record) !== size) {
    size = Buffer.byteLength(record);
    record = `${size} ${key}=${value}\n`;
  }
  return record;
}

function pad(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

/** Header block(s) for one entry: a PAX 'x' header first when the name needs it. */
export function tarHeader(entry: TarEntryHeader): Buffer {
  const blocks: Buffer[] = [];
  let name = entry.name;
  let prefix = '';
  const needsPAX = Buffer.byteLength(name) > NAME_SIZE || !isASCII(name);
  const split = needsPAX ? splitUSTARPath(name) : undefined;
  if (needsPAX && split) {
    [prefix, name] = split;
  } else if (needsPAX) {
    const data = Buffer.from(paxRecord('path', entry.name), 'utf8');
    const slash = entry.name.lastIndexOf('/');
    const dir = slash >= 0 ? entry.name.slice(0, slash) : '';
    const file = slash >= 0 ? entry.name.slice(slash + 1) : entry.name;
    let paxName = toASCII(dir === '' ? `PaxHeaders.0/${file}` : `${dir}/PaxHeaders.0/${file}`);
    paxName = paxName.slice(0, NAME_SIZE).replace(/\/+$/, '');
    const x = Buffer.alloc(BLOCK);
    writeString(x, 0, NAME_SIZE, paxName);
    writeOctal(x, 100, 8, 0);
    writeOctal(x, 108, 8, 0);
    writeOctal(x, 116, 8, 0);
    writeOctal(x, 124, 12, data.length);
    writeOctal(x, 136, 12, 0);
    x[156] = 'x'.charCodeAt(0);
    blocks.push(finish(x), data, Buffer.alloc(pad(data.length)));
    name = toASCII(entry.name);
  }
  const block = Buffer.alloc(BLOCK);
  writeString(block, 0, NAME_SIZE, name);
  writeOctal(block, 100, 8, entry.mode);
  writeOctal(block, 108, 8, 0);
  writeOctal(block, 116, 8, 0);
  writeOctal(block, 124, 12, entry.type === 'dir' ? 0 : entry.size);
  writeOctal(block, 136, 12, 0);
  block[156] = (entry.type === 'dir' ? '5' : '0').charCodeAt(0);
  writeOctal(block, 329, 8, 0);
  writeOctal(block, 337, 8, 0);
  writeString(block, 345, PREFIX_SIZE, prefix);
  blocks.push(finish(block));
  return Buffer.concat(blocks);
}

/** Zero padding after `size` bytes of file data. */
export function tarPadding(size: number): Buffer {
  return Buffer.alloc(pad(size));
}

/** The end of an archive: two zero blocks. */
export const TAR_TRAILER = Buffer.alloc(BLOCK * 2);

export type TarReadType =
  'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo' | 'pax-global' | 'other';

export interface TarReadEntry {
  readonly name: string;
  readonly type: TarReadType;
  readonly typeflag: string;
  readonly mode: number;
  readonly size: number;
  readonly linkname: string;
  readonly data: Buffer;
}

function readString(block: Buffer, offset: number, size: number): string {
  const slice = block.subarray(offset, offset + size);
  const end = slice.indexOf(0);
  return slice.subarray(0, end < 0 ? size : end).toString('utf8');
}

function readOctal(block: Buffer, offset: number, size: number, where: string): number {
  const field = block.subarray(offset, offset + size);
  if ((field[0] ?? 0) & 0x80) {
    // GNU base-256 encoding for large values.
    let value = 0;
    for (let i = 1; i < field.length; i++) value = value * 256 + (field[i] ?? 0);
    return value;
  }
  const text = readString(block, offset, size).trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text))
    throw new AirlockError('MANIFEST_INVALID', `${where}: corrupt tar header field "${text}"`);
  return parseInt(text, 8);
}

function parsePAX(data: Buffer): Record<string, string> {
  const records: Record<string, string> = {};
  let offset = 0;
  while (offset < data.length) {
    const space = data.indexOf(0x20, offset);
    if (space < 0) break;
    const length = Number(data.subarray(offset, space).toString('ascii'));
    if (!Number.isInteger(length) || length <= 0) break;
    const record = data.subarray(space + 1, offset + length - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (eq > 0) records[record.slice(0, eq)] = record.slice(eq + 1);
    offset += length;
  }
  return records;
}

const TYPES: Record<string, TarReadType> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file',
  '5': 'dir',
  '2': 'symlink',
  '1': 'hardlink',
  '3': 'char',
  '4': 'block',
  '6': 'fifo',
  g: 'pax-global',
};

/**
 * Reads a whole (decompressed) tar archive into entries. `maxSize` bounds the data kept, so a
 * hostile archive cannot exhaust memory.
 */
export function readTar(
  archive: Buffer,
  where: string,
  maxSize = 256 * 1024 * 1024,
): TarReadEntry[] {
  const entries: TarReadEntry[] = [];
  let offset = 0;
  let pax: Record<string, string> = {};
  let longName: string | undefined;
  let total = 0;
  while (offset + BLOCK <= archive.length) {
    const block = archive.subarray(offset, offset + BLOCK);
    if (block.every((b) => b === 0)) break;
    let stored = 0;
    for (let i = 0; i < BLOCK; i++) stored += i >= 148 && i < 156 ? 0x20 : (block[i] ?? 0);
    const checksum = readOctal(block, 148, 8, where);
    if (checksum !== stored)
      throw new AirlockError(
        'MANIFEST_INVALID',
        `${where}: tar header checksum mismatch at offset ${offset}`,
      );
    const typeflag = String.fromCharCode(block[156] ?? 0);
    const size = readOctal(block, 124, 12, where);
    const dataStart = offset + BLOCK;
    if (dataStart + size > archive.length)
      throw new AirlockError(
        'MANIFEST_INVALID',
        `${where}: tar entry at offset ${offset} is truncated`,
      );
    const data = archive.subarray(dataStart, dataStart + size);
    offset = dataStart + size + pad(size);
    if (typeflag === 'x') {
      pax = parsePAX(data);
      continue;
    }
    if (typeflag === 'L') {
      longName = data.toString('utf8').replace(/\0+$/, '');
      continue;
    }
    const prefix = readString(block, 345, PREFIX_SIZE);
    const baseName = readString(block, 0, NAME_SIZE);
    const name = pax.path ?? longName ?? (prefix ? `${prefix}/${baseName}` : baseName);
    const realSize = pax.size !== undefined ? Number(pax.size) : size;
    total += realSize;
    if (total > maxSize)
      throw new AirlockError(
        'MANIFEST_INVALID',
        `${where}: archive holds more than ${maxSize} bytes`,
        { details: ['Refused to protect memory and disk (decompression bomb?).'] },
      );
    entries.push({
      name,
      type: TYPES[typeflag] ?? 'other',
      typeflag,
      mode: readOctal(block, 100, 8, where) & 0o7777,
      size: realSize,
      linkname: pax.linkpath ?? readString(block, 157, NAME_SIZE),
      data,
    });
    pax = {};
    longName = undefined;
  }
  return entries;
}
