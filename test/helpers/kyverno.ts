// Runs the mutate rules of a Kyverno ClusterPolicy over one admission request, as Kyverno v1.18.2
// does (pkg/engine/handlers/mutation/common.go forEachMutator, pkg/engine/mutate/mutation.go
// ForEach, pkg/engine/context/loaders/variable.go), for the subset of Kyverno the policies airlock
// generates use — and refuses anything outside it, so a policy that grows past what this
// evaluates fails its test instead of passing untested:
//
// - match.any[].resources.kinds (Kind or Kind/subresource) and .operations; rule preconditions;
// - mutate.foreach[] with list, context[].variable {jmesPath, default}, preconditions.all with the
//   Equals and (numeric) LessThanOrEquals operators, and patchesJson6902 with `replace` operations;
// - `{{ expr }}` substitution: a string that is one expression becomes its value, otherwise the
//   value is spliced into the text (pkg/engine/variables);
// - JMESPath: identifiers and sub-expressions, raw strings '…', JSON literals `…`, multi-select
//   lists [a, b], ||, &&, !, parentheses, and the functions regex_match, regex_replace_all,
//   to_lower (Kyverno's, pkg/engine/jmespath/functions.go), join and length (JMESPath's).
//
// Regular expressions are Go's RE2; they are run as ECMAScript after a check that they use only
// the syntax the two read alike (no backslash, no flags, no lazy quantifiers, no lookaround, no
// named groups), and replacement templates are expanded as Go's Regexp.Expand does (`${1}`).
import { parse as parseYAML } from 'yaml';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** The policy uses something this simulation does not evaluate (the test must fail). */
export class KyvernoSimulationError extends Error {}
/** A JMESPath function given a value of the wrong type: an evaluation error in Kyverno too. */
export class JMESPathTypeError extends Error {}
const fail = (message: string): never => {
  throw new KyvernoSimulationError(message);
};
const typeError = (message: string): never => {
  throw new JMESPathTypeError(message);
};

// ---------------------------------------------------------------------------------- JMESPath

type Node =
  | { type: 'field'; name: string }
  | { type: 'sub'; left: Node; name: string }
  | { type: 'literal'; value: Json }
  | { type: 'call'; name: string; args: Node[] }
  | { type: 'list'; items: Node[] }
  | { type: 'or' | 'and'; left: Node; right: Node }
  | { type: 'not'; operand: Node };

type Token =
  | { t: 'id'; v: string }
  | { t: 'raw'; v: string }
  | { t: 'json'; v: Json }
  | { t: 'punct'; v: string };

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text.charAt(i);
    if (c === ' ' || c === '\t' || c === '\n') {
      i++;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i));
      tokens.push({ t: 'id', v: m?.[0] ?? '' });
      i += m?.[0].length ?? 1;
    } else if (c === "'") {
      // A raw string: only \' is an escape (go-jmespath lexer.consumeRawStringLiteral).
      let value = '';
      i++;
      for (;;) {
        if (i >= text.length) fail(`unterminated raw string in ${text}`);
        const d = text.charAt(i);
        if (d === '\\' && text.charAt(i + 1) === "'") {
          value += "'";
          i += 2;
        } else if (d === "'") {
          i++;
          break;
        } else {
          value += d;
          i++;
        }
      }
      tokens.push({ t: 'raw', v: value });
    } else if (c === '`') {
      const end = text.indexOf('`', i + 1);
      if (end < 0) fail(`unterminated JSON literal in ${text}`);
      tokens.push({ t: 'json', v: JSON.parse(text.slice(i + 1, end)) as Json });
      i = end + 1;
    } else if (text.startsWith('||', i) || text.startsWith('&&', i)) {
      tokens.push({ t: 'punct', v: text.slice(i, i + 2) });
      i += 2;
    } else if ('()[],.!'.includes(c)) {
      tokens.push({ t: 'punct', v: c });
      i++;
    } else {
      fail(`JMESPath outside the simulated subset at ${JSON.stringify(text.slice(i, i + 20))}`);
    }
  }
  return tokens;
}

