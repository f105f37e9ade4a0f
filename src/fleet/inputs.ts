// The ResourceSet inputs pipeline as the Flux Operator runs it (FO @17c6aea internal/inputs/*,
// ../shared/reference/resourceset.md §1.3): providers in a fixed order, the `provider` key, the
// Flatten and Permute strategies, provider-name normalization, adler32 ids, the 10000 cap.
import { AirlockError } from '../errors.ts';
import { GoInt, type GoMap, type GoValue, isGoMap } from '../goyaml/index.ts';

/** The Permute strategy refuses products larger than this (FO permuter.go `maxPermutations`). */
export const MAX_PERMUTATIONS = 10000;

/** adler32 (RFC 1950 §8.2) of the UTF-8 bytes, as Go's hash/adler32.Checksum. */
export function adler32(text: string): number {
  const bytes = Buffer.from(text, 'utf8');
  let a = 1;
  let b = 0;
  // 5552 is the largest n with 255n(n+1)/2 + (n+1)(65520) < 2^32 (zlib's NMAX), so the
  // modulo can wait that long without overflowing a double's exact integer range either.
  for (let i = 0; i < bytes.length;) {
    const end = Math.min(i + 5552, bytes.length);
    for (; i < end; i++) {
      a += bytes[i] as number;
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return (b * 65536 + a) >>> 0;
}

/** An input id: the adler32 of `text` printed as an unsigned decimal (FO inputs.ID, `%v`). */
export function inputID(text: string): string {
  return String(adler32(text));
}

const SPACE = /^\p{White_Space}$/u;
const PUNCT = /^\p{P}$/u;

/**
 * A provider name as a template key (FO keys.go NormalizeKeyForTemplate): lowercase, Unicode
 * spaces and punctuation become `_`, anything else outside [a-z0-9] (symbols such as `+ $ ^`)
 * is dropped, then runs of `_` collapse and leading/trailing ones go.
 */
export function normalizeKey(key: string): string {
  let mapped = '';
  for (const char of key) {
    // Go's unicode.ToLower maps one rune to one rune; toLowerCase may give more (İ → i̇): the
    // first code point is the simple mapping.
    const lower = String.fromCodePoint(char.toLowerCase().codePointAt(0) as number);
    if (SPACE.test(lower) || PUNCT.test(lower)) mapped += '_';
    else if (/^[a-z0-9]$/.test(lower)) mapped += lower;
  }
  return mapped
    .split('_')
    .filter((word) => word !== '')
    .join('_');
}

/** One provider's contribution: its name (for Permute) and its input sets in export order. */
export interface InputProviderSets {
  readonly name: string;
  readonly inputs: readonly GoMap[];
}

export type InputStrategy = 'Flatten' | 'Permute';

export interface CombineOptions {
  readonly strategy?: string | undefined;
  readonly includeEmptyProviders?: boolean | undefined;
}

/**
 * Combines the providers' input sets (the ResourceSet first, then the providers in
 * `compareProviderKeys` order: the caller's job) as FO combine.go does. Error messages are the
 * operator's: `failed to get inputs from <Kind>/<name>: …`.
 */
export function combineInputs(
  providers: readonly (InputProviderSets & { readonly kind: string })[],
  options: CombineOptions = {},
): GoMap[] {
  const strategy =
    options.strategy === undefined || options.strategy === '' ? 'Flatten' : options.strategy;
  if (strategy === 'Flatten') return providers.flatMap((p) => [...p.inputs]);
  if (strategy !== 'Permute')
    throw new AirlockError('RESOURCESET_INVALID', `unknown input strategy: '${strategy}'`, {
      data: { field: 'spec.inputStrategy.name' },
    });
  const permuter = new Permuter(options.includeEmptyProviders === true);
  for (const provider of providers) {
    try {
      permuter.addProvider(provider.name, provider.inputs);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new AirlockError(
        'RESOURCESET_INVALID',
        `failed to get inputs from ${provider.kind}/${provider.name}: ${message}`,
        { cause: error },
      );
    }
  }
  return permuter.combine();
}

/**
 * The Permute strategy (FO permuter.go): the Cartesian product of the providers' input sets,
 * each nested under its provider's normalized name, with `id` = adler32 of
 * `name1=i1/name2=i2/…`. Row-major: the first provider varies slowest.
 */
export class Permuter {
  readonly #includeEmpty: boolean;
  readonly #scoped: { name: string; inputs: readonly GoMap[] }[] = [];
  #expected = 0;
  #done = false;

  constructor(includeEmptyProviders = false) {
    this.#includeEmpty = includeEmptyProviders;
  }

  addProvider(name: string, inputs: readonly GoMap[]): void {
    if (this.#done)
      throw new Error('permutations have already been generated, cannot add more inputs');
    if (!this.#includeEmpty && inputs.length === 0) return;
    this.#expected = this.#scoped.length === 0 ? inputs.length : this.#expected * inputs.length;
    if (this.#expected > MAX_PERMUTATIONS)
      throw new Error(
        `adding provider '${name}' with ${inputs.length} inputs would exceed the maximum allowed permutations. max: ${MAX_PERMUTATIONS}, got: ${this.#expected}`,
      );
    const normalized = normalizeKey(name);
    if (normalized === '') throw new Error(`normalized provider name is empty: '${name}'`);
    this.#scoped.push({ name: normalized, inputs });
  }

  combine(): GoMap[] {
    this.#done = true;
    const providers = this.#scoped;
    if (providers.length === 0 || providers.some((p) => p.inputs.length === 0)) return [];
    const result: GoMap[] = [];
    const chosen = new Array<number>(providers.length).fill(0);
    for (;;) {
      const permutation: GoMap = new Map();
      const idParts: string[] = [];
      providers.forEach((provider, i) => {
        const index = chosen[i] as number;
        // A later provider with the same normalized name replaces an earlier one (maps.Copy).
        permutation.set(provider.name, provider.inputs[index] as GoMap);
        idParts.push(`${provider.name}=${index}`);
      });
      permutation.set('id', inputID(idParts.join('/')));
      result.push(permutation);
      // Odometer step: the last provider varies fastest.
      let i = providers.length - 1;
      for (; i >= 0; i--) {
        const next = (chosen[i] as number) + 1;
        if (next < (providers[i] as { inputs: readonly GoMap[] }).inputs.length) {
          chosen[i] = next;
          break;
        }
        chosen[i] = 0;
      }
      if (i < 0) return result;
    }
  }
}

/** The `provider` key every input set gets (FO provider.go getFromProvider). */
export function withProvider(
  inputs: readonly GoMap[],
  provider: { apiVersion: string; kind: string; name: string; namespace: string },
): GoMap[] {
  return inputs.map((input) => {
    const annotated: GoMap = new Map(input);
    annotated.set(
      'provider',
      new Map<string, GoValue>([
        ['apiVersion', provider.apiVersion],
        ['kind', provider.kind],
        ['name', provider.name],
        ['namespace', provider.namespace],
      ]),
    );
    return annotated;
  });
}

/**
 * A value as it comes back from a trip through Go's encoding/json and apimachinery's
 * util/json (how the operator stores inputs and resources): integral floats below 1e21 print
 * without a fraction, so they come back as int64 (`1.0` in YAML reaches templates as `1`).
 */
export function jsonRoundTrip(value: GoValue): GoValue {
  if (typeof value === 'number') {
    if (!Number.isFinite(value))
      throw new AirlockError(
        'RESOURCESET_INVALID',
        `json: unsupported value: ${goFloatName(value)}`,
      );
    if (Number.isInteger(value) && Math.abs(value) < 1e21) {
      const big = BigInt(value);
      if (big >= -(2n ** 63n) && big < 2n ** 63n) return new GoInt(big);
    }
    return value;
  }
  if (Array.isArray(value)) return value.map(jsonRoundTrip);
  if (isGoMap(value)) {
    const out: GoMap = new Map();
    for (const [k, v] of value) out.set(k, jsonRoundTrip(v));
    return out;
  }
  return value;
}

function goFloatName(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  return value > 0 ? '+Inf' : '-Inf';
}
