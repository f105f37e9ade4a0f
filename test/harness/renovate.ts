// Real Renovate for the renovate.json tests (issue 9 §5): the pinned CLI that
// scripts/install-renovate.sh puts in node_modules/.cache/airlock-renovate, kept out of
// package.json so `npm ci` stays light. Run offline with --platform=local, which Renovate forces
// to --dry-run=lookup: it extracts and looks up, then writes its report without touching git.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../helpers/build.ts';

export const RENOVATE_DIR = join(ROOT, 'node_modules/.cache/airlock-renovate');
const INSTALL_SCRIPT = join(ROOT, 'scripts/install-renovate.sh');

/** The version scripts/install-renovate.sh pins (one source: the script). */
export function pinnedRenovateVersion(): string {
  const match = /^RENOVATE_VERSION=(\S+)$/m.exec(readFileSync(INSTALL_SCRIPT, 'utf8'));
  if (!match?.[1]) throw new Error(`${INSTALL_SCRIPT} has no RENOVATE_VERSION= line`);
  return match[1];
}

function installedVersion(): string | undefined {
  try {
    const pkg = JSON.parse(
      readFileSync(join(RENOVATE_DIR, 'node_modules/renovate/package.json'), 'utf8'),
    ) as { version?: string };
    return pkg.version;
  } catch {
    return undefined;
  }
}

/** The renovate CLI of the pinned version, or undefined when it is not installed. */
export function renovateBinary(): string | undefined {
  const bin = join(RENOVATE_DIR, 'node_modules/.bin/renovate');
  return existsSync(bin) && installedVersion() === pinnedRenovateVersion() ? bin : undefined;
}

export function renovateConfigValidator(): string | undefined {
  const bin = join(RENOVATE_DIR, 'node_modules/.bin/renovate-config-validator');
  return renovateBinary() === undefined || !existsSync(bin) ? undefined : bin;
}

/**
 * Why the Renovate tests cannot run here, or undefined when they can. In CI (CI=true) a missing
 * Renovate is a failure, never a skip (.ci/run installs it).
 */
export function renovateSkipReason(): string | undefined {
  if (renovateBinary() !== undefined) return undefined;
  const found = installedVersion();
  const reason = `Renovate ${pinnedRenovateVersion()} is not installed in ${RENOVATE_DIR}${found === undefined ? '' : ` (found ${found})`}: run scripts/install-renovate.sh`;
  if (process.env.CI === 'true') throw new Error(`CI=true and ${reason}`);
  console.error(`SKIPPING Renovate tests: ${reason}`);
  return reason;
}

/** One proposed update, as the report lists it under a dependency. */
export interface ReportUpdate {
  readonly updateType: string;
  readonly newValue?: string;
  readonly newVersion?: string;
  readonly newDigest?: string;
  readonly branchName?: string;
  readonly pendingChecks?: boolean;
}

export interface ReportDependency {
  readonly depName?: string;
  readonly packageName?: string;
  readonly currentValue?: string;
  readonly currentDigest?: string;
  readonly datasource?: string;
  readonly skipReason?: string;
  readonly registryUrl?: string;
  readonly updates?: readonly ReportUpdate[];
  readonly warnings?: readonly unknown[];
}

/** Renovate's --report-type=file document, the parts the tests read. */
export interface RenovateReport {
  readonly problems: readonly { msg: string; level: number }[];
  readonly repositories: Readonly<
    Record<
      string,
      {
        readonly problems: readonly { msg: string; level: number }[];
        readonly packageFiles: Readonly<
          Record<string, readonly { packageFile: string; deps: readonly ReportDependency[] }[]>
        >;
      }
    >
  >;
}

/** A branch as Renovate would open it (its merge request's labels and auto-merge). */
export interface RenovateBranch {
  readonly branchName: string;
  readonly updateType?: string;
  readonly automerge?: boolean;
  /** As configured; Renovate renders templates in them when it opens the merge request. */
  readonly labels?: readonly string[];
  readonly upgrades: readonly {
    packageFile: string;
    depName: string;
    currentValue?: string;
    newValue?: string;
    updateType?: string;
  }[];
}

export interface RenovateRun {
  readonly code: number | null;
  readonly stderr: string;
  readonly report: RenovateReport;
  /**
   * The branches Renovate computed. The report file lists lookups only (its branch section is
   * filled by a full run, which --platform=local never does), so these come from the one trace
   * record that holds them (`branches`, logged by Renovate's sortBranches) in a JSON log file.
   */
  readonly branches: readonly RenovateBranch[];
  readonly ms: number;
}

