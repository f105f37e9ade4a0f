// Template execution (golang/go src/text/template/exec.go), re-expressed for the value model:
// pipelines, field chains on maps and on function results (`inputs.a.b`), variables, if/with/
// range (slices, maps in sorted key order, integers as in Go 1.22, break/continue), template
// invocation, Go's argument type checks, missingkey handling, and errors formatted as
// `template: NAME:LINE:COL: executing "NAME" at <node>: message` (ErrorContext: COL is the
// 0-based byte offset in its line; the node text is cut at 20 bytes).

import { AirlockError } from '../errors.ts';
import { GoInt, type GoValue } from '../goyaml/index.ts';
import { formatValue } from './format.ts';
import {
  type ArgNode,
  type BranchNode,
  type CommandNode,
  type IdentifierNode,
  type Node,
  nodeString,
  type NumberNode,
  type PipeNode,
  type TemplateNode,
  type Tree,
} from './parse.ts';
import { type FuncMap, type GoFunc, type GoType, GoPlainInt, goTypeOf } from './types.ts';

/** The range iterations one execution may run (see countIteration). */
export const MAX_RANGE_ITERATIONS = 10_000_000;

/** An invalid reflect.Value (nothing: a missing key, nil data) is `undefined`; `null` is nil. */
export type Value = GoValue | undefined;

const MISSING = Symbol('missing');
type Final = Value | typeof MISSING;

/** {{break}} and {{continue}} unwind to their range as exceptions (exec.go walkBreak/walkContinue). */
class LoopSignal extends Error {}
const BREAK = new LoopSignal('break');
const CONTINUE = new LoopSignal('continue');

const MAX_DEPTH = 1000;

export interface ExecContext {
  readonly trees: ReadonlyMap<string, Tree>;
  readonly funcs: FuncMap;
  readonly builtins: FuncMap;
  readonly missingKey: 'error' | 'default';
}

interface Variable {
  readonly name: string;
  value: Value;
}

const byteLength = (s: string): number => Buffer.byteLength(s);

/** Go truth (exec.go isTrue): zero values and empty containers are false. */
export function isTrue(value: Value): boolean {
  if (value === null || value === undefined) return false;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') return value.length > 0;
  if (typeof value === 'number') return value !== 0;
  if (value instanceof GoInt) return value.value !== 0n;
  if (Array.isArray(value)) return value.length > 0;
  return value.size > 0;
}

