// Git for the releases repository: reads for the plan (history.ts) and writes for `promote apply`.
// Writes go through plumbing with a private index (GIT_INDEX_FILE), so a branch is built from a
// base commit without touching the user's working tree, index or checked-out branch (git-scm.com
// docs: git-read-tree, git-update-index --cacheinfo, git-write-tree, git-commit-tree,
// git-update-ref). Every call is `execFile('git', …)` with no shell, no terminal prompt and the C
// locale, so untrusted file names cannot become commands and messages stay parseable.
// Every `--x` string below is git's own option in a git argv, never one of airlock's flags.
/* eslint-disable no-restricted-syntax */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AirlockError } from '../errors.ts';
import { escapeControl } from '../core/index.ts';

export interface GitRunOptions {
  /** Written to git's stdin. */
  readonly input?: string | Buffer;
  /** Extra environment (GIT_INDEX_FILE, GIT_AUTHOR_*, …). */
  readonly env?: Readonly<Record<string, string>>;
  /** Exit codes that are answers, not failures (`rev-parse --verify -q` exits 1 for "no such ref"). */
  readonly okCodes?: readonly number[];
}

export interface GitResult {
  readonly stdout: string;
  readonly code: number;
}

/** The environment every git child gets: never prompt for credentials, C messages. */
export function gitEnv(extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  return { ...process.env, GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C', LANGUAGE: 'C', ...extra };
}

/** `https://user:token@host/x` → `https://host/x`: userinfo never reaches a message or a log. */
export function stripCredentials(text: string): string {
  return text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/gi, '$1');
}

function failure(args: readonly string[], code: number | string, stderr: string): AirlockError {
  const lines = stderr
    .split('\n')
    .map((line) => escapeControl(stripCredentials(line.trimEnd())))
    .filter((line) => line !== '');
  const command = escapeControl(stripCredentials(args.slice(0, 2).join(' ')));
  return new AirlockError(
    'GIT_FAILED',
    `git ${command} failed (${typeof code === 'number' ? `exit ${code}` : code})${lines[0] ? `: ${lines[0]}` : ''}`,
    { details: lines.slice(1), data: { command: args[0], exitCode: code } },
  );
}

/** Runs `git -C root …args`; resolves with stdout, or throws GIT_FAILED with stderr as details. */
export async function gitRun(
  root: string,
  args: readonly string[],
  options: GitRunOptions = {},
): Promise<string> {
  return (await gitCall(root, args, options)).stdout;
}

/** As gitRun, and also answers the exit code when it is one of `okCodes`. */
export function gitCall(
  root: string,
  args: readonly string[],
  options: GitRunOptions = {},
): Promise<GitResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      'git',
      ['-C', root, ...args],
      { env: gitEnv(options.env), maxBuffer: 512 * 1024 * 1024, encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (!error) {
          resolve({ stdout, code: 0 });
          return;
        }
        const code = typeof error.code === 'number' ? error.code : (error.code ?? 'not started');
        if (typeof code === 'number' && options.okCodes?.includes(code)) {
          resolve({ stdout, code });
          return;
        }
        reject(
          code === 'ENOENT'
            ? new AirlockError('GIT_FAILED', 'git is not installed (no git on PATH)', {
                data: { command: args[0] },
              })
            : failure(args, code, stderr),
        );
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
    else child.stdin?.end();
  });
}

/** The commit a ref names, or undefined when there is none. */
export async function resolveCommit(root: string, ref: string): Promise<string | undefined> {
  const { stdout, code } = await gitCall(
    root,
    ['rev-parse', '--verify', '--quiet', '--end-of-options', `${ref}^{commit}`],
    { okCodes: [1, 128] },
  );
  return code === 0 ? stdout.trim() : undefined;
}

const ZERO = /^0+$/;

