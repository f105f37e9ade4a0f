// sigs.k8s.io/yaml Marshal: json.Marshal, then JSONToYAML, which reads the JSON back with go-yaml
// v2 (so every JSON number is re-resolved as a YAML 1.1 scalar) and emits it with go-yaml v2
// Marshal (kubernetes-sigs/yaml yaml.go Marshal/JSONToYAML; go-yaml/yaml@v2.4.0 encode.go).

import { AirlockError } from '../errors.ts';
import { type EmitEvent, emitDocument, type ScalarStyle } from './emitter.ts';
import { formatFloatG, isBase60Float, resolve, STR_TAG } from './resolve.ts';
import { goKeyCompare } from './sorter.ts';
import { GoInt, type GoValue } from './value.ts';

const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

/** encode.go stringv: literal for text with "\n", plain when it reads back as the same string. */
function stringStyle(s: string): ScalarStyle {
  if (s.includes('\n')) return 'literal';
  // The same keys and values recur across thousands of objects: resolve each short one once.
  const cached = STYLES.get(s);
  if (cached !== undefined) return cached;
  const canUsePlain = resolve('', s).tag === STR_TAG && !isBase60Float(s);
  const style = canUsePlain ? 'plain' : 'double';
  if (s.length <= 256) {
    if (STYLES.size >= 20_000) STYLES.clear();
    STYLES.set(s, style);
  }
  return style;
}
const STYLES = new Map<string, ScalarStyle>();

/**
 * The text a float64 ends up as: json.Marshal writes it ('f' form when 1e-6 <= |f| < 1e21, else
 * 'e'), go-yaml resolves that text back (an integral literal becomes an int, a uint64 past int64),
 * and encode.go intv/uintv/floatv print it (floatv: FormatFloat 'g' -1 64).
 */
function floatText(f: number): string {
  if (!Number.isFinite(f)) {
    const shown = Number.isNaN(f) ? 'NaN' : f > 0 ? '+Inf' : '-Inf';
    throw new AirlockError(
      'INPUT_INVALID',
      `error marshaling into JSON: json: unsupported value: ${shown}`,
    );
  }
  if (Number.isInteger(f) && Math.abs(f) < 1e21) {
    const i = BigInt(f);
    if (i <= UINT64_MAX && i >= -(2n ** 63n)) return i.toString();
    // Past uint64 the JSON integer no longer parses as an int and resolves as a float.
  }
  return formatFloatG(f, 64);
}

const SURROGATE = /[\uD800-\uDFFF]/;
/** JS strings may hold lone surrogates; Go's json.Marshal writes invalid UTF-8 as U+FFFD. */
const wellFormed = (s: string): string =>
  !SURROGATE.test(s)
    ? s
    : s.replace(
        /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g,
        '\uFFFD',
      );

function events(value: GoValue, out: EmitEvent[]): void {
  if (value === null) {
    out.push({ type: 'scalar', value: 'null', style: 'plain' });
  } else if (typeof value === 'boolean') {
    out.push({ type: 'scalar', value: value ? 'true' : 'false', style: 'plain' });
  } else if (typeof value === 'string') {
    const s = wellFormed(value);
    out.push({ type: 'scalar', value: s, style: stringStyle(s) });
  } else if (typeof value === 'number') {
    out.push({ type: 'scalar', value: floatText(value), style: 'plain' });
  } else if (value instanceof GoInt) {
    if (value.value > INT64_MAX || value.value < -(2n ** 63n)) {
      throw new AirlockError('INPUT_INVALID', `integer ${value.value} does not fit in an int64`);
    }
    out.push({ type: 'scalar', value: value.value.toString(), style: 'plain' });
  } else if (Array.isArray(value)) {
    out.push({ type: 'seq-start' });
    for (const item of value) events(item, out);
    out.push({ type: 'seq-end' });
  } else {
    out.push({ type: 'map-start' });
    // JSON object keys are strings; JSONToYAML reads them back as strings (quoted in JSON), so
    // go-yaml's keyList compares them as strings. json.Marshal fixes invalid UTF-8 first, which
    // may merge two keys into one: the later one wins, as in a Go map assignment.
    const entries = new Map<string, GoValue>();
    for (const [k, v] of value) entries.set(wellFormed(k), v);
    const keys = [...entries.keys()].sort(goKeyCompare);
    for (const key of keys) {
      out.push({ type: 'scalar', value: key, style: stringStyle(key) });
      events(entries.get(key) ?? null, out);
    }
    out.push({ type: 'map-end' });
  }
}

/**
 * sigs.k8s.io/yaml.Marshal of a JSON-like Go value: the YAML the Flux operator prints (keys in
 * go-yaml order, 2-space indentation, sequences flush with their key, quoting and folding at 80
 * columns as go-yaml v2 does). The text ends with "\n". NaN and ±Inf fail, as json.Marshal does.
 */
export function marshalGoYAML(value: GoValue): string {
  const out: EmitEvent[] = [];
  events(value, out);
  return emitDocument(out);
}

/** sigs.k8s.io/yaml.JSONToYAML on a decoded JSON value: the same emission as marshalGoYAML. */
export const jsonToYAML = marshalGoYAML;
