// Provenance from a git checkout, for pushes outside CI (or a CI that sets no variables): HEAD's
// commit, the branch or the tag it is at, and the `origin` remote as a web URL. git itself answers
// (execFile, no shell, so a directory name is never interpreted), which keeps every repository
// format git reads (worktrees, SHA-256 object format, packed refs) working.
import { execFile } from 'node:child_process';
import { AirlockError } from '../errors.ts';
import { fluxRevision } from './ci.ts';

export interface GitProvenance {
  /** `origin` as an https URL without credentials; absent when there is no usable origin. */
  readonly source?: string;
  /** Flux's `<refName>@sha1:<sha>`. */
  readonly revision: string;
  readonly sha: string;
  /** The branch HEAD is on, else the tag it is exactly at, else (detached) the commit itself. */
  readonly refName: string;
}

interface GitResult {
  readonly ok: boolean;
  readonly stdout: string;
  readonly stderr: string;
  readonly missing?: boolean;
}

// git's own options, spelled as git spells them (these are not airlock's flags).
/* eslint-disable no-restricted-syntax */
const HEAD_COMMIT = ['rev-parse', '--verify', '-q', 'HEAD^{commit}'];
const GIT_DIR = ['rev-parse', '--git-dir'];
const BRANCH = ['symbolic-ref', '--short', '-q', 'HEAD'];
const EXACT_TAG = ['describe', '--tags', '--exact-match', 'HEAD'];
/* eslint-enable no-restricted-syntax */
const ORIGIN_URL = ['remote', 'get-url', 'origin'];

/** Runs git in `dir`; never throws, so each caller decides what a failure means. */
function git(dir: string, args: readonly string[]): Promise<GitResult> {
  return new Promise((resolve) => {
    execFile(
      'git',
      ['-C', dir, ...args],
      // LC_ALL=C: messages in one language; GIT_TERMINAL_PROMPT=0: never wait for a password.
      {
        env: { ...process.env, LC_ALL: 'C', GIT_TERMINAL_PROMPT: '0' },
        timeout: 30_000,
        maxBuffer: 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const code = (error as NodeJS.ErrnoException | null)?.code;
        resolve({
          ok: error === null,
          stdout: stdout.trim(),
          stderr: stderr.trim(),
          ...(code === 'ENOENT' ? { missing: true } : {}),
        });
      },
    );
  });
}

/**
 * A remote URL as a web URL for `org.opencontainers.image.source`: scp-like `git@host:group/repo.git`
 * and `ssh://git@host[:port]/group/repo.git` become `https://host/group/repo`; http(s) URLs lose
 * their user name and password (a CI token embedded in the clone URL is never recorded) and the
 * `.git` suffix. Local paths and other schemes give `undefined`: they name no place a reader can go.
 */
export function webURL(remote: string): string | undefined {
  const text = remote.trim();
  // git's scp-like syntax: [user@]host:path, with no "/" before the ":" (git-clone(1), "GIT URLS").
  const scp = /^(?:[^@/:]+@)?([^/:]+):(?!\/\/)(.+)$/.exec(text);
  if (scp !== null && !/^[A-Za-z]:[\\/]/.test(text)) {
    const [, host = '', path = ''] = scp;
    return `https://${host}/${path.replace(/^\/+/, '').replace(/\.git$/, '')}`;
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  const path = url.pathname.replace(/\.git$/, '').replace(/\/+$/, '');
  if (url.protocol === 'ssh:' || url.protocol === 'git+ssh:' || url.protocol === 'git:')
    return `https://${url.hostname}${path}`;
  if (url.protocol === 'https:' || url.protocol === 'http:')
    return `${url.protocol}//${url.host}${path}`;
  return undefined;
}

/**
 * The provenance of the git checkout `dir` is in (or below): HEAD's commit, its branch (else the
 * exact tag, else the commit), and the `origin` remote as a web URL. A directory outside any git
 * repository, or a repository without commits, is INPUT_INVALID (`data.option` "source"); no git
 * binary is GIT_FAILED.
 */
export async function gitProvenance(dir: string): Promise<GitProvenance> {
  const head = await git(dir, HEAD_COMMIT);
  if (!head.ok) {
    const inside = head.missing ? undefined : await git(dir, GIT_DIR);
    // Outside a checkout there is nothing to read the values from: that is missing input (the
    // caller gives them), not a failing git. Only a missing git binary is GIT_FAILED.
    throw new AirlockError(
      head.missing ? 'GIT_FAILED' : 'INPUT_INVALID',
      head.missing
        ? `git is not installed: cannot read the source and revision of ${dir}`
        : inside?.ok === true
          ? `${dir}: the git repository has no commit yet`
          : `${dir} is not inside a git repository: the source and revision cannot be read from it`,
      {
        details: [
          'Give the source and revision explicitly, or push from a git checkout (or a CI job).',
          ...(inside !== undefined && !inside.ok && inside.stderr !== '' ? [inside.stderr] : []),
        ],
        data: { option: 'source', dir },
      },
    );
  }
  const sha = head.stdout;
  const [branch, tag, origin] = await Promise.all([
    git(dir, BRANCH),
    git(dir, EXACT_TAG),
    git(dir, ORIGIN_URL),
  ]);
  // Branch first, as GitHub's and GitLab's ref name of a branch push; a tag checkout (CI checks
  // tags out detached) gives the tag; a detached HEAD at no tag names the commit itself.
  const refName =
    branch.ok && branch.stdout !== ''
      ? branch.stdout
      : tag.ok && tag.stdout !== ''
        ? tag.stdout
        : sha;
  const source = origin.ok ? webURL(origin.stdout) : undefined;
  return {
    ...(source === undefined ? {} : { source }),
    revision: fluxRevision(refName, sha),
    sha,
    refName,
  };
}
