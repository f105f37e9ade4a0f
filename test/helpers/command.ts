// Runs one CLI command through its own flag parser and run(), as the command table would, and
// returns its exit code, stdout and the coded error it threw (the fleet command tests use it to
// assert on the error object itself, not on rendered text).
import assert from 'node:assert/strict';
import { PassThrough, Readable } from 'node:stream';
import { AirlockError } from '../../src/errors.ts';
import { buildSession, type CommandSpec, parseCommandArgs } from '../../src/cli/command.ts';
import type { Session } from '../../src/session/index.ts';
import { exitCodeFor } from '../../src/cli/exit-codes.ts';
import { Output } from '../../src/cli/output.ts';

export interface CommandRun {
  code: number;
  stdout: string;
  error?: AirlockError;
}

export async function runCommand(
  spec: CommandSpec,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; stdin?: string } = {},
): Promise<CommandRun> {
  const stdout = new PassThrough();
  const chunks: Buffer[] = [];
  stdout.on('data', (d: Buffer) => chunks.push(d));
  const stderr = new PassThrough();
  stderr.resume();
  const out = new Output({ stdout, stderr }, { json: args.includes('--json'), verbose: false });
  let session: Session | undefined;
  try {
    const { values, positionals } = parseCommandArgs(spec, args, {});
    const code = await spec.run({
      values,
      positionals,
      out,
      env: options.env ?? process.env,
      stdin: Readable.from([options.stdin ?? '']),
      signal: new AbortController().signal,
      // The registry flags make the session, as in the command table (src/cli/app.ts).
      session: async () =>
        (session ??= await buildSession(values, options.env ?? process.env, Readable.from([]))),
    });
    return { code, stdout: Buffer.concat(chunks).toString('utf8') };
  } catch (error) {
    assert.ok(error instanceof AirlockError, String(error));
    return { code: exitCodeFor(error.code), stdout: '', error };
  } finally {
    session?.close();
  }
}
