import { execFileSync } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

export const ROOT = new URL('../../', import.meta.url).pathname;
export const BIN = join(ROOT, 'dist/cli/main.js');

async function newestSource(dir: string): Promise<number> {
  let newest = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
    newest = Math.max(newest, (await stat(join(entry.parentPath, entry.name))).mtimeMs);
  }
  return newest;
}

/**
 * Builds dist/ when it is missing or older than any source, as `npm ci` (prepare) does, so tests
 * of the built package never run stale code.
 */
export async function ensureBuilt(): Promise<void> {
  const built = await stat(BIN).then(
    (s) => s.mtimeMs,
    () => 0,
  );
  if (built >= (await newestSource(join(ROOT, 'src')))) return;
  execFileSync(process.execPath, [join(ROOT, 'scripts/build.js')], { cwd: ROOT, stdio: 'pipe' });
}
