#!/usr/bin/env node
import { runCLI } from './app.ts';

// Ctrl-C stops cleanly: the first signal aborts the running command, which finishes or abandons
// in-flight work without writing a tag for it; a second one exits at once.
const controller = new AbortController();
const stop = (): void => {
  if (controller.signal.aborted) process.exit(130);
  controller.abort(new Error('interrupted'));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

process.exitCode = await runCLI(process.argv.slice(2), {
  env: process.env,
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  signal: controller.signal,
});
