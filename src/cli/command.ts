import type { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { AirlockError } from '../errors.ts';
import { readUserFile } from '../core/index.ts';
import { openSession, type Session, type SessionOptions } from '../session/index.ts';
import type { Output } from './output.ts';
import { closest } from './suggest.ts';

export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly multiple?: boolean;
  readonly short?: string;
  readonly description: string;
  /** Placeholder for the value in --help. */
  readonly value?: string;
  /** Read from AIRLOCK_<NAME> when the flag is not given (comma-separated for multiple). */
  readonly env?: boolean;
}

export interface CommandSpec {
  readonly name: string;
  readonly usage: string;
  readonly description?: string;
  readonly examples: readonly string[];
  readonly options: Readonly<Record<string, OptionSpec>>;
  /** Whether the registry options (--insecure-registry, --ca-file, credentials) apply. */
  readonly registry: boolean;
  readonly run: (context: CommandContext) => Promise<number>;
}

export type OptionValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

export interface CommandContext {
  readonly values: OptionValues;
  readonly positionals: readonly string[];
  readonly out: Output;
  readonly env: NodeJS.ProcessEnv;
  readonly stdin: Readable;
  /** Fires on Ctrl-C (SIGINT/SIGTERM): pass it to the library call, which stops cleanly. */
  readonly signal: AbortSignal;
  /** Builds the shared registry session from the global flags (lazily, once). */
  session(): Promise<Session>;
}

export const GLOBAL_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  json: { type: 'boolean', description: 'Print the result as JSON on stdout.' },
  verbose: { type: 'boolean', short: 'v', description: 'Print more detail on stderr.' },
  help: { type: 'boolean', short: 'h', description: 'Show help for the command.' },
};

export const REGISTRY_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  'insecure-registry': {
    type: 'string',
    multiple: true,
    value: 'HOST',
    env: true,
    description: 'Speak plain HTTP to HOST[:PORT] (loopback too: nothing is downgraded silently).',
  },
  'ca-file': {
    type: 'string',
    multiple: true,
    value: 'FILE',
    env: true,
    description: 'Trust this PEM CA bundle in addition to the system CAs.',
  },
  username: {
    type: 'string',
    value: 'USER',
    env: true,
    description: 'Registry user name (with --password-stdin); else docker config.json is used.',
  },
  'password-stdin': {
    type: 'boolean',
    description: 'Read the registry password from standard input.',
  },
  concurrency: {
    type: 'string',
    value: 'N',
    env: true,
    description: 'Transfers in flight at once (default 8).',
  },
};

export function envName(option: string): string {
  return `AIRLOCK_${option.toUpperCase().replaceAll('-', '_')}`;
}

/** Parses argv for one command, filling unset flags from AIRLOCK_* environment variables. */
export function parseCommandArgs(
  spec: CommandSpec,
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): { values: OptionValues; positionals: string[] } {
  const all = allOptions(spec);
  checkFlagNames(spec, all, argv);
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: Object.fromEntries(
        Object.entries(all).map(([name, o]) => [
          name,
          {
            type: o.type,
            ...(o.multiple ? { multiple: true } : {}),
            ...(o.short ? { short: o.short } : {}),
          },
        ]),
      ),
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    // parseArgs explains itself over several lines: the first is the message, the rest details.
    const [message = 'invalid flags', ...more] = (error as Error).message.split('\n');
    throw new AirlockError('USAGE', message, {
      details: [...more, `Run "airlock ${spec.name} --help" for usage.`],
    });
  }
  const values: OptionValues = { ...parsed.values };
  for (const [name, option] of Object.entries(all)) {
    if (!option.env || values[name] !== undefined) continue;
    const fromEnv = env[envName(name)];
    if (fromEnv === undefined || fromEnv === '') continue;
    if (option.type === 'boolean') values[name] = fromEnv === '1' || fromEnv === 'true';
    else
      values[name] = option.multiple
        ? fromEnv
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean)
        : fromEnv;
  }
  return { values, positionals: parsed.positionals };
}

/**
 * Refuses unknown flags before parseArgs does, naming the closest valid one
 * (`--insecure-regsitry` → `did you mean --insecure-registry?`).
 */
