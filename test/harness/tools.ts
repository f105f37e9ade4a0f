import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, it, type test, type TestOptions } from 'node:test';

/** Finds an executable on PATH. */
export function which(name: string): string | undefined {
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  const path = found.stdout.trim();
  return found.status === 0 && path !== '' ? path : undefined;
}

/**
 * The reason the integration tests cannot run here, or undefined when they can. In CI (CI=true) a
 * missing tool is a failure, never a skip (DESIGN.md "Real components").
 */
export function missingTools(tools: readonly string[]): string | undefined {
  const missing = tools.filter((t) => which(t) === undefined);
  if (missing.length === 0) return undefined;
  const reason = `missing ${missing.join(', ')}: install with apt-get install docker-registry skopeo apache2-utils openssl`;
  if (process.env.CI === 'true') throw new Error(`CI=true and ${reason}`);
  console.error(`SKIPPING integration tests: ${reason}`);
  return reason;
}

export async function tempDir(
  prefix = 'airlock-test-',
): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

export function run(command: string, args: readonly string[], input?: string): string {
  return execFileSync(command, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
}

/** The shared fixtures folder (read by relative path, never copied into the project). */
export const SHARED_FIXTURES =
  process.env.AIRLOCK_TEST_FIXTURES ??
  new URL('../../../shared/fixtures/', import.meta.url).pathname;

/**
 * Conformance tests need ../shared/fixtures: in CI they fail without it, elsewhere they skip with
 * a visible reason.
 */
export function fixturesSkipReason(sub: string): string | undefined {
  const path = join(SHARED_FIXTURES, sub);
  const exists = spawnSync('test', ['-e', path]).status === 0;
  if (exists) return undefined;
  const reason = `conformance fixtures not found at ${path}`;
  if (process.env.CI === 'true') throw new Error(`CI=true and ${reason}`);
  console.error(`SKIPPING conformance tests: ${reason}`);
  return reason;
}

type TestFn = test.TestFn;
type HookFn = test.HookFn;

/**
 * Test functions gated on a skip reason, for suites that need real tools or ../shared/fixtures.
 * A skipped suite would vanish from the runner's counts (`describe(…, { skip })` registers none of
 * its tests); through these, every test is reported as skipped with the reason, and the suite's
 * hooks (which start registries) do not run. Use them in place of node:test's `it` and hooks.
 */
export function gated(reason: string | undefined): {
  it: (name: string, optionsOrFn?: TestOptions | TestFn, fn?: TestFn) => void;
  before: (fn: HookFn) => void;
  after: (fn: HookFn) => void;
  beforeEach: (fn: HookFn) => void;
  afterEach: (fn: HookFn) => void;
} {
  const hook =
    (register: (fn: HookFn) => void) =>
    (fn: HookFn): void => {
      if (reason === undefined) register(fn);
    };
  return {
    it: (name, optionsOrFn, fn) => {
      const options = typeof optionsOrFn === 'object' ? optionsOrFn : {};
      const body = typeof optionsOrFn === 'function' ? optionsOrFn : fn;
      void it(name, reason === undefined ? options : { ...options, skip: reason }, body);
    },
    before: hook((fn) => before(fn)),
    after: hook((fn) => after(fn)),
    beforeEach: hook((fn) => beforeEach(fn)),
    afterEach: hook((fn) => afterEach(fn)),
  };
}