function sortedMapKeys(map: Map<string, GoValue>): string[] {
  return [...map.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

export class ExecState {
  private tree: Tree;
  private node: Node | undefined;
  private vars: Variable[];
  private depth = 0;
  private readonly out: string[] = [];
  private readonly ctx: ExecContext;

  constructor(ctx: ExecContext, tree: Tree, data: Value) {
    this.ctx = ctx;
    this.tree = tree;
    this.vars = [{ name: '$', value: data }];
  }

  run(data: Value): string {
    this.walk(data, this.tree.root);
    return this.out.join('');
  }

  /** Raises an execution error at the current node, formatted as Go's state.errorf. */
  errorf(message: string): never {
    const name = this.tree.name;
    if (this.node === undefined) {
      throw new AirlockError('TEMPLATE_FAILED', `template: ${name}: ${message}`);
    }
    const prefix = this.tree.text.slice(0, this.node.pos);
    const lineStart = prefix.lastIndexOf('\n');
    const column = byteLength(lineStart < 0 ? prefix : prefix.slice(lineStart + 1));
    const line = 1 + (prefix.match(/\n/g)?.length ?? 0);
    let context = nodeString(this.node);
    if (byteLength(context) > 20) context = `${Buffer.from(context).subarray(0, 20).toString()}...`;
    throw new AirlockError(
      'TEMPLATE_FAILED',
      `template: ${this.tree.parseName}:${line}:${column}: executing ${JSON.stringify(name)} at <${context}>: ${message}`,
    );
  }

  private at(node: Node): void {
    this.node = node;
  }

  private push(name: string, value: Value): void {
    this.vars.push({ name, value });
  }

  private mark(): number {
    return this.vars.length;
  }

  private pop(mark: number): void {
    this.vars.length = mark;
  }

  private setVar(name: string, value: Value): void {
    for (let i = this.vars.length - 1; i >= 0; i--) {
      const v = this.vars[i];
      if (v?.name === name) {
        v.value = value;
        return;
      }
    }
    this.errorf(`undefined variable: ${name}`);
  }

  private setTopVar(n: number, value: Value): void {
    const v = this.vars[this.vars.length - n];
    if (v) v.value = value;
  }

  private varValue(name: string): Value {
    for (let i = this.vars.length - 1; i >= 0; i--) {
      const v = this.vars[i];
      if (v?.name === name) return v.value;
    }
    return this.errorf(`undefined variable: ${name}`);
  }

  private walk(dot: Value, node: Node): void {
    this.at(node);
    // eslint-disable-next-line @typescript-eslint/switch-exhaustiveness-check -- default covers the rest
    switch (node.type) {
      case 'action': {
        const value = this.evalPipeline(dot, node.pipe);
        if (node.pipe.decl.length === 0) this.printValue(node, value);
        return;
      }
      case 'if':
      case 'with':
        this.walkIfOrWith(dot, node);
        return;
      case 'list':
        for (const n of node.nodes) this.walk(dot, n);
        return;
      case 'range':
        this.walkRange(dot, node);
        return;
      case 'template':
        this.walkTemplate(dot, node);
        return;
      case 'text':
        this.out.push(node.text);
        return;
      case 'break':
        throw BREAK;
      case 'continue':
        throw CONTINUE;
      default:
        this.errorf(`unknown node: ${nodeString(node)}`);
    }
  }

  private walkIfOrWith(dot: Value, node: BranchNode): void {
    const mark = this.mark();
    try {
      const value = this.evalPipeline(dot, node.pipe);
      if (isTrue(value)) this.walk(node.type === 'with' ? value : dot, node.list);
      else if (node.elseList) this.walk(dot, node.elseList);
    } finally {
      this.pop(mark);
    }
  }

  #iterations = 0;

  /**
   * A budget Go does not have: templates come from repositories anyone can open a merge request
   * on, and `range 1000000000` (or nested ranges) would stall a CI gate for minutes. The limit is
   * far above any real fleet (a ResourceSet has at most 10,000 input sets).
   */
  private countIteration(): void {
    if (++this.#iterations > MAX_RANGE_ITERATIONS)
      this.errorf(
        `range exceeds ${MAX_RANGE_ITERATIONS} iterations in one execution (airlock's limit)`,
      );
  }

  private walkRange(dot: Value, r: BranchNode): void {
    this.at(r);
    const outer = this.mark();
    try {
      const value = this.evalPipeline(dot, r.pipe);
      const mark = this.mark();
      const decl = r.pipe.decl;
      const oneIteration = (index: Value, elem: Value): void => {
        this.countIteration();
        if (decl.length > 0) {
          if (r.pipe.isAssign) this.setVar(decl[0]?.ident[0] ?? '', decl.length > 1 ? index : elem);
          else this.setTopVar(1, elem);
        }
        if (decl.length > 1) {
          if (r.pipe.isAssign) this.setVar(decl[1]?.ident[0] ?? '', elem);
          else this.setTopVar(2, index);
        }
        try {
          this.walk(elem, r.list);
        } catch (signal) {
          if (signal !== CONTINUE) throw signal;
        } finally {
          this.pop(mark);
        }
      };
      const iterate = (): boolean => {
        if (value === null || value === undefined) return false;
        if (Array.isArray(value)) {
          value.forEach((elem, i) => oneIteration(new GoPlainInt(i), elem));
          return value.length > 0;
        }
        if (value instanceof Map) {
          for (const key of sortedMapKeys(value)) oneIteration(key, value.get(key) ?? null);
          return value.size > 0;
        }
        if (value instanceof GoInt) {
          // Go 1.22: range over an integer n yields 0…n-1, of n's type.
          if (decl.length > 1) {
            this.errorf(`can't use ${formatValue(value)} to iterate over more than one variable`);
          }
          const make = (i: bigint): GoInt =>
            value instanceof GoPlainInt ? new GoPlainInt(i) : new GoInt(i);
          for (let i = 0n; i < value.value; i++) oneIteration(undefined, make(i));
          return value.value > 0n;
        }
        return this.errorf(`range can't iterate over ${formatValue(value)}`);
      };
      let ran: boolean;
      try {
        ran = iterate();
      } catch (signal) {
        if (signal !== BREAK) throw signal;
        ran = true;
      }
      if (!ran && r.elseList) this.walk(dot, r.elseList);
    } finally {
      this.pop(outer);
    }
  }

  private walkTemplate(dot: Value, t: TemplateNode): void {
    this.at(t);
    const tree = this.ctx.trees.get(t.name);
    if (tree === undefined) this.errorf(`template ${JSON.stringify(t.name)} not defined`);
    if (this.depth >= MAX_DEPTH) this.errorf(`exceeded maximum template depth (${MAX_DEPTH})`);
    const newDot = t.pipe ? this.evalPipeline(dot, t.pipe) : undefined;
    const saved = { tree: this.tree, vars: this.vars };
    this.depth++;
    this.tree = tree;
    this.vars = [{ name: '$', value: newDot }];
    try {
      this.walk(newDot, tree.root);
    } finally {
      this.depth--;
      this.tree = saved.tree;
      this.vars = saved.vars;
    }
  }

  private evalPipeline(dot: Value, pipe: PipeNode): Value {
    this.at(pipe);
    let value: Final = MISSING;
    for (const cmd of pipe.cmds) {
      value = this.evalCommand(dot, cmd, value);
      // An interface{} holding nil becomes the invalid value (exec.go: "lovely!").
      if (value === null) value = undefined;
    }
    const result = value === MISSING ? undefined : value;
    for (const variable of pipe.decl) {
      const name = variable.ident[0] ?? '';
      if (pipe.isAssign) this.setVar(name, result);
      else this.push(name, result);
    }
    return result;
  }

  private notAFunction(args: readonly ArgNode[], final: Final): void {
    if (args.length > 1 || final !== MISSING) {
      this.errorf(`can't give argument to non-function ${nodeString(args[0] as ArgNode)}`);
    }
  }

  private evalCommand(dot: Value, cmd: CommandNode, final: Final): Value {
    const first = cmd.args[0] as ArgNode;
    // eslint-disable-next-line @typescript-eslint/switch-exhaustiveness-check -- default covers the rest
    switch (first.type) {
      case 'field':
        this.at(first);
        return this.evalFieldChain(dot, first.ident, cmd.args, final, false);
      case 'chain':
        return this.evalChain(dot, first, cmd.args, final);
      case 'identifier':
        return this.evalFunction(dot, first, cmd, cmd.args, final);
      case 'pipe':
        this.notAFunction(cmd.args, final);
        return this.evalPipeline(dot, first);
      case 'variable':
        return this.evalVariable(first, cmd.args, final);
      default:
        break;
    }
    this.at(first);
    this.notAFunction(cmd.args, final);
    switch (first.type) {
      case 'bool':
        return first.value;
      case 'dot':
        return dot;
      case 'nil':
        return this.errorf('nil is not a command');
      case 'number':
        return this.idealConstant(first);
      case 'string':
        return first.text;
    }
  }

  private idealConstant(constant: NumberNode): Value {
    this.at(constant);
    const text = constant.text;
    const isHexInt = /^0[xX]/.test(text) && !/[pP]/.test(text);
    if (constant.isFloat && !isHexInt && !text.startsWith("'") && /[.eEpP]/.test(text)) {
      return constant.float;
    }
    if (constant.isInt) return new GoPlainInt(constant.int);
    return this.errorf(`${text} overflows int`);
  }

  private evalChain(
    dot: Value,
    chain: ArgNode & { type: 'chain' },
    args: readonly ArgNode[] | undefined,
    final: Final,
  ): Value {
    this.at(chain);
    if (chain.node.type === 'nil') {
      this.errorf(`indirection through explicit nil in ${nodeString(chain)}`);
    }
    const receiver = this.evalArg(dot, undefined, chain.node);
    return this.evalFieldChain(receiver, chain.field, args, final, false);
  }

  private evalVariable(
    variable: ArgNode & { type: 'variable' },
    args: readonly ArgNode[] | undefined,
    final: Final,
  ): Value {
    this.at(variable);
    const value = this.varValue(variable.ident[0] ?? '');
    if (variable.ident.length === 1) {
      this.notAFunction(args ?? [variable], final);
      return value;
    }
    return this.evalFieldChain(value, variable.ident.slice(1), args, final, false);
  }

  private evalFieldChain(
    receiver: Value,
    ident: readonly string[],
    args: readonly ArgNode[] | undefined,
    final: Final,
    receiverIsInterface: boolean,
  ): Value {
    let current = receiver;
    let isInterface = receiverIsInterface;
    for (let i = 0; i < ident.length - 1; i++) {
      const fromMap = current instanceof Map;
      current = this.evalField(ident[i] ?? '', undefined, MISSING, current, isInterface);
      isInterface = fromMap;
    }
    return this.evalField(ident[ident.length - 1] ?? '', args, final, current, isInterface);
  }

  private evalField(
    fieldName: string,
    args: readonly ArgNode[] | undefined,
    final: Final,
    receiver: Value,
    receiverIsInterface: boolean,
  ): Value {
    if (receiver === undefined) {
      if (this.ctx.missingKey === 'error') {
        this.errorf(`nil data; no entry for key ${JSON.stringify(fieldName)}`);
      }
      return undefined;
    }
    if (receiver === null) this.errorf(`nil pointer evaluating interface {}.${fieldName}`);
    const hasArgs = (args?.length ?? 0) > 1 || final !== MISSING;
    if (receiver instanceof Map) {
      if (hasArgs) this.errorf(`${fieldName} is not a method but has arguments`);
      const result = receiver.get(fieldName);
      if (result === undefined && this.ctx.missingKey === 'error') {
        this.errorf(`map has no entry for key ${JSON.stringify(fieldName)}`);
      }
      return result;
    }
    const type = receiverIsInterface ? 'interface {}' : goTypeOf(receiver);
    return this.errorf(`can't evaluate field ${fieldName} in type ${type}`);
  }

  private evalFunction(
    dot: Value,
    node: IdentifierNode,
    cmd: Node,
    args: readonly ArgNode[] | undefined,
    final: Final,
  ): Value {
    this.at(node);
    const name = node.ident;
    const fn = Object.hasOwn(this.ctx.funcs, name) ? this.ctx.funcs[name] : undefined;
    const builtin = Object.hasOwn(this.ctx.builtins, name) ? this.ctx.builtins[name] : undefined;
    const func = fn ?? builtin;
    if (func === undefined) return this.errorf(`${JSON.stringify(name)} is not a defined function`);
    return this.evalCall(dot, func, fn === undefined, cmd, name, args, final);
  }

  private evalCall(
    dot: Value,
    fn: GoFunc,
    isBuiltin: boolean,
    node: Node,
    name: string,
    allArgs: readonly ArgNode[] | undefined,
    final: Final,
  ): Value {
    const args = allArgs ? allArgs.slice(1) : [];
    const sig = fn.signature ?? { params: [], variadic: 'interface {}' as GoType };
    let numIn = args.length;
    if (final !== MISSING) numIn++;
    let numFixed = args.length;
    if (sig.variadic !== undefined) {
      numFixed = sig.params.length;
      if (numIn < numFixed) {
        this.errorf(
          `wrong number of args for ${name}: want at least ${numFixed} got ${args.length}`,
        );
      }
    } else if (numIn !== sig.params.length) {
      this.errorf(`wrong number of args for ${name}: want ${sig.params.length} got ${numIn}`);
    }

    // Builtin and/or short-circuit and return the deciding value (Go 1.18).
    if (isBuiltin && (name === 'and' || name === 'or')) {
      let v: Value;
      for (const arg of args) {
        v = this.evalArg(dot, 'interface {}', arg);
        if (isTrue(v) === (name === 'or')) return v;
      }
      if (final !== MISSING) v = final;
      return v;
    }

    const argv: Value[] = [];
    let i = 0;
    for (; i < numFixed && i < args.length; i++) {
      argv.push(this.evalArg(dot, sig.params[i], args[i] as ArgNode));
    }
    if (sig.variadic !== undefined) {
      for (; i < args.length; i++) argv.push(this.evalArg(dot, sig.variadic, args[i] as ArgNode));
    }
    if (final !== MISSING) {
      let type: GoType | undefined = sig.params[sig.params.length - 1];
      if (sig.variadic !== undefined) {
        type = numIn - 1 < numFixed ? sig.params[numIn - 1] : sig.variadic;
      }
      argv.push(this.validateType(final, type ?? 'interface {}'));
    }
    let result: GoValue | undefined;
    try {
      result = fn(...argv.map((a) => (a === undefined ? null : a)));
    } catch (error) {
      if (error === BREAK || error === CONTINUE) throw error;
      this.at(node);
      const message =
        error instanceof AirlockError && error.code === 'TEMPLATE_FAILED'
          ? error.message
          : error instanceof Error
            ? error.message
            : String(error);
      this.errorf(`error calling ${name}: ${message}`);
    }
    return result ?? null;
  }

  /** exec.go validateType: is `value` assignable to a parameter of Go type `type`? */
  private validateType(value: Value, type: GoType | undefined): Value {
    if (type === undefined) return value;
    if (value === undefined) {
      if (type === 'interface {}') return null;
      if (type.startsWith('[]') || type.startsWith('map[')) return null;
      return this.errorf(`invalid value; expected ${type}`);
    }
    if (type === 'interface {}') return value;
    if (value === null) {
      return this.errorf(`wrong type for value; expected ${type}; got interface {}`);
    }
    const actual = goTypeOf(value);
    if (actual !== type) this.errorf(`wrong type for value; expected ${type}; got ${actual}`);
    return value;
  }

  private evalArg(dot: Value, type: GoType | undefined, n: ArgNode): Value {
    this.at(n);
    // eslint-disable-next-line @typescript-eslint/switch-exhaustiveness-check -- default covers the rest
    switch (n.type) {
      case 'dot':
        return this.validateType(dot, type);
      case 'nil':
        if (
          type === undefined ||
          type === 'interface {}' ||
          type.startsWith('[]') ||
          type.startsWith('map[')
        ) {
          return null;
        }
        return this.errorf(`cannot assign nil to ${type}`);
      case 'field':
        return this.validateType(this.evalFieldChain(dot, n.ident, [n], MISSING, false), type);
      case 'variable':
        return this.validateType(this.evalVariable(n, undefined, MISSING), type);
      case 'pipe':
        return this.validateType(this.evalPipeline(dot, n), type);
      case 'identifier':
        return this.validateType(this.evalFunction(dot, n, n, undefined, MISSING), type);
      case 'chain':
        return this.validateType(this.evalChain(dot, n, undefined, MISSING), type);
      default:
        break;
    }
    // eslint-disable-next-line @typescript-eslint/switch-exhaustiveness-check -- default covers the rest
    switch (type) {
      case 'bool':
        if (n.type === 'bool') return n.value;
        return this.errorf(`expected bool; found ${nodeString(n)}`);
      case 'float64':
        if (n.type === 'number' && n.isFloat) return n.float;
        return this.errorf(`expected float; found ${nodeString(n)}`);
      case 'int':
      case 'int64':
        if (n.type === 'number' && n.isInt) {
          return type === 'int' ? new GoPlainInt(n.int) : new GoInt(n.int);
        }
        return this.errorf(`expected integer; found ${nodeString(n)}`);
      case 'string':
        if (n.type === 'string') return n.text;
        return this.errorf(`expected string; found ${nodeString(n)}`);
      case 'interface {}':
      case undefined:
        if (n.type === 'bool') return n.value;
        if (n.type === 'number') return this.idealConstant(n);
        return n.text;
      default:
        break;
    }
    return this.errorf(`can't handle ${nodeString(n)} for arg of type ${type}`);
  }

  private printValue(node: Node, value: Value): void {
    this.at(node);
    this.out.push(value === null || value === undefined ? '<no value>' : formatValue(value));
  }
}
