// Builds dist/ with tsc and marks the bin executable. Plain JavaScript, so it also runs on the
// system's Node when `npm ci --omit=dev` calls it through `prepare` without the pinned Node 24.
// `--if-dev`: skip quietly when TypeScript is not installed (a production install of a clone),
// instead of failing the whole `npm ci` on a missing `tsc`.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
let tsc;
try {
  tsc = require.resolve('typescript/bin/tsc');
} catch {
  if (process.argv.includes('--if-dev')) {
    console.log('airlock: TypeScript is not installed (production install): dist/ not built.');
    console.log('airlock: run `npm ci` (with dev dependencies) and `npm run build` to build it.');
    process.exit(0);
  }
  console.error('airlock: cannot build: TypeScript is not installed (run `npm ci` first).');
  process.exit(1);
}
const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], {
  stdio: 'inherit',
});
if (result.status !== 0) process.exit(result.status ?? 1);
// tsc keeps the shebang but not an execute bit; npm sets it only when installing as a dependency.
const bin = new URL('../dist/cli/main.js', import.meta.url);
if (existsSync(bin)) chmodSync(bin, 0o755);
