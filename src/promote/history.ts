// How long an environment has run a version: the time its pin got its current value, from the
// releases repository's history (issue 9 §4: "time in the previous environment (from the git
// history of its pin)"). The bench (200 components × 3 environments in ≤ 2 s for the whole plan)
// rules out a git process per pin or per file version: one `git log` lists, per file, the commits
// that touched it, and one `git cat-file --batch` process serves every file version read.
// Every `--x` string below is git's own option in a git argv, never one of airlock's flags.
/* eslint-disable no-restricted-syntax */
import { parseAllDocuments } from 'yaml';
import { BlobReader, gitRun, resolveCommit } from './git.ts';
import type { Pin } from './pin.ts';
import { pinValueInDocs, type PinValue } from './pins.ts';

export interface PinSinceOptions {
  /** The history to read; default HEAD. */
  readonly ref?: string;
}

interface FileCommit {
  readonly commit: string;
  readonly time: Date;
}

/**
 * A version in the history "is" the current pin when version and semver are equal and the digest
 * is equal or was not written yet: writing the digest of the tag that already ran (pinDigests)
 * does not restart the soak; a different digest does.
 */
function same(old: PinValue | undefined, pin: Pin): boolean {
  return (
    old !== undefined &&
    old.version === pin.version &&
    old.semver === pin.semver &&
    (old.digest === undefined || old.digest === pin.digest)
  );
}

/**
 * For each pin, when it got its current value: the committer time of the oldest commit of the
 * unbroken run, from `ref` back, of commits touching the pin's file in which the pin had that
 * value. Undefined when the file (or the value) is not committed yet. The history followed is the
 * first-parent line of `ref` (a merge request's merge commit is when its change reached the
 * branch, not when it was written on its own branch), merges compared with their first parent.
 */
export async function pinSince(
  root: string,
  pins: readonly Pin[],
  options: PinSinceOptions = {},
): Promise<Map<Pin, Date | undefined>> {
  const since = new Map<Pin, Date | undefined>(pins.map((pin) => [pin, undefined]));
  if (pins.length === 0) return since;
  const head = await resolveCommit(root, options.ref ?? 'HEAD');
  if (head === undefined) return since; // an empty repository: nothing is committed
  // `root` may be a directory inside the work tree; git log names files from the top.
  const prefix = (await gitRun(root, ['rev-parse', '--show-prefix'])).trim();
  const files = [...new Set(pins.map((pin) => pin.file))];
  const log = await gitRun(root, [
    'log',
    '--first-parent',
    '--diff-merges=first-parent',
    '--no-renames',
    '-z',
    '--name-only',
    '--format=%x01%H %ct',
    head,
    '--',
    ...files.map((file) => `:(literal)${prefix}${file}`),
  ]);
  const history = new Map<string, FileCommit[]>(files.map((file) => [file, []]));
  let current: FileCommit | undefined;
  for (const token of log.split('\0')) {
    if (token.startsWith('\x01')) {
      const [commit = '', time = '0'] = token.slice(1).split(' ');
      current = { commit, time: new Date(Number(time) * 1000) };
      continue;
    }
    const name = token.replace(/^\n/, '');
    if (current === undefined || name === '' || !name.startsWith(prefix)) continue;
    history.get(name.slice(prefix.length))?.push(current);
  }

  // Walk every file back one version per round, all reads of a round pipelined; a file drops out
  // when none of its pins still has its current value. When reading HEAD, a file the work tree
  // holds unchanged (git status) needs no read at its newest commit: the pins were read from it.
  const clean = options.ref === undefined ? await unchangedFiles(root, prefix, files) : new Set();
  // `lines`: the newer version's text by line, while every live pin's line in it is known (the
  // line-level fast path below); undefined once a change needed a full parse.
  const live = new Map<string, { pins: Pin[]; step: number; lines?: string[] | undefined }>();
  for (const pin of pins) {
    const entry = live.get(pin.file) ?? { pins: [], step: 0, lines: undefined };
    entry.pins.push(pin);
    live.set(pin.file, entry);
  }
  for (const [file, entry] of live) {
    const newest = history.get(file)?.[0];
    if (newest === undefined || !clean.has(file)) continue;
    for (const pin of entry.pins) since.set(pin, newest.time);
    entry.step = 1;
  }
  const reader = new BlobReader(root);
  try {
    // The newest committed text of each clean file: its pins' lines are the work tree's lines.
    const starts = [...live.entries()].filter(([, entry]) => entry.step === 1);
    const newest = await Promise.all(
      starts.map(([file]) => {
        const at = history.get(file)?.[0];
        return at ? reader.read(at.commit, `${prefix}${file}`) : Promise.resolve(undefined);
      }),
    );
    starts.forEach(([, entry], i) => {
      const lines = newest[i]?.toString('utf8').split('\n');
      if (lines && entry.pins.every((pin) => pinOnLine(lines, pin))) entry.lines = lines;
    });
    while (live.size > 0) {
      const round = [...live.entries()];
      const texts = await Promise.all(
        round.map(([file, { step }]) => {
          const at = history.get(file)?.[step];
          return at ? reader.read(at.commit, `${prefix}${file}`) : Promise.resolve(undefined);
        }),
      );
      round.forEach(([file, entry], i) => {
        const at = history.get(file)?.[entry.step];
        const text = texts[i];
        if (at === undefined || text === undefined) {
          live.delete(file); // before the file existed (or past the oldest commit)
          return;
        }
        const source = text.toString('utf8');
        // Most older versions differ in the pinned value itself: skip parsing when no live pin's
        // value occurs in the text at all.
        if (!entry.pins.some((pin) => source.includes(pin.version ?? pin.semver ?? ''))) {
          live.delete(file);
          return;
        }
        // Fast path: most history commits only change pinned values on their own lines. Then a
        // pin off those lines kept its value, and one on them is compared as a plain scalar;
        // anything else (a line added, a key renamed, an indicator) takes the full parse.
        const older = source.split('\n');
        const changed = entry.lines && valueOnlyChange(entry.lines, older, entry.pins);
        if (changed) {
          entry.pins = entry.pins.filter((pin) => {
            const old = changed.get(pin.line - 1);
            if (old !== undefined && old !== pin.version) return false;
            since.set(pin, at.time);
            return true;
          });
          entry.lines = older;
          entry.step += 1;
          if (entry.pins.length === 0) live.delete(file);
          return;
        }
        entry.lines = undefined;
        const docs = parseAllDocuments(source, { prettyErrors: false });
        const parsed = Array.isArray(docs) ? docs.filter((d) => d.errors.length === 0) : [];
        entry.pins = entry.pins.filter((pin) => {
          if (!same(pinValueInDocs(parsed, pin), pin)) return false;
          since.set(pin, at.time);
          return true;
        });
        entry.step += 1;
        if (entry.pins.length === 0) live.delete(file);
      });
    }
  } finally {
    await reader.close();
  }
  return since;
}