/** Refuses names git itself would refuse as a branch (`git check-ref-format --branch`). */
async function checkBranch(root: string, branch: string): Promise<void> {
  const { code } = await gitCall(root, ['check-ref-format', `refs/heads/${branch}`], {
    okCodes: [1],
  });
  if (code !== 0 || branch.startsWith('-'))
    throw new AirlockError('INPUT_INVALID', `${escapeControl(branch)} is not a valid branch name`, {
      data: { option: 'branch' },
    });
}

/** Repository-relative POSIX paths only: no absolute paths, no `..`, no `.git`. */
function checkPath(path: string): void {
  const parts = path.split('/');
  if (
    path === '' ||
    path.startsWith('/') ||
    path.includes('\\') ||
    path.includes('\0') ||
    parts.some((p) => p === '' || p === '.' || p === '..' || p.toLowerCase() === '.git')
  )
    throw new AirlockError(
      'PATH_OUTSIDE_SOURCE',
      `${escapeControl(path)} is not a path inside the repository`,
      { data: { path } },
    );
}

export interface FileChange {
  /** Repository-relative POSIX path. */
  readonly path: string;
  readonly content: string | Buffer;
}

export interface CommitFileChangeOptions {
  /** The commit the branch starts from: `origin/main`, `HEAD`, a commit id. */
  readonly base: string;
  /** Branch name without `refs/heads/`. */
  readonly branch: string;
  readonly files: readonly FileChange[];
  readonly message: string;
  /** Author and committer; git's configuration (user.name, user.email) when absent. */
  readonly author?: { readonly name: string; readonly email: string };
}

export interface CommitResult {
  /** The commit the branch now points at (or would: the base, when nothing changed from it). */
  readonly commit: string;
  /**
   * False when the branch already held exactly this tree (a re-run), or when the base already has
   * these contents (then no branch is written and `commit` is the base).
   */
  readonly changed: boolean;
}

/**
 * One commit on `branch` whose parent is `base` and whose tree is base's with `files` replaced.
 * The user's working tree, index and HEAD are never touched; the branch is moved with
 * compare-and-swap (`update-ref <new> <old>`), so a concurrent writer makes this fail rather than
 * lose work. The checked-out branch is refused: moving it would make the working tree look edited.
 */
