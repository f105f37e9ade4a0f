import type { Readable } from 'node:stream';
import { AirlockError, toAirlockError } from '../errors.ts';
import type { Session } from '../session/index.ts';
import {
  allOptions,
  buildSession,
  type CommandSpec,
  envName,
  parseCommandArgs,
} from './command.ts';
import { artifactCommands } from './commands/artifact.ts';
import { artifactPushCommand } from './commands/artifact-push.ts';
import { chartCommands } from './commands/chart.ts';
import { copyCommand } from './commands/copy.ts';
import { mirrorCommand } from './commands/mirror.ts';
import { keyCommands } from './commands/key.ts';
import { sbomCommand } from './commands/sbom.ts';
import { signCommand } from './commands/sign.ts';
import { verifyCommand } from './commands/verify.ts';
import { loginCommand, logoutCommand } from './commands/login.ts';
import {
  artifactTagCommand,
  gcCommand,
  inspectCommand,
  lsCommand,
  tagCommand,
} from './commands/registry-ops.ts';
import { ExitCode, exitCodeFor } from './exit-codes.ts';
import { Output, type Streams } from './output.ts';
import { closest } from './suggest.ts';

export const VERSION = '0.1.0';

export const COMMANDS: readonly CommandSpec[] = [
  mirrorCommand,
  artifactPushCommand,
  ...artifactCommands,
  artifactTagCommand,
  ...chartCommands,
  ...keyCommands,
  signCommand,
  verifyCommand,
  sbomCommand,
  copyCommand,
  tagCommand,
  lsCommand,
  inspectCommand,
  loginCommand,
  logoutCommand,
  gcCommand,
];

export interface RunEnvironment extends Streams {
  readonly env: NodeJS.ProcessEnv;
  readonly stdin: Readable;
  /** Aborts the running command (the bin wires it to SIGINT and SIGTERM). */
  readonly signal?: AbortSignal;
}

function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'airlock: the supply chain for GitOps in isolated and regulated Kubernetes',
    '',
    'Usage: airlock <command> [flags]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Every command takes --json, --verbose and --help. Exit status: 0 ok, 1 failure,',
    '2 usage or invalid input, 3 verification or policy refused.',
    'Run "airlock <command> --help" for a command\'s flags and examples.',
  ].join('\n');
}

export function commandHelp(spec: CommandSpec): string {
  const options = allOptions(spec);
  const rows = Object.entries(options).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : '    '}--${name}${o.value ? ` ${o.value}` : ''}`;
    const env = o.env ? ` [${envName(name)}]` : '';
    return { flag, text: `${o.description}${o.multiple ? ' (repeatable)' : ''}${env}` };
  });
  const width = Math.max(...rows.map((r) => r.flag.length));
  return [
    spec.summary,
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

/** Runs the CLI in-process and returns the exit status (the bin only sets process.exitCode). */
export async function runCLI(
  argv: readonly string[],
  environment: RunEnvironment,
): Promise<number> {
  const [verb, ...rest] = [...argv];
  const stdout = environment.stdout;
  if (verb === undefined || verb === '--help' || verb === '-h' || verb === 'help') {
    const target = verb === 'help' ? COMMANDS.find((c) => c.name === rest.join(' ')) : undefined;
    stdout.write(`${target ? commandHelp(target) : mainHelp()}\n`);
    return verb === undefined ? ExitCode.invalidInput : ExitCode.ok;
  }
  if (verb === '--version' || verb === 'version') {
    stdout.write(`airlock ${VERSION}\n`);
    return ExitCode.ok;
  }
  const wantsJSON = rest.includes('--json');
  const out = new Output(environment, {
    json: wantsJSON,
    verbose: rest.includes('--verbose') || rest.includes('-v'),
  });
  // Command groups ("artifact push", "chart pull") are looked up by their first two words.
  const grouped = COMMANDS.find((c) => c.name === `${verb} ${rest[0] ?? ''}`);
  const spec = grouped ?? COMMANDS.find((c) => c.name === verb);
  if (grouped) rest.shift();
  if (!spec) {
    const members = COMMANDS.filter((c) => c.name.startsWith(`${verb} `));
    if (members.length > 0) {
      const sub = rest[0];
      const guess =
        sub === undefined || sub.startsWith('-')
          ? undefined
          : closest(
              `${verb} ${sub}`,
              members.map((c) => c.name),
            );
      const error = new AirlockError(
        'USAGE',
        sub === undefined || sub.startsWith('-')
          ? `"airlock ${verb}" needs a subcommand`
          : `unknown command "airlock ${verb} ${sub}"`,
        {
          details: [
            ...(guess === undefined ? [] : [`Did you mean "airlock ${guess}"?`]),
            ...members.map((c) => `airlock ${c.name}: ${c.summary}`),
          ],
        },
      );
      out.error(error, ExitCode.invalidInput);
      return ExitCode.invalidInput;
    }
    const words = [...new Set(COMMANDS.flatMap((c) => [c.name, c.name.split(' ')[0] ?? c.name]))];
    const twoWords = rest[0] === undefined ? verb : `${verb} ${rest[0]}`;
    const guess = closest(twoWords, words) ?? closest(verb, words);
    const error = new AirlockError('USAGE', `unknown command "${verb}"`, {
      details: [
        ...(guess === undefined ? [] : [`Did you mean "airlock ${guess}"?`]),
        `Commands: ${COMMANDS.map((c) => c.name).join(', ')}.`,
      ],
    });
    out.error(error, ExitCode.invalidInput);
    return ExitCode.invalidInput;
  }
  let session: Session | undefined;
  try {
    const { values, positionals } = parseCommandArgs(spec, rest, environment.env);
    if (values.help === true) {
      stdout.write(`${commandHelp(spec)}\n`);
      return ExitCode.ok;
    }
    let pending: Promise<Session> | undefined;
    return await spec.run({
      values,
      positionals,
      out,
      env: environment.env,
      stdin: environment.stdin,
      signal: environment.signal ?? new AbortController().signal,
      session: () => {
        pending ??= buildSession(values, environment.env, environment.stdin).then(
          (s) => (session = s),
        );
        return pending;
      },
    });
  } catch (caught) {
    const error = toAirlockError(caught);
    const exit = exitCodeFor(error.code);
    out.error(error, exit);
    return exit;
  } finally {
    session?.close();
  }
}
