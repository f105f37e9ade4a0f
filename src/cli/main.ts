#!/usr/bin/env node
// The bin. It checks the Node version before loading anything else, so an old Node prints one line
// (found, needed) instead of a stack trace from syntax or APIs it lacks; then it loads the CLI.
// Keep this file free of static imports: they would be loaded before the check runs.

/** The oldest Node airlock supports: `engines.node` in package.json (a test keeps them equal). */
const MINIMUM_NODE_MAJOR = 22;

const found = process.versions.node;
if (Number(found.split('.')[0]) < MINIMUM_NODE_MAJOR) {
  process.stderr.write(
    `airlock: Node.js ${found} is too old: airlock needs Node.js ${MINIMUM_NODE_MAJOR} or newer.\n`,
  );
  process.exit(1);
}

// Ctrl-C stops cleanly: the first signal aborts the running command, which finishes or abandons
// in-flight work without writing a tag for it; a second one exits at once.
const controller = new AbortController();
const stop = (): void => {
  if (controller.signal.aborted) process.exit(130);
  controller.abort(new Error('interrupted'));
};
// A reader that stops early (`airlock images list … | head`) closes the pipe: stop quietly, as
// Unix tools do, instead of crashing on an unhandled EPIPE.
for (const stream of [process.stdout, process.stderr])
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE')
      process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
    throw error;
  });
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

const { runCLI } = await import('./app.ts');
process.exitCode = await runCLI(process.argv.slice(2), {
  env: process.env,
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  signal: controller.signal,
});
