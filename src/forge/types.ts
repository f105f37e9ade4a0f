// The forge API that promote codes against: one change request (GitLab merge request, GitHub pull
// request) per promoted pin, opened once and updated on every re-run.

export type ForgeKind = 'gitlab' | 'github';

/** Something to know about each request the client sent (tests and `--verbose` logs); no secrets. */
export interface ForgeRequestLog {
  readonly method: string;
  /** The path below the API URL (query string left off: it holds branch names, never the token). */
  readonly path: string;
  /** HTTP status, or undefined when no answer came (network failure, timeout). */
  readonly status: number | undefined;
  readonly ms: number;
}

export interface ForgeOptions {
  readonly kind: ForgeKind;
  /** API base: GitLab `https://gitlab.example/api/v4`, GitHub `https://api.github.com` or GHES `https://ghe.example/api/v3`. */
  readonly apiURL: string;
  /** GitLab project path `group/sub/project` (URL-encoded by the client) or numeric id; GitHub `owner/repo`. */
  readonly project: string;
  /** Never printed, never in error messages or data. */
  readonly token: string;
  /**
   * The environment variable the token came from (findForgeToken says), named in FORGE_AUTH
   * messages. `CI_JOB_TOKEN` also makes the GitLab client send the JOB-TOKEN header instead of
   * PRIVATE-TOKEN. Default: GITLAB_TOKEN / GITHUB_TOKEN.
   */
  readonly tokenVariable?: string;
  /** Plain `http://` API URLs are refused (the token would travel in clear) unless this is set. */
  readonly allowHTTP?: boolean;
  /** Per-request time limit in milliseconds (default 30 s); the caller's signal still applies. */
  readonly timeoutMs?: number;
  /** Tests. */
  readonly fetch?: typeof fetch;
  readonly signal?: AbortSignal;
  /** Called after every request. */
  readonly onRequest?: (entry: ForgeRequestLog) => void;
}

/** A merge request (GitLab) or pull request (GitHub). */
export interface ChangeRequest {
  readonly sourceBranch: string;
  readonly targetBranch: string;
  readonly title: string;
  readonly body: string;
  /** Replace the change's labels (labels added by hand to an open change are removed on update). */
  readonly labels: readonly string[];
  /** Enable auto-merge when true; disable it on an existing change when false. */
  readonly autoMerge: boolean;
}

export interface OpenedChange {
  /** GitLab iid, GitHub pull request number. */
  readonly number: number;
  /** web_url / html_url. */
  readonly url: string;
  readonly state: 'opened' | 'updated' | 'unchanged';
  /** Whether auto-merge is now enabled (true also when the forge merged the change at once). */
  readonly autoMerge: boolean;
  /**
   * Why the forge refused to enable auto-merge (repository setting off, nothing left to wait for,
   * a draft…), remote text with control characters escaped. The change itself is open.
   */
  readonly autoMergeRefused?: string;
}

export interface Forge {
  readonly kind: ForgeKind;
  /** Checks the token can reach the project before anything is pushed (GET project / repo). */
  check(): Promise<void>;
  /**
   * Opens the change, or updates the open one with the same source branch (title, body, labels,
   * auto-merge) — never a duplicate. An error thrown once the change exists carries its `number`
   * and `url` in `error.data`, so the caller can still record it.
   */
  openOrUpdate(change: ChangeRequest): Promise<OpenedChange>;
}