function parseJMESPath(text: string): Node {
  const tokens = tokenize(text);
  let at = 0;
  const peek = (v: string): boolean => {
    const token = tokens[at];
    return token?.t === 'punct' && token.v === v;
  };
  const expect = (v: string): void => {
    if (!peek(v)) fail(`expected ${v} at token ${at} of ${text}`);
    at++;
  };
  const or = (): Node => {
    let left = and();
    while (peek('||')) {
      at++;
      left = { type: 'or', left, right: and() };
    }
    return left;
  };
  const and = (): Node => {
    let left = not();
    while (peek('&&')) {
      at++;
      left = { type: 'and', left, right: not() };
    }
    return left;
  };
  const not = (): Node => {
    if (peek('!')) {
      at++;
      return { type: 'not', operand: not() };
    }
    return primary();
  };
  const primary = (): Node => {
    const token = tokens[at++];
    if (token === undefined) return fail(`unexpected end of ${text}`);
    if (token.t === 'raw') return { type: 'literal', value: token.v };
    if (token.t === 'json') return { type: 'literal', value: token.v };
    if (token.t === 'punct' && token.v === '(') {
      const inner = or();
      expect(')');
      return inner;
    }
    if (token.t === 'punct' && token.v === '[') {
      const items = [or()];
      while (peek(',')) {
        at++;
        items.push(or());
      }
      expect(']');
      return { type: 'list', items };
    }
    if (token.t === 'id') {
      if (peek('(')) {
        at++;
        const args: Node[] = [];
        if (!peek(')')) {
          args.push(or());
          while (peek(',')) {
            at++;
            args.push(or());
          }
        }
        expect(')');
        return { type: 'call', name: token.v, args };
      }
      let node: Node = { type: 'field', name: token.v };
      while (peek('.')) {
        at++;
        const next = tokens[at++];
        if (next?.t !== 'id') return fail(`expected a field name after "." in ${text}`);
        node = { type: 'sub', left: node, name: next.v };
      }
      return node;
    }
    return fail(`unexpected ${JSON.stringify(token)} in ${text}`);
  };
  const node = or();
  if (at !== tokens.length) fail(`trailing tokens in ${text}`);
  return node;
}

/** JMESPath truthiness: false, null, "", [] and {} are false. */
function truthy(value: Json): boolean {
  if (value === null || value === false || value === '') return false;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === 'object') return Object.keys(value).length > 0;
  return true;
}

/** The RE2 syntax ECMAScript reads the same way; anything else is refused. */
export function goRegExp(source: string, flags = ''): RegExp {
  if (source.includes('\\')) fail(`regex with a backslash (not simulated): ${source}`);
  if (/\(\?(?!:)/.test(source)) fail(`regex with a group flag or lookaround: ${source}`);
  if (/[*+?}]\?/.test(source)) fail(`regex with a lazy quantifier: ${source}`);
  // Classes: "[]" opens a class holding "]" in Go but is an empty class in ECMAScript, and "[:"
  // inside a class starts a POSIX class in Go only.
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source.charAt(i);
    if (!inClass && c === '[') {
      inClass = true;
      if (source.charAt(i + 1) === '^') i++;
      if (source.charAt(i + 1) === ']') fail(`regex with "]" first in a class: ${source}`);
    } else if (inClass && c === '[' && source.charAt(i + 1) === ':') {
      fail(`regex with a POSIX class: ${source}`);
    } else if (inClass && c === ']') {
      inClass = false;
    }
  }
  return new RegExp(source, flags);
}

/** Go's Regexp.Expand template: $name or ${name}, $$ is "$". */
function goExpand(template: string, groups: readonly (string | undefined)[]): string {
  return template.replace(
    /\$(\$|\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))/g,
    (_, all: string, braced?: string, bare?: string) => {
      if (all === '$') return '$';
      const name = braced ?? bare ?? '';
      if (!/^[0-9]+$/.test(name)) fail(`named group ${name} in a replacement (not simulated)`);
      return groups[Number(name)] ?? '';
    },
  );
}

const str = (value: Json, fn: string): string => {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  return typeError(`${fn}: argument ${JSON.stringify(value)} is not a string or number`);
};

function call(name: string, args: Json[]): Json {
  switch (name) {
    case 'regex_match': {
      const [re, src] = args;
      if (typeof re !== 'string' || args.length !== 2) return fail('regex_match(string, string)');
      return goRegExp(re).test(str(src ?? null, name));
    }
    case 'regex_replace_all': {
      const [re, src, repl] = args;
      if (typeof re !== 'string' || args.length !== 3)
        return fail('regex_replace_all(string, string, string)');
      const template = str(repl ?? null, name);
      return str(src ?? null, name).replace(goRegExp(re, 'g'), (...m: unknown[]) => {
        const groups = m.slice(0, -2).map((g) => (typeof g === 'string' ? g : undefined));
        return goExpand(template, groups);
      });
    }
    case 'to_lower': {
      const [s] = args;
      if (args.length !== 1) return fail('to_lower takes one argument');
      if (typeof s !== 'string') return typeError('to_lower(string)');
      return s.toLowerCase();
    }
    case 'join': {
      const [glue, list] = args;
      if (args.length !== 2) return fail('join takes two arguments');
      if (
        typeof glue !== 'string' ||
        !Array.isArray(list) ||
        !list.every((x) => typeof x === 'string')
      )
        return typeError('join(string, array[string])');
      return list.join(glue);
    }
    case 'length': {
      const [x] = args;
      if (typeof x === 'string' || Array.isArray(x)) return x.length;
      if (x !== null && typeof x === 'object') return Object.keys(x).length;
      return typeError(`length(${JSON.stringify(x)})`);
    }
    default:
      return fail(`function ${name} is not simulated`);
  }
}

