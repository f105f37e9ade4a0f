// The value model of YAML read the way Go reads it (sigs.k8s.io/yaml: YAML 1.1 resolution, then
// JSON semantics) and of Go text/template data: the int/float distinction is kept, because Go
// prints int64 340788154 as `340788154` and float64 340788154 as `3.40788154e+08`
// (../shared/reference/resourceset.md §1.3.5).

/** An int64 (JSON integral literal, YAML int). Floats are plain `number`. */
export class GoInt {
  readonly value: bigint;
  constructor(value: bigint | number) {
    this.value = typeof value === 'bigint' ? value : BigInt(value);
  }
  toString(): string {
    return this.value.toString();
  }
}

/** A Go map[string]any: insertion order is kept for reading, Go itself sorts when it prints. */
export type GoMap = Map<string, GoValue>;

/** nil, bool, string, int64, float64, []any, map[string]any. */
export type GoValue = null | boolean | string | GoInt | number | GoValue[] | GoMap;

export const isGoMap = (value: GoValue | undefined): value is GoMap => value instanceof Map;
export const isGoInt = (value: GoValue | undefined): value is GoInt => value instanceof GoInt;
