// Start-up benchmark (issue 8 §4): `airlock --help` and a command's --help against bare Node, on
// the built bin (dist/, what users run). Budget: `airlock --help` within 3× of `node -e 0`.
// Usage: npm run build && npm run bench:startup [-- --runs 15]
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { median, timed } from './lib.ts';

const bin = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
if (!existsSync(bin)) {
  console.error('bench:startup measures the built bin: run `npm run build` first.');
  process.exit(1);
}
const runsFlag = process.argv.indexOf('--runs');
const runs = runsFlag > 0 ? Number(process.argv[runsFlag + 1]) : 15;

async function measure(args: readonly string[]): Promise<number> {
  const seconds: number[] = [];
  // One warm-up run fills the page cache, so every measured run sees the same disk state.
  await timed(process.execPath, args);
  for (let i = 0; i < runs; i++) seconds.push((await timed(process.execPath, args)).seconds);
  return median(seconds);
}

const bare = await measure(['-e', '0']);
const cases: [string, string[]][] = [
  ['airlock --help', [bin, '--help']],
  ['airlock --version', [bin, '--version']],
  ['airlock copy --help', [bin, 'copy', '--help']],
  ['airlock mirror --help', [bin, 'mirror', '--help']],
  ['airlock sign --help', [bin, 'sign', '--help']],
];
console.log(`node ${process.version}, ${runs} runs each, medians`);
console.log(`${'node -e 0'.padEnd(24)} ${(bare * 1000).toFixed(0).padStart(5)} ms`);
for (const [name, args] of cases) {
  const t = await measure(args);
  console.log(
    `${name.padEnd(24)} ${(t * 1000).toFixed(0).padStart(5)} ms  ${(t / bare).toFixed(2)}× bare node`,
  );
}
