// Go's static types as text/template sees them. The template engine is dynamically typed, but it
// checks arguments against the Go parameter types of the function it calls (text/template
// exec.go validateType / evalArg): `indent` takes an `int`, so an int64 read from JSON is refused
// with "wrong type for value; expected int; got int64". To report those errors as Go does, values
// carry just enough type: `GoPlainInt` is Go `int` (template constants, `len`, `atoi`); plain
// `GoInt` is `int64` (JSON numbers, `add`); typed slices ([]string, []int) are marked.

import { AirlockError } from '../errors.ts';
import { GoInt, type GoValue } from '../goyaml/index.ts';

/** A Go `int` (as opposed to `int64`): what template number constants, `len` and `atoi` give. */
export class GoPlainInt extends GoInt {}

/** The Go type names text/template's errors and sprig's typeOf print. */
export type GoType =
  | 'interface {}'
  | 'string'
  | 'bool'
  | 'int'
  | 'int64'
  | 'float64'
  | '[]interface {}'
  | '[]string'
  | '[]int'
  | 'map[string]interface {}'
  | 'map[string]string';

const sliceTypes = new WeakMap<GoValue[], GoType>();
const mapTypes = new WeakMap<Map<string, GoValue>, GoType>();

/** Marks `list` as a Go []string / []int (printing is the same; typeOf and argument checks differ). */
export function typedSlice<T extends GoValue[]>(list: T, type: '[]string' | '[]int'): T {
  sliceTypes.set(list, type);
  return list;
}

/** Marks `map` as a Go map[string]string (sprig `split` returns one). */
export function typedMap<T extends Map<string, GoValue>>(map: T, type: 'map[string]string'): T {
  mapTypes.set(map, type);
  return map;
}

/** The dynamic Go type of a value, undefined for nil (Go prints `<nil>`). */
export function goTypeOf(value: GoValue | undefined): GoType | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'boolean') return 'bool';
  if (typeof value === 'string') return 'string';
  if (typeof value === 'number') return 'float64';
  if (value instanceof GoPlainInt) return 'int';
  if (value instanceof GoInt) return 'int64';
  if (Array.isArray(value)) return sliceTypes.get(value) ?? '[]interface {}';
  return mapTypes.get(value) ?? 'map[string]interface {}';
}

/** reflect.Kind names (sprig kindOf): `int`, `int64`, `float64`, `slice`, `map`, `invalid`… */
export function goKindOf(value: GoValue | undefined): string {
  const type = goTypeOf(value);
  if (type === undefined) return 'invalid';
  if (type.startsWith('[]')) return 'slice';
  if (type.startsWith('map[')) return 'map';
  return type;
}

/** A function callable from a template. Throw (any Error) to fail: Go's second `error` result. */
export type GoFunc = ((...args: GoValue[]) => GoValue) & { signature?: GoSignature };

/**
 * Parameter types of a Go function. `params` are the fixed ones; `variadic` the element type of a
 * trailing `...T`. A function without a signature takes `...interface{}`.
 */
export interface GoSignature {
  readonly params: readonly GoType[];
  readonly variadic?: GoType;
}

export type FuncMap = Record<string, GoFunc>;

/** Attaches Go parameter types to `fn`, so that template calls are checked as Go checks them. */
export function goFunc(
  fn: (...args: GoValue[]) => GoValue,
  params: readonly GoType[],
  variadic?: GoType,
): GoFunc {
  const f = fn as GoFunc;
  f.signature = variadic === undefined ? { params } : { params, variadic };
  return f;
}

/** Integer value of a GoInt as a JS number (Go int is 64-bit; values beyond 2^53 lose precision). */
export function intOf(value: GoInt): number {
  return Number(value.value);
}

export const int = (n: number | bigint): GoPlainInt => new GoPlainInt(BigInt.asIntN(64, BigInt(n)));
export const int64 = (n: number | bigint): GoInt => new GoInt(BigInt.asIntN(64, BigInt(n)));

/** An execution failure raised by a function (becomes `error calling NAME: message`). */
export class GoFuncError extends Error {}

export function templateFailed(message: string): AirlockError {
  return new AirlockError('TEMPLATE_FAILED', message);
}
