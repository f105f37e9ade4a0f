import { AirlockError, ConfigError } from '../errors.ts';
import {
  type BatchReport,
  checkSemverRange,
  compileTagPattern,
  mapLimit,
  tagsInRange,
  throwIfAborted,
} from '../core/index.ts';
import { copyAll, type CopyItem, type CopyOptions, type CopyRequest } from './copy.ts';
import { formatReference, parseReference, type Reference } from './reference.ts';
import type { Repository } from './target.ts';

/** Anything that opens the repository a reference names: a session, or a test's own map. */
export interface RepositoryOpener {
  open(ref: Reference): Repository;
}

/** The tag or digest a reference names (tag wins for display; digest wins for reads). */
export function referenceTarget(ref: Reference): string | undefined {
  return ref.digest ?? ref.tag;
}

export interface CopySpec {
  readonly source: string;
  readonly destination: string;
}

export interface ExpandOptions {
  /**
   * Keep only tags matching this regular expression (whole-repository copies). Text is compiled
   * here: an invalid expression is INPUT_INVALID with `data.option` "tagPattern".
   */
  readonly tagPattern?: RegExp | string;
  /**
   * Keep only tags whose semver version satisfies this range (whole-repository copies); an
   * invalid range is INPUT_INVALID with `data.option` "semverRange".
   */
  readonly semverRange?: string;
  /** Repository listings in flight at once. */
  readonly concurrency?: number;
  /** Stops the listing (ABORTED) before more repositories are listed. */
  readonly signal?: AbortSignal;
}

/**
 * Turns `SRC DST` pairs into copy requests. A source with a tag or digest is one request; a bare
 * repository is every tag in it (after filters), each copied under the same tag. A destination
 * tag renames; a destination without one keeps the source's tag.
 */
export async function expandCopySpecs(
  session: RepositoryOpener,
  specs: readonly CopySpec[],
  options: ExpandOptions = {},
): Promise<CopyRequest[]> {
  // Check every input first so a bad filter or reference fails before any request is sent.
  const pattern =
    typeof options.tagPattern === 'string'
      ? compileTagPattern(options.tagPattern)
      : options.tagPattern;
  const range =
    options.semverRange === undefined ? undefined : checkSemverRange(options.semverRange);
  const parsed = specs.map((spec) => {
    const source = parseReference(spec.source);
    const destination = parseReference(spec.destination);
    if (destination.digest !== undefined) {
      throw new AirlockError('INPUT_INVALID', `destination ${spec.destination} names a digest`, {
        details: [
          "A destination is a repository, optionally with a tag: the digest is always the source's.",
        ],
      });
    }
    if (referenceTarget(source) === undefined && destination.tag !== undefined) {
      throw new AirlockError(
        'INPUT_INVALID',
        `cannot copy the whole repository ${spec.source} to one tag (${formatReference(destination)})`,
        {
          details: ['Name a tag on the source, or drop the tag from the destination.'],
        },
      );
    }
    return { source, destination };
  });
  // Repository listings run concurrently: with many repositories they are the first thing a
  // whole-registry copy waits for.
  const expanded = await mapLimit(
    parsed,
    options.concurrency ?? 8,
    async ({ source, destination }): Promise<CopyRequest[]> => {
      throwIfAborted(options.signal);
      const src = session.open(source);
      const dst = session.open(destination);
      const target = referenceTarget(source);
      if (target !== undefined) {
        const tag = destination.tag ?? source.tag;
        return [
          {
            source: src,
            reference: target,
            destination: dst,
            tags: tag === undefined ? [] : [tag],
          },
        ];
      }
      // One listing of the destination replaces a HEAD per tag for the tags it does not have yet.
      const [sourceTags, destinationTagList] = await Promise.all([src.listTags(), dst.listTags()]);
      let tags = sourceTags;
      if (pattern) tags = tags.filter((t) => pattern.test(t));
      if (range !== undefined) tags = tagsInRange(tags, range);
      const destinationTags = new Set(destinationTagList);
      return tags.sort().map((tag) => ({
        source: src,
        reference: tag,
        destination: dst,
        tags: [tag],
        destinationTags,
      }));
    },
  );
  return expanded.flat();
}

export type CopySpecsOptions = ExpandOptions & CopyOptions;

/**
 * The whole copy in one call: expands `SRC DST` pairs (whole repositories become one copy per tag,
 * after the filters) and copies them, reporting every copy in the one batch report shape.
 * Failures to list a repository fail the call; a copy that fails is that item's record.
 */
export async function copySpecs(
  session: RepositoryOpener,
  specs: readonly CopySpec[],
  options: CopySpecsOptions = {},
): Promise<BatchReport<CopyItem>> {
  const requests = await expandCopySpecs(session, specs, options);
  return copyAll(requests, options);
}

/** Parses a copy list: one `SRC DST` pair per line; `#` comments and blank lines allowed. */
export function parseCopyList(text: string, file: string): CopySpec[] {
  const specs: CopySpec[] = [];
  const problems: { where: string; message: string }[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/#.*$/, '').trim();
    if (line === '') return;
    const fields = line.split(/\s+/);
    if (fields.length !== 2) {
      problems.push({
        where: `${file}:${i + 1}`,
        message: `expected "SOURCE DESTINATION", found ${fields.length} field(s)`,
      });
      return;
    }
    const [source = '', destination = ''] = fields;
    for (const [what, value] of [
      ['source', source],
      ['destination', destination],
    ] as const) {
      try {
        parseReference(value);
      } catch (error) {
        problems.push({
          where: `${file}:${i + 1}`,
          message: `${what}: ${(error as Error).message}`,
        });
      }
    }
    specs.push({ source, destination });
  });
  if (problems.length > 0) {
    throw new ConfigError(`${file}: ${problems.length} problem(s) in the copy list`, problems);
  }
  return specs;
}