function evaluate(node: Node, data: Json): Json {
  switch (node.type) {
    case 'field':
      return data !== null && typeof data === 'object' && !Array.isArray(data)
        ? (data[node.name] ?? null)
        : null;
    case 'sub': {
      const left = evaluate(node.left, data);
      return left !== null && typeof left === 'object' && !Array.isArray(left)
        ? (left[node.name] ?? null)
        : null;
    }
    case 'literal':
      return node.value;
    case 'list':
      return data === null ? null : node.items.map((item) => evaluate(item, data));
    case 'or': {
      const left = evaluate(node.left, data);
      return truthy(left) ? left : evaluate(node.right, data);
    }
    case 'and': {
      const left = evaluate(node.left, data);
      return truthy(left) ? evaluate(node.right, data) : left;
    }
    case 'not':
      return !truthy(evaluate(node.operand, data));
    case 'call':
      return call(
        node.name,
        node.args.map((a) => evaluate(a, data)),
      );
  }
}

/** Evaluates a JMESPath expression of the simulated subset against `data`. */
export function jmespath(expression: string, data: Json): Json {
  return evaluate(parseJMESPath(expression), data);
}

/** Kyverno's `{{ }}` substitution in one string. */
function substituteString(text: string, data: Json): Json {
  const whole = /^\{\{(.*)\}\}$/s.exec(text);
  if (whole !== null && !whole[1]?.includes('{{')) return jmespath(whole[1] ?? '', data);
  return text.replace(/\{\{(.*?)\}\}/gs, (_, expression: string) => {
    const value = jmespath(expression, data);
    return typeof value === 'string' ? value : JSON.stringify(value);
  });
}

function substitute(value: Json, data: Json): Json {
  if (typeof value === 'string') return substituteString(value, data);
  if (Array.isArray(value)) return value.map((v) => substitute(v, data));
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, data)]));
  return value;
}

// ----------------------------------------------------------------------------- the engine

export interface AdmissionRequest {
  readonly kind: string;
  readonly subresource?: string;
  readonly operation: 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';
  readonly object: Json;
}

const KNOWN_RULE_KEYS = new Set(['name', 'match', 'mutate', 'preconditions']);
const KNOWN_FOREACH_KEYS = new Set(['list', 'context', 'preconditions', 'patchesJson6902']);

function text(value: Json | undefined, what: string): string {
  return typeof value === 'string' ? value : fail(`${what} is not a string`);
}

function asObject(value: unknown, what: string): Record<string, Json> {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    return fail(`${what} is not an object`);
  return value as Record<string, Json>;
}

function conditionsHold(conditions: unknown, data: Json): boolean {
  const { all, ...rest } = asObject(conditions, 'preconditions');
  if (Object.keys(rest).length > 0)
    fail(`preconditions ${Object.keys(rest).join(', ')} not simulated`);
  if (!Array.isArray(all)) return fail('preconditions.all is not a list');
  return all.every((c) => {
    const { key, operator, value } = asObject(c, 'condition');
    const left = substitute(key ?? null, data);
    if (operator === 'Equals') return JSON.stringify(left) === JSON.stringify(value);
    if (operator === 'LessThanOrEquals') {
      if (typeof left !== 'number' || typeof value !== 'number')
        return fail('LessThanOrEquals is simulated on numbers only');
      return left <= value;
    }
    return fail(`operator ${JSON.stringify(operator ?? null)} not simulated`);
  });
}

function matches(rule: Record<string, Json>, request: AdmissionRequest): boolean {
  const match = asObject(rule.match, 'match');
  if (!Array.isArray(match.any) || Object.keys(match).length !== 1)
    return fail('only match.any is simulated');
  const kind =
    request.subresource === undefined ? request.kind : `${request.kind}/${request.subresource}`;
  return match.any.some((entry) => {
    const resources = asObject(asObject(entry, 'match.any[]').resources, 'resources');
    const kinds = resources.kinds;
    const operations = resources.operations;
    if (!Array.isArray(kinds) || !Array.isArray(operations)) return fail('kinds and operations');
    return kinds.includes(kind) && operations.includes(request.operation);
  });
}

