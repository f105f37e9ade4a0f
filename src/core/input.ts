// Values a user hands in that several commands share: one parser each, so `--annotation`, a tag
// regex and a semver range mean the same thing in copy, ls, artifact push, sign and mirror.
// Failures are INPUT_INVALID with `data.option` naming the library option; the CLI maps it to the
// flag (the library names no flags).
import { AirlockError } from '../errors.ts';
import { isValidRange } from './semver.ts';
import { hasControl } from './text.ts';

/**
 * `key=value` pairs, as `flux push artifact --annotations` and `cosign sign -a` read them: split on
 * "=", exactly two parts (so a value cannot contain "="), keys non-empty. A later key wins. Every
 * problem is reported at once.
 */
export function parseAnnotations(
  items: readonly string[],
  option = 'annotations',
): Record<string, string> {
  const annotations: Record<string, string> = {};
  const problems: string[] = [];
  for (const item of items) {
    const parts = item.split('=');
    const [key, value] = parts;
    if (parts.length !== 2 || key === undefined || value === undefined || key === '')
      problems.push(
        `"${item}" is not key=value (the value cannot contain "=", as in Flux and cosign)`,
      );
    else if (hasControl(item)) problems.push(`"${key}" holds a control character`);
    else annotations[key] = value;
  }
  if (problems.length > 0)
    throw new AirlockError('INPUT_INVALID', 'invalid annotation', {
      details: problems,
      data: { option },
    });
  return annotations;
}

/** A tag filter as a regular expression (unanchored, JavaScript syntax), or INPUT_INVALID. */
export function compileTagPattern(pattern: string, option = 'tagPattern'): RegExp {
  try {
    return new RegExp(pattern);
  } catch (error) {
    throw new AirlockError('INPUT_INVALID', `"${pattern}" is not a valid regular expression`, {
      cause: error,
      data: { option },
    });
  }
}

/** A semver range as node-semver (Helm, Flux) reads it, or INPUT_INVALID. Returns the range. */
export function checkSemverRange(range: string, option = 'semverRange'): string {
  if (!isValidRange(range))
    throw new AirlockError('INPUT_INVALID', `"${range}" is not a valid semver range`, {
      details: ['Examples: ">=1.2 <2", "^3", "~1.4", "*".'],
      data: { option },
    });
  return range;
}