function checkFlagNames(
  spec: CommandSpec,
  all: Readonly<Record<string, OptionSpec>>,
  argv: readonly string[],
): void {
  const names = Object.keys(all);
  const byShort = new Map(
    Object.values(all).flatMap((o) => (o.short ? [[o.short, o] as const] : [])),
  );
  let valueNext = false;
  for (const arg of argv) {
    // The argument after a string flag given without `=` is its value, whatever it looks like.
    if (valueNext) {
      valueNext = false;
      continue;
    }
    if (arg === '--') break;
    let unknown: string | undefined;
    let guess: string | undefined;
    if (arg.startsWith('--')) {
      const name = arg.slice(2).split('=')[0] ?? '';
      const option = all[name];
      if (option) valueNext = option.type === 'string' && !arg.includes('=');
      else {
        unknown = `--${name}`;
        const near = closest(name, names);
        guess = near === undefined ? undefined : `--${near}`;
      }
    } else if (/^-[^-]/.test(arg)) {
      const letter = arg[1] ?? '';
      const option = byShort.get(letter);
      if (option) valueNext = option.type === 'string' && arg.length === 2;
      else {
        unknown = `-${letter}`;
        const near = closest(arg.slice(1), names);
        guess = near === undefined ? undefined : `--${near}`;
      }
    }
    if (unknown !== undefined) {
      throw new AirlockError('USAGE', `unknown flag ${unknown} for "airlock ${spec.name}"`, {
        details: [
          ...(guess === undefined ? [] : [`Did you mean ${guess}?`]),
          `Run "airlock ${spec.name} --help" for its flags.`,
        ],
      });
    }
  }
}

export function allOptions(spec: CommandSpec): Record<string, OptionSpec> {
  return { ...spec.options, ...(spec.registry ? REGISTRY_OPTIONS : {}), ...GLOBAL_OPTIONS };
}

export function stringOption(values: OptionValues, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

export function stringList(values: OptionValues, name: string): string[] {
  const value = values[name];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return typeof value === 'string' ? [value] : [];
}

export function concurrencyOption(values: OptionValues): number | undefined {
  const raw = stringOption(values, 'concurrency');
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 256) {
    throw new AirlockError(
      'USAGE',
      `--concurrency must be a whole number from 1 to 256, got "${raw}"`,
    );
  }
  return n;
}

export async function readStdin(stdin: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin as AsyncIterable<Buffer | string>)
    chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf8');
}

/** Reads the password from stdin once (docker login --password-stdin trims one trailing newline). */
export async function passwordFromStdin(stdin: Readable): Promise<string> {
  const text = (await readStdin(stdin)).replace(/\r?\n$/, '');
  if (text === '')
    throw new AirlockError('USAGE', '--password-stdin was given but standard input is empty');
  return text;
}

/** Reads the files named by --ca-file (the session takes PEM text, not paths). */
export async function caCertificatesFrom(values: OptionValues): Promise<string[]> {
  return Promise.all(
    stringList(values, 'ca-file').map(async (file) =>
      (await readUserFile(file, { what: 'the CA bundle (--ca-file)' })).toString('utf8'),
    ),
  );
}

/** The global registry flags as session options: one mapping, shared by every command. */
export async function sessionOptionsFrom(
  values: OptionValues,
  env: NodeJS.ProcessEnv,
  stdin: Readable,
): Promise<SessionOptions> {
  const username = stringOption(values, 'username');
  let credentials: SessionOptions['credentials'];
  if (values['password-stdin'] === true || username !== undefined) {
    if (username === undefined || values['password-stdin'] !== true) {
      throw new AirlockError('USAGE', '--username and --password-stdin go together');
    }
    credentials = { username, password: await passwordFromStdin(stdin) };
  }
  const concurrency = concurrencyOption(values);
  return {
    insecureRegistries: stringList(values, 'insecure-registry'),
    caCertificates: await caCertificatesFrom(values),
    env,
    ...(credentials ? { credentials } : {}),
    ...(concurrency === undefined ? {} : { concurrency }),
  };
}

export async function buildSession(
  values: OptionValues,
  env: NodeJS.ProcessEnv,
  stdin: Readable,
): Promise<Session> {
  return openSession(await sessionOptionsFrom(values, env, stdin));
}

/** A command's --help: its summary (from the command table), usage, flags and examples. */
export function commandHelp(summary: string, spec: CommandSpec): string {
  const options = allOptions(spec);
  const rows = Object.entries(options).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : '    '}--${name}${o.value ? ` ${o.value}` : ''}`;
    const env = o.env ? ` [${envName(name)}]` : '';
    return { flag, text: `${o.description}${o.multiple ? ' (repeatable)' : ''}${env}` };
  });
  const width = Math.max(...rows.map((r) => r.flag.length));
  return [
    summary,
    '',
    `Usage: ${spec.usage}`,
    ...(spec.description ? ['', spec.description] : []),
    '',
    'Flags:',
    ...rows.map((r) => `  ${r.flag.padEnd(width)}  ${r.text}`),
    '',
    'Examples:',
    ...spec.examples.map((e) => `  ${e}`),
  ].join('\n');
}