function pointerReplace(object: Json, path: string, value: Json): Json {
  const copy = structuredClone(object);
  const parts = path.split('/').slice(1);
  let at: Json = copy;
  for (const part of parts.slice(0, -1)) {
    if (Array.isArray(at)) at = at[Number(part)] ?? fail(`no ${path}`);
    else if (at !== null && typeof at === 'object') at = at[part] ?? fail(`no ${path}`);
    else fail(`no ${path}`);
  }
  const last = parts[parts.length - 1] ?? '';
  if (at === null || typeof at !== 'object' || Array.isArray(at) || !(last in at))
    fail(`replace of a missing ${path}`);
  (at as Record<string, Json>)[last] = value;
  return copy;
}

/** Which rule changed what: the mutated object and the names of the rules that patched it. */
export interface MutationResult {
  readonly object: Json;
  readonly applied: readonly string[];
}

/**
 * Applies the policy's mutate rules to the request in order, each rule seeing the object the
 * rules before it patched (Kyverno's applyRules: All). Throws KyvernoSimulationError for anything
 * outside the simulated subset, or for a rule that would fail in Kyverno (a patch on a missing path).
 */
export function mutate(policy: unknown, request: AdmissionRequest): MutationResult {
  const spec = asObject(asObject(policy, 'policy').spec, 'spec');
  if (!Array.isArray(spec.rules)) return fail('spec.rules');
  let object = request.object;
  const applied: string[] = [];
  for (const raw of spec.rules) {
    const rule = asObject(raw, 'rule');
    for (const key of Object.keys(rule))
      if (!KNOWN_RULE_KEYS.has(key)) fail(`rule field ${key} not simulated`);
    if (!matches(rule, request)) continue;
    const base = { request: { operation: request.operation, object } };
    if (rule.preconditions !== undefined && !conditionsHold(rule.preconditions, base)) continue;
    const foreach = asObject(rule.mutate, 'mutate').foreach;
    if (!Array.isArray(foreach)) return fail('mutate.foreach');
    const before = JSON.stringify(object);
    for (const rawEntry of foreach) {
      const entry = asObject(rawEntry, 'foreach');
      for (const key of Object.keys(entry))
        if (!KNOWN_FOREACH_KEYS.has(key)) fail(`foreach field ${key} not simulated`);
      const listed = jmespath(text(entry.list, 'foreach.list'), {
        request: { operation: request.operation, object },
      });
      const elements = Array.isArray(listed) ? listed : [listed];
      let patched = object;
      elements.forEach((element, index) => {
        if (element === null) return;
        const data: Record<string, Json> = {
          request: { operation: request.operation, object },
          element,
          elementIndex: index,
        };
        for (const rawContext of Array.isArray(entry.context) ? entry.context : []) {
          const { name: rawName, variable, ...rest } = asObject(rawContext, 'context');
          if (Object.keys(rest).length > 0) fail('context entry');
          const name = text(rawName, 'context name');
          const { jmesPath: rawPath, default: fallback, ...more } = asObject(variable, 'variable');
          if (Object.keys(more).length > 0) fail('variable');
          const jmesPath = text(rawPath, 'variable.jmesPath');
          // variable.go: an error or a null result takes the default; without one it fails.
          let value: Json;
          try {
            value = jmespath(text(substituteString(jmesPath, data), 'jmesPath'), data);
          } catch (error) {
            if (!(error instanceof JMESPathTypeError)) throw error;
            value = null;
          }
          if (value === null) value = fallback ?? fail(`context ${name} evaluated to nil`);
          data[name] = value;
        }
        if (entry.preconditions !== undefined && !conditionsHold(entry.preconditions, data)) return;
        const patchText = substituteString(text(entry.patchesJson6902, 'patchesJson6902'), data);
        const ops = parseYAML(text(patchText, 'patchesJson6902')) as Json;
        if (!Array.isArray(ops)) fail('patchesJson6902 is not a list');
        for (const op of ops as Json[]) {
          const { op: kind, path, value } = asObject(op, 'patch');
          if (kind !== 'replace') fail(`patch op ${JSON.stringify(kind ?? null)}`);
          patched = pointerReplace(patched, text(path, 'patch path'), value ?? null);
        }
      });
      object = patched;
    }
    if (JSON.stringify(object) !== before) applied.push(text(rule.name, 'rule name'));
  }
  return { object, applied };
}