/**
 * Runs Renovate on the git work tree `repo` (its renovate.json is the repository config) with
 * HOME, caches and logs under `work`, no token and no network but the registry the config names.
 * `hostRules` go in as the self-hosted administrator's (RENOVATE_HOST_RULES): only those can
 * permit an internal host such as the loopback test registry.
 */
export async function runRenovate(
  repo: string,
  work: string,
  options: { hostRules?: readonly Record<string, unknown>[]; timeoutMs?: number } = {},
): Promise<RenovateRun> {
  const bin = renovateBinary();
  if (bin === undefined)
    throw new Error('Renovate is not installed: run scripts/install-renovate.sh');
  const home = join(work, 'home');
  await mkdir(home, { recursive: true });
  const reportPath = join(work, 'report.json');
  // Renovate 44 lower-cases LOG_FILE (it reads it as it reads log levels, logger/utils.ts), so
  // the trace log goes to a directory whose whole path is lower case.
  const logDir = join(tmpdir(), `airlock-renovate-log-${randomBytes(8).toString('hex')}`);
  if (logDir !== logDir.toLowerCase())
    throw new Error(`${logDir}: Renovate cannot write a log file where the path has capitals`);
  await mkdir(logDir);
  const logPath = join(logDir, 'renovate-log.json');
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: home,
    TMPDIR: work,
    LOG_LEVEL: 'warn',
    LOG_FILE: logPath,
    LOG_FILE_LEVEL: 'trace',
    RENOVATE_BASE_DIR: join(home, 'renovate'),
    RENOVATE_CACHE_DIR: join(home, 'renovate-cache'),
    // --omit=optional leaves re2 out; Renovate then uses JavaScript RegExp, and says so once.
    RENOVATE_X_IGNORE_RE2: 'true',
    ...(options.hostRules ? { RENOVATE_HOST_RULES: JSON.stringify(options.hostRules) } : {}),
  };
  const started = performance.now();
  const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>(
    (resolve, reject) => {
      const child = spawn(
        bin,
        [
          '--platform=local',
          '--dry-run=lookup',
          '--report-type=file',
          `--report-path=${reportPath}`,
        ],
        { cwd: repo, env, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let err = '';
      child.stdout.on('data', (d: Buffer) => (err += d.toString('utf8')));
      child.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
      const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
      child.on('error', reject);
      child.on('close', (status) => {
        clearTimeout(timer);
        resolve({ code: status, stderr: err });
      });
    },
  );
  const ms = performance.now() - started;
  const read = (path: string): Promise<string> =>
    readFile(path, 'utf8').catch((error: unknown) => {
      throw new Error(`Renovate (exit ${String(code)}) left no ${path}:\n${stderr}`, {
        cause: error,
      });
    });
  const report = JSON.parse(await read(reportPath)) as RenovateReport;
  const branches: RenovateBranch[] = [];
  try {
    for (const line of (await read(logPath)).split('\n')) {
      if (!line.includes('"msg":"branches"')) continue;
      const record = JSON.parse(line) as { msg?: string; branches?: RenovateBranch[] };
      if (record.msg === 'branches') branches.push(...(record.branches ?? []));
    }
  } finally {
    await rm(logDir, { recursive: true, force: true });
  }
  return { code, stderr, report, branches, ms };
}

/** Every dependency of the report with the file it is in, across managers. */
export function reportDependencies(
  report: RenovateReport,
): { manager: string; packageFile: string; dep: ReportDependency }[] {
  return Object.values(report.repositories).flatMap((repo) =>
    Object.entries(repo.packageFiles).flatMap(([manager, files]) =>
      files.flatMap((file) =>
        file.deps.map((dep) => ({ manager, packageFile: file.packageFile, dep })),
      ),
    ),
  );
}

/**
 * A branch's labels as its merge request gets them: Renovate renders each label as a Handlebars
 * template over the branch (docs: labels); the only field airlock's labels use is updateType.
 */
export function renderedLabels(branch: RenovateBranch): string[] {
  return [...(branch.labels ?? [])]
    .map((l) => l.replaceAll('{{updateType}}', branch.updateType ?? ''))
    .sort();
}
