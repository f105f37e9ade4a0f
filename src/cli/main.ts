#!/usr/bin/env node
import { runCLI } from './app.ts';

process.exitCode = await runCLI(process.argv.slice(2), {
  env: process.env,
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
});
