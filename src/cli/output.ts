import type { Writable } from 'node:stream';
import type { AirlockError } from '../errors.ts';
import { escapeControl } from '../core/index.ts';
import { flagHint } from './flags.ts';

export interface Streams {
  readonly stdout: Writable;
  readonly stderr: Writable & { isTTY?: boolean; columns?: number };
}

/**
 * All printing goes through here: results on stdout (human text, or one JSON document with
 * --json), progress on stderr only when it is a terminal, diagnostics on stderr.
 */
export class Output {
  readonly json: boolean;
  readonly verbose: boolean;
  readonly #streams: Streams;
  readonly #progressEnabled: boolean;
  #progressShown = false;

  constructor(streams: Streams, options: { json: boolean; verbose: boolean }) {
    this.#streams = streams;
    this.json = options.json;
    this.verbose = options.verbose;
    this.#progressEnabled = streams.stderr.isTTY === true;
  }

  /**
   * Prints the command's result: `human` lines, or `data` as JSON. Both go out in pieces of
   * OUTPUT_CHUNK lines or items, so a 60,000-item report never exists as one giant string (it
   * doubled a 10,000-row plan's peak memory); the bytes are those of one JSON.stringify(data, null, 2).
   */
  result(human: string | readonly string[], data: unknown): void {
    this.clearProgress();
    const out = this.#streams.stdout;
    if (this.json) {
      for (const piece of jsonPieces(data)) out.write(piece);
      out.write('\n');
      return;
    }
    const lines = typeof human === 'string' ? [human] : human;
    for (let i = 0; i < lines.length; i += OUTPUT_CHUNK)
      out.write(`${lines.slice(i, i + OUTPUT_CHUNK).join('\n')}\n`);
  }

  /** One line on stderr; control characters are escaped here, whoever built the line. */
  info(line: string): void {
    this.clearProgress();
    this.#streams.stderr.write(`${escapeControl(line)}\n`);
  }

  debug(line: string): void {
    if (this.verbose) this.info(line);
  }

  progress(line: string): void {
    if (!this.#progressEnabled) return;
    const width = this.#streams.stderr.columns ?? 100;
    this.#streams.stderr.write(`\r\x1b[2K${escapeControl(line).slice(0, width - 1)}`);
    this.#progressShown = true;
  }

  clearProgress(): void {
    if (!this.#progressShown) return;
    this.#streams.stderr.write('\r\x1b[2K');
    this.#progressShown = false;
  }

  /** Reports one failed item of a batch on stderr (the batch's JSON result carries it too). */
  failure(what: string, error: AirlockError, exitCode: number): void {
    this.clearProgress();
    this.#streams.stderr.write(`${this.#describe(error, exitCode, `${what}: `).join('\n')}\n`);
  }

  #describe(error: AirlockError, exitCode: number, prefix = ''): string[] {
    // Messages may quote remote text (registry error bodies, chart names): escaped, so nothing
    // upstream can forge a log line or drive the terminal.
    const lines = [
      `airlock: ${escapeControl(`${prefix}${error.message}`)}`,
      ...error.details.map((d) => `  ${escapeControl(d)}`),
      ...flagHint(error).map((h) => `  ${h}`),
      `  (error code ${error.code}, exit ${exitCode})`,
    ];
    if (error.code === 'INTERNAL')
      lines.push('  This is a bug in airlock: please report it with the command you ran.');
    return lines;
  }

  error(error: AirlockError, exitCode: number): void {
    this.clearProgress();
    if (this.json) {
      this.#streams.stdout.write(
        `${JSON.stringify({ error: { code: error.code, message: error.message, details: error.details, exitCode } }, null, 2)}\n`,
      );
    }
    const lines = this.#describe(error, exitCode);
    this.#streams.stderr.write(`${lines.join('\n')}\n`);
  }
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit] ?? 'TiB'}`;
}

const OUTPUT_CHUNK = 500;

/**
 * JSON.stringify(data, null, 2), in pieces: an object whose `items` array is long is written item
 * by item (each indented as it would be inside the whole document), everything else at once.
 */
export function* jsonPieces(data: unknown): Generator<string> {
  const items =
    typeof data === 'object' && data !== null && !Array.isArray(data)
      ? (data as Record<string, unknown>).items
      : undefined;
  if (!Array.isArray(items) || items.length <= OUTPUT_CHUNK) {
    yield JSON.stringify(data, null, 2);
    return;
  }
  const entries = Object.entries(data as Record<string, unknown>).filter(
    ([, value]) => value !== undefined && typeof value !== 'function',
  );
  yield '{';
  let first = true;
  for (const [key, value] of entries) {
    const head = `${first ? '' : ','}\n  ${JSON.stringify(key)}: `;
    first = false;
    if (key !== 'items') {
      yield `${head}${indent(JSON.stringify(value, null, 2))}`;
      continue;
    }
    yield `${head}[`;
    for (let i = 0; i < items.length; i += OUTPUT_CHUNK) {
      yield items
        .slice(i, i + OUTPUT_CHUNK)
        .map(
          (item, j) => `${i + j === 0 ? '' : ','}\n    ${indent(JSON.stringify(item, null, 2), 2)}`,
        )
        .join('');
    }
    yield '\n  ]';
  }
  yield '\n}';
}

function indent(json: string, levels = 1): string {
  return json.replaceAll('\n', `\n${'  '.repeat(levels)}`);
}