/** `key: scalar` on one line, with the scalar unquoted: only plain tokens and simple quoted strings. */
const SCALAR_LINE =
  /^(\s*(?:-\s+)?)([A-Za-z0-9_.-]+):[ \t]+(?:"([^"\\]*)"|'([^']*)'|([A-Za-z0-9_][A-Za-z0-9_.+:@/-]*))(?:[ \t]+#.*)?[ \t\r]*$/;

function scalarLine(line: string): { head: string; key: string; value: string } | undefined {
  const match = SCALAR_LINE.exec(line);
  if (!match) return undefined;
  return {
    head: `${match[1] ?? ''}${match[2] ?? ''}`,
    key: match[2] ?? '',
    value: match[3] ?? match[4] ?? match[5] ?? '',
  };
}

/** Whether the pin's version sits on its line as `<version key>: <version>`. */
function pinOnLine(lines: readonly string[], pin: Pin): boolean {
  const parsed = scalarLine(lines[pin.line - 1] ?? '');
  return (
    pin.version !== undefined &&
    parsed !== undefined &&
    parsed.key === pin.versionPath.at(-1) &&
    parsed.value === pin.version
  );
}

/**
 * When `older` differs from `newer` only in the scalar values of version-key lines (same line
 * count, same indentation and key on each changed line, plain or simply quoted scalars), the YAML
 * structure is the same in both: returns the changed lines' old values by line index. Otherwise
 * undefined, and the caller parses.
 */
function valueOnlyChange(
  newer: readonly string[],
  older: readonly string[],
  pins: readonly Pin[],
): Map<number, string> | undefined {
  if (newer.length !== older.length) return undefined;
  const keys = new Set(pins.map((pin) => pin.versionPath.at(-1)));
  const changed = new Map<number, string>();
  for (let i = 0; i < newer.length; i++) {
    if (newer[i] === older[i]) continue;
    const a = scalarLine(newer[i] ?? '');
    const b = scalarLine(older[i] ?? '');
    if (!a || !b || a.head !== b.head || !keys.has(a.key)) return undefined;
    changed.set(i, b.value);
  }
  return changed;
}

/** Files (of `files`) whose work-tree content is HEAD's: tracked, unmodified, not staged. */
async function unchangedFiles(
  root: string,
  prefix: string,
  files: readonly string[],
): Promise<Set<string>> {
  const status = await gitRun(root, [
    'status',
    '--porcelain=v1',
    '-z',
    '--untracked-files=all',
    '--no-renames',
    '--',
    ...files.map((file) => `:(literal)${prefix}${file}`),
  ]);
  const changed = new Set(
    status
      .split('\0')
      .filter((entry) => entry.length > 3)
      .map((entry) => entry.slice(3)),
  );
  // Porcelain paths are relative to the repository top, like the pathspecs given.
  return new Set(files.filter((file) => !changed.has(`${prefix}${file}`)));
}