export async function commitFileChange(
  root: string,
  options: CommitFileChangeOptions,
): Promise<CommitResult> {
  await checkBranch(root, options.branch);
  for (const file of options.files) checkPath(file.path);
  const ref = `refs/heads/${options.branch}`;
  const head = await gitCall(root, ['symbolic-ref', '--quiet', 'HEAD'], { okCodes: [1] });
  if (head.code === 0 && head.stdout.trim() === ref)
    throw new AirlockError(
      'INPUT_INVALID',
      `${escapeControl(options.branch)} is the checked-out branch; promotion writes its own branches`,
      { data: { option: 'branch' } },
    );
  const base = await resolveCommit(root, options.base);
  if (base === undefined)
    throw new AirlockError('GIT_FAILED', `${escapeControl(options.base)} names no commit`, {
      data: { ref: options.base },
    });
  const dir = await mkdtemp(join(tmpdir(), 'airlock-index-'));
  try {
    const env = { GIT_INDEX_FILE: join(dir, 'index') };
    await gitRun(root, ['read-tree', base], { env });
    for (const file of options.files) {
      const oid = (
        await gitRun(root, ['hash-object', '-w', '--stdin'], { input: file.content })
      ).trim();
      // Keep an existing file's mode (an executable stays executable); new files are 100644.
      const listed = await gitRun(root, ['ls-files', '--stage', '--', `:(literal)${file.path}`], {
        env,
      });
      const mode = /^(\d{6}) /.exec(listed)?.[1] ?? '100644';
      await gitRun(root, ['update-index', '--add', '--cacheinfo', `${mode},${oid},${file.path}`], {
        env,
      });
    }
    const tree = (await gitRun(root, ['write-tree'], { env })).trim();
    const baseTree = (await gitRun(root, ['rev-parse', `${base}^{tree}`])).trim();
    const existing = await resolveCommit(root, ref);
    if (existing !== undefined) {
      const existingTree = (await gitRun(root, ['rev-parse', `${existing}^{tree}`])).trim();
      if (existingTree === tree) return { commit: existing, changed: false };
    }
    if (tree === baseTree) return { commit: base, changed: false };
    const who: Record<string, string> = options.author
      ? {
          GIT_AUTHOR_NAME: options.author.name,
          GIT_AUTHOR_EMAIL: options.author.email,
          GIT_COMMITTER_NAME: options.author.name,
          GIT_COMMITTER_EMAIL: options.author.email,
        }
      : {};
    const commit = (
      await gitRun(root, ['commit-tree', tree, '-p', base, '-F', '-'], {
        input: options.message,
        env: who,
      })
    ).trim();
    await gitRun(root, ['update-ref', '-m', 'airlock promote', ref, commit, existing ?? '']);
    return { commit, changed: true };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface PushOptions {
  /** Replace the remote branch even when it is not an ancestor (a re-run rebuilt it). */
  readonly force: boolean;
  /**
   * With force: the commit the remote branch must still hold (`--force-with-lease=ref:expect`),
   * or '' when it must not exist. When absent, the remote is asked first (remoteBranchCommit) and
   * that answer is the lease, so a branch someone pushed to meanwhile is never overwritten blind.
   */
  readonly expect?: string;
}

/** `git push <remote> refs/heads/<branch>:refs/heads/<branch>`, force only with a lease. */
export async function pushBranch(
  root: string,
  remote: string,
  branch: string,
  options: PushOptions,
): Promise<void> {
  await checkBranch(root, branch);
  const ref = `refs/heads/${branch}`;
  const args = ['push', '--porcelain', '--no-verify'];
  if (options.force) {
    const expect = options.expect ?? (await remoteBranchCommit(root, remote, branch)) ?? '';
    args.push(`--force-with-lease=${ref}:${expect}`);
  }
  args.push('--end-of-options', remote, `${ref}:${ref}`);
  await gitRun(root, args);
}

/** Deletes the remote branch; false when it did not exist. */
export async function deleteRemoteBranch(
  root: string,
  remote: string,
  branch: string,
): Promise<boolean> {
  await checkBranch(root, branch);
  const current = await remoteBranchCommit(root, remote, branch);
  if (current === undefined) return false;
  const ref = `refs/heads/${branch}`;
  await gitRun(root, [
    'push',
    '--porcelain',
    '--no-verify',
    `--force-with-lease=${ref}:${current}`,
    '--end-of-options',
    remote,
    `:${ref}`,
  ]);
  return true;
}

/** The commit `refs/heads/<branch>` has on the remote (`git ls-remote`), or undefined. */
export async function remoteBranchCommit(
  root: string,
  remote: string,
  branch: string,
): Promise<string | undefined> {
  await checkBranch(root, branch);
  const ref = `refs/heads/${branch}`;
  const out = await gitRun(root, ['ls-remote', '--end-of-options', remote, ref]);
  for (const line of out.split('\n')) {
    const [oid, name] = line.split('\t');
    if (name === ref && oid !== undefined && !ZERO.test(oid)) return oid;
  }
  return undefined;
}

/**
 * One `git cat-file --batch` process for many blob reads (history.ts reads hundreds of file
 * versions; one process per read would cost more than the bench's whole budget). Requests are
 * answered in order, so reads may be pipelined.
 */
export class BlobReader {
  readonly #child;
  #buffer: Buffer = Buffer.alloc(0);
  readonly #waiting: {
    resolve: (value: Buffer | undefined) => void;
    reject: (error: Error) => void;
  }[] = [];
  #failed: Error | undefined;
  #stderr = '';

  constructor(root: string) {
    this.#child = spawn('git', ['-C', root, 'cat-file', '--batch'], {
      env: gitEnv(),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.#child.stdout.on('data', (chunk: Buffer) => {
      this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
      this.#drain();
    });
    this.#child.stderr.on('data', (chunk: Buffer) => {
      if (this.#stderr.length < 64 * 1024) this.#stderr += chunk.toString('utf8');
    });
    const fail = (error: Error): void => {
      this.#failed ??= error;
      for (const waiter of this.#waiting.splice(0)) waiter.reject(this.#failed);
    };
    this.#child.on('error', (error) => {
      fail(new AirlockError('GIT_FAILED', `git cat-file could not start: ${error.message}`));
    });
    this.#child.on('close', (code) => {
      fail(failure(['cat-file', '--batch'], code ?? 'killed', this.#stderr));
    });
    this.#child.stdin.on('error', () => {
      // The close handler reports why git stopped.
    });
  }

  /** The content of `<commit>:<path>`, or undefined when it does not exist there (or is no blob). */
  read(commit: string, path: string): Promise<Buffer | undefined> {
    if (this.#failed) return Promise.reject(this.#failed);
    if (path.includes('\n'))
      return Promise.resolve(undefined); // cat-file's protocol is line-based
    else
      return new Promise((resolve, reject) => {
        this.#waiting.push({ resolve, reject });
        this.#child.stdin.write(`${commit}:${path}\n`);
      });
  }

  #drain(): void {
    for (;;) {
      const waiter = this.#waiting[0];
      if (waiter === undefined) return;
      const newline = this.#buffer.indexOf(10);
      if (newline < 0) return;
      const header = this.#buffer.subarray(0, newline).toString('utf8');
      if (header.endsWith(' missing') || header.endsWith(' ambiguous')) {
        this.#buffer = this.#buffer.subarray(newline + 1);
        this.#waiting.shift();
        waiter.resolve(undefined);
        continue;
      }
      const match = /^[0-9a-f]+ (\w+) (\d+)$/.exec(header);
      if (!match) {
        this.#waiting.shift();
        waiter.reject(
          new AirlockError(
            'GIT_FAILED',
            `git cat-file answered ${escapeControl(header.slice(0, 200))}`,
          ),
        );
        this.#buffer = Buffer.alloc(0);
        continue;
      }
      const size = Number(match[2]);
      if (this.#buffer.length < newline + 1 + size + 1) return;
      const content = this.#buffer.subarray(newline + 1, newline + 1 + size);
      this.#buffer = this.#buffer.subarray(newline + 1 + size + 1);
      this.#waiting.shift();
      waiter.resolve(match[1] === 'blob' ? Buffer.from(content) : undefined);
    }
  }

  /** Ends the process (idempotent). */
  async close(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    const closed = new Promise<void>((resolve) => this.#child.once('close', () => resolve()));
    this.#child.stdin.end();
    await closed;
  }
}

/** Fetches `refs/heads/<branch>` from the remote, so its commits can be compared locally. */
export async function fetchBranch(root: string, remote: string, branch: string): Promise<void> {
  await checkBranch(root, branch);
  await gitRun(root, [
    'fetch',
    '--no-tags',
    '--quiet',
    '--end-of-options',
    remote,
    `refs/heads/${branch}`,
  ]);
}

/** A commit's parents and subject line. */
export async function commitInfo(
  root: string,
  commit: string,
): Promise<{ parents: string[]; subject: string }> {
  const [, ...parents] = (
    await gitRun(root, ['rev-list', '--parents', '-n', '1', '--end-of-options', commit])
  )
    .trim()
    .split(' ');
  const subject = (
    await gitRun(root, ['log', '-1', '--format=%s', '--end-of-options', commit])
  ).trim();
  return { parents, subject };
}

/** Whether `ancestor` is in `of`'s history. */
export async function isAncestor(root: string, ancestor: string, of: string): Promise<boolean> {
  const { code } = await gitCall(
    root,
    ['merge-base', '--is-ancestor', '--end-of-options', ancestor, of],
    {
      okCodes: [0, 1],
    },
  );
  return code === 0;
}

/** The tree a commit points at. */
export async function treeOf(root: string, commit: string): Promise<string> {
  return (
    await gitRun(root, ['rev-parse', '--verify', '--end-of-options', `${commit}^{tree}`])
  ).trim();
}
