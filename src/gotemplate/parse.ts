// The text/template parser (golang/go src/text/template/parse/parse.go and node.go), re-expressed:
// same grammar, same parse-time checks (functions must be defined, variables declared, `break`
// only inside `range`, non-executable pipeline stages), same error texts in the form
// `template: NAME:LINE: message`.

import { AirlockError } from '../errors.ts';
import { type Item, type ItemType, itemString, lex } from './lex.ts';

interface Base {
  readonly pos: number;
}
export interface ListNode extends Base {
  readonly type: 'list';
  readonly nodes: Node[];
}
export interface TextNode extends Base {
  readonly type: 'text';
  readonly text: string;
}
export interface ActionNode extends Base {
  readonly type: 'action';
  readonly pipe: PipeNode;
}
export interface PipeNode extends Base {
  readonly type: 'pipe';
  readonly decl: VariableNode[];
  isAssign: boolean;
  readonly cmds: CommandNode[];
}
export interface CommandNode extends Base {
  readonly type: 'command';
  readonly args: ArgNode[];
}
export interface IdentifierNode extends Base {
  readonly type: 'identifier';
  readonly ident: string;
}
export interface VariableNode extends Base {
  readonly type: 'variable';
  readonly ident: string[];
}
export interface DotNode extends Base {
  readonly type: 'dot';
}
export interface NilNode extends Base {
  readonly type: 'nil';
}
export interface FieldNode extends Base {
  readonly type: 'field';
  readonly ident: string[];
}
export interface ChainNode extends Base {
  readonly type: 'chain';
  readonly node: ArgNode;
  readonly field: string[];
}
export interface BoolNode extends Base {
  readonly type: 'bool';
  readonly value: boolean;
}
export interface NumberNode extends Base {
  readonly type: 'number';
  readonly text: string;
  readonly isInt: boolean;
  readonly isFloat: boolean;
  readonly int: bigint;
  readonly float: number;
}
export interface StringNode extends Base {
  readonly type: 'string';
  readonly quoted: string;
  readonly text: string;
}
export interface BranchNode extends Base {
  readonly type: 'if' | 'range' | 'with';
  readonly pipe: PipeNode;
  readonly list: ListNode;
  readonly elseList: ListNode | undefined;
}
export interface TemplateNode extends Base {
  readonly type: 'template';
  readonly name: string;
  readonly pipe: PipeNode | undefined;
}
export interface LoopControlNode extends Base {
  readonly type: 'break' | 'continue';
}
interface EndNode extends Base {
  readonly type: 'end';
}
interface ElseNode extends Base {
  readonly type: 'else';
}

export type ArgNode =
  | IdentifierNode
  | VariableNode
  | DotNode
  | NilNode
  | FieldNode
  | ChainNode
  | BoolNode
  | NumberNode
  | StringNode
  | PipeNode;
export type Node =
  | ListNode
  | TextNode
  | ActionNode
  | BranchNode
  | TemplateNode
  | LoopControlNode
  | ArgNode
  | CommandNode;

/** node.go String(): how Go prints a node in error contexts (`at <inputs.x>`). */
export function nodeString(node: Node | EndNode | ElseNode): string {
  switch (node.type) {
    case 'list':
      return node.nodes.map(nodeString).join('');
    case 'text':
      return JSON.stringify(node.text);
    case 'action':
      return `{{${nodeString(node.pipe)}}}`;
    case 'pipe': {
      let s = '';
      if (node.decl.length > 0) {
        s = `${node.decl.map(nodeString).join(', ')} ${node.isAssign ? '=' : ':='} `;
      }
      return s + node.cmds.map(nodeString).join(' | ');
    }
    case 'command':
      return node.args
        .map((a) => (a.type === 'pipe' ? `(${nodeString(a)})` : nodeString(a)))
        .join(' ');
    case 'identifier':
      return node.ident;
    case 'variable':
      return node.ident.join('.');
    case 'dot':
      return '.';
    case 'nil':
      return 'nil';
    case 'field':
      return node.ident.map((i) => `.${i}`).join('');
    case 'chain': {
      const inner =
        node.node.type === 'pipe' ? `(${nodeString(node.node)})` : nodeString(node.node);
      return inner + node.field.map((f) => `.${f}`).join('');
    }
    case 'bool':
      return node.value ? 'true' : 'false';
    case 'number':
      return node.text;
    case 'string':
      return node.quoted;
    case 'if':
    case 'range':
    case 'with': {
      const els = node.elseList ? `{{else}}${nodeString(node.elseList)}` : '';
      return `{{${node.type} ${nodeString(node.pipe)}}}${nodeString(node.list)}${els}{{end}}`;
    }
    case 'template':
      return node.pipe
        ? `{{template ${JSON.stringify(node.name)} ${nodeString(node.pipe)}}}`
        : `{{template ${JSON.stringify(node.name)}}}`;
    case 'break':
      return '{{break}}';
    case 'continue':
      return '{{continue}}';
    case 'end':
      return '{{end}}';
    case 'else':
      return '{{else}}';
  }
}

/** A parsed template body plus where it came from (for error locations). */
export interface Tree {
  readonly name: string;
  readonly parseName: string;
  readonly text: string;
  readonly root: ListNode;
}

/** Go strconv.Unquote for "…" strings and '…' char constants (Go escape syntax). */
export function unquote(quoted: string): string {
  const q = quoted[0];
  if (q === '`') return quoted.slice(1, -1).replaceAll('\r', '');
  const body = quoted.slice(1, -1);
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c !== '\\') {
      if (c === q) throw new SyntaxError('invalid syntax');
      out += c ?? '';
      continue;
    }
    const e = body[++i];
    const simple: Record<string, string> = {
      a: '\x07',
      b: '\b',
      f: '\f',
      n: '\n',
      r: '\r',
      t: '\t',
      v: '\v',
      '\\': '\\',
      "'": "'",
      '"': '"',
    };
    if (e !== undefined && e in simple) {
      if ((e === "'" && q === '"') || (e === '"' && q === "'"))
        throw new SyntaxError('invalid syntax');
      out += simple[e] ?? '';
      continue;
    }
    const hexLen = e === 'x' ? 2 : e === 'u' ? 4 : e === 'U' ? 8 : 0;
    if (hexLen > 0) {
      const hex = body.slice(i + 1, i + 1 + hexLen);
      if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== hexLen)
        throw new SyntaxError('invalid syntax');
      const cp = parseInt(hex, 16);
      if (cp > 0x10ffff) throw new SyntaxError('invalid syntax');
      out += String.fromCodePoint(cp);
      i += hexLen;
      continue;
    }
    if (e !== undefined && /[0-7]/.test(e)) {
      const oct = body.slice(i, i + 3);
      if (!/^[0-7]{3}$/.test(oct)) throw new SyntaxError('invalid syntax');
      out += String.fromCodePoint(parseInt(oct, 8));
      i += 2;
      continue;
    }
    throw new SyntaxError('invalid syntax');
  }
  return out;
}

/** strconv.ParseInt(text, 0, 64) (prefixes 0x/0o/0b/0, underscores only with base prefix). */
function parseGoInt(text: string): bigint | undefined {
  let s = text;
  let negative = false;
  if (s.startsWith('+') || s.startsWith('-')) {
    negative = s.startsWith('-');
    s = s.slice(1);
  }
  let base = 10;
  let digits = s;
  if (/^0[xX]/.test(s)) [base, digits] = [16, s.slice(2)];
  else if (/^0[oO]/.test(s)) [base, digits] = [8, s.slice(2)];
  else if (/^0[bB]/.test(s)) [base, digits] = [2, s.slice(2)];
  else if (/^0\d/.test(s)) [base, digits] = [8, s.slice(1)];
  if (digits.includes('_')) {
    // Base 0 accepts Go literal underscores: between digits, or right after a base prefix.
    const prefixed = base !== 10;
    if (!(prefixed ? /^_?[0-9a-fA-F]+(_[0-9a-fA-F]+)*$/ : /^[0-9]+(_[0-9]+)+$/).test(digits))
      return undefined;
    digits = digits.replaceAll('_', '');
  }
  const valid = { 2: /^[01]+$/, 8: /^[0-7]+$/, 10: /^[0-9]+$/, 16: /^[0-9a-fA-F]+$/ }[base];
  if (valid === undefined || !valid.test(digits)) return undefined;
  const prefix = { 2: '0b', 8: '0o', 10: '', 16: '0x' }[base] ?? '';
  const value = BigInt(prefix + digits) * (negative ? -1n : 1n);
  if (value > 0x7fffffffffffffffn || value < -0x8000000000000000n) return undefined;
  return value;
}

function parseGoFloat(text: string): number | undefined {
  const s = text.replaceAll('_', '');
  if (/^[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?)$/.test(s)) return Number(s);
  if (/^[+-]?0[xX]/.test(s)) {
    const m = /^([+-]?)0[xX]([0-9a-fA-F]*)\.?([0-9a-fA-F]*)[pP]([+-]?\d+)$/.exec(s);
    if (!m) return undefined;
    const mant = parseInt((m[2] ?? '') + (m[3] ?? '') || '0', 16);
    const value = mant * 2 ** (Number(m[4]) - 4 * (m[3] ?? '').length);
    return m[1] === '-' ? -value : value;
  }
  return undefined;
}

export interface ParseOptions {
  readonly name: string;
  readonly leftDelim: string;
  readonly rightDelim: string;
  readonly hasFunction: (name: string) => boolean;
}

/** Parses `text` into its named trees: the main one (options.name) and each define/block. */
export function parseTrees(text: string, options: ParseOptions): Map<string, Tree> {
  const items = lex(text, options);
  const trees = new Map<string, Tree>();
  let index = 0;
  let vars: string[] = ['$'];
  let rangeDepth = 0;
  let actionLine = 0;
  let current: Item = items[0] ?? { type: 'EOF', pos: 0, val: '', line: 1 };

  const fail = (message: string): never => {
    throw new AirlockError(
      'TEMPLATE_INVALID',
      `template: ${options.name}:${current.line}: ${message}`,
    );
  };
  const next = (): Item => {
    current = items[index] ?? current;
    if (index < items.length) index++;
    return current;
  };
  const backup = (n = 1): void => {
    index -= n;
  };
  const peek = (): Item => items[index] ?? current;
  const nextNonSpace = (): Item => {
    let item = next();
    while (item.type === 'space') item = next();
    return item;
  };
  const peekNonSpace = (): Item => {
    const item = nextNonSpace();
    backup();
    return item;
  };
  const unexpected = (item: Item, context: string): never => {
    if (item.type === 'error') {
      let extra = '';
      if (actionLine !== 0 && actionLine !== item.line) {
        extra = ` in action started at ${options.name}:${actionLine}`;
        if (item.val.endsWith(' action')) extra = extra.slice(' in action'.length);
      }
      return fail(`${item.val}${extra}`);
    }
    return fail(`unexpected ${itemString(item)} in ${context}`);
  };
  const expect = (type: ItemType, context: string): Item => {
    const item = nextNonSpace();
    if (item.type !== type) unexpected(item, context);
    return item;
  };

  const addTree = (name: string, root: ListNode): void => {
    const existing = trees.get(name);
    // text/template keeps a non-empty definition over a later empty one (parse.go IsEmptyTree).
    if (existing && root.nodes.every((n) => n.type === 'text' && n.text.trim() === '')) return;
    trees.set(name, { name, parseName: options.name, text, root });
  };

  const newNumber = (item: Item): NumberNode => {
    const base = { type: 'number' as const, pos: item.pos, text: item.val };
    if (item.type === 'charConstant') {
      let rune: string;
      try {
        rune = unquote(item.val);
      } catch {
        return fail(`malformed character constant: ${item.val}`);
      }
      if (Array.from(rune).length !== 1) fail(`malformed character constant: ${item.val}`);
      const cp = rune.codePointAt(0) ?? 0;
      return { ...base, isInt: true, isFloat: true, int: BigInt(cp), float: cp };
    }
    const asInt = parseGoInt(item.val);
    if (asInt !== undefined) {
      return { ...base, isInt: true, isFloat: true, int: asInt, float: Number(asInt) };
    }
    const asFloat = parseGoFloat(item.val);
    if (asFloat !== undefined) {
      if (!/[.eEpP]/.test(item.val)) fail(`integer overflow: ${JSON.stringify(item.val)}`);
      const integral = Number.isInteger(asFloat) && Math.abs(asFloat) < 2 ** 63;
      return {
        ...base,
        isInt: integral,
        isFloat: true,
        int: integral ? BigInt(asFloat) : 0n,
        float: asFloat,
      };
    }
    return fail(`illegal number syntax: ${JSON.stringify(item.val)}`);
  };

  const useVar = (item: Item): VariableNode => {
    const ident = item.val.split('.');
    if (!vars.includes(ident[0] ?? '')) fail(`undefined variable ${JSON.stringify(ident[0])}`);
    return { type: 'variable', pos: item.pos, ident };
  };

  const term = (): ArgNode | undefined => {
    const item = nextNonSpace();
    // eslint-disable-next-line @typescript-eslint/switch-exhaustiveness-check -- default covers the rest
    switch (item.type) {
      case 'identifier':
        if (!options.hasFunction(item.val))
          fail(`function ${JSON.stringify(item.val)} not defined`);
        return { type: 'identifier', pos: item.pos, ident: item.val };
      case 'dot':
        return { type: 'dot', pos: item.pos };
      case 'nil':
        return { type: 'nil', pos: item.pos };
      case 'variable':
        return useVar(item);
      case 'field':
        return { type: 'field', pos: item.pos, ident: [item.val.slice(1)] };
      case 'bool':
        return { type: 'bool', pos: item.pos, value: item.val === 'true' };
      case 'charConstant':
      case 'number':
        return newNumber(item);
      case 'leftParen':
        return pipeline('parenthesized pipeline', 'rightParen');
      case 'string':
      case 'rawString': {
        let value: string;
        try {
          value = unquote(item.val);
        } catch {
          return fail('invalid syntax');
        }
        return { type: 'string', pos: item.pos, quoted: item.val, text: value };
      }
      default:
        backup();
        return undefined;
    }
  };

  const operand = (): ArgNode | undefined => {
    const node = term();
    if (node === undefined) return undefined;
    if (peek().type !== 'field') return node;
    const chainPos = peek().pos;
    const fields: string[] = [];
    while (peek().type === 'field') fields.push(next().val.slice(1));
    // eslint-disable-next-line @typescript-eslint/switch-exhaustiveness-check -- default covers the rest
    switch (node.type) {
      case 'field':
        return { type: 'field', pos: chainPos, ident: [...node.ident, ...fields] };
      case 'variable':
        return { type: 'variable', pos: chainPos, ident: [...node.ident, ...fields] };
      case 'bool':
      case 'string':
      case 'number':
      case 'nil':
      case 'dot':
        return fail(`unexpected . after term ${JSON.stringify(nodeString(node))}`);
      default:
        return { type: 'chain', pos: chainPos, node, field: fields };
    }
  };

  const command = (): CommandNode => {
    const cmd: CommandNode = { type: 'command', pos: peekNonSpace().pos, args: [] };
    for (;;) {
      peekNonSpace();
      const op = operand();
      if (op !== undefined) cmd.args.push(op);
      const item = next();
      if (item.type === 'space') continue;
      if (item.type === 'rightDelim' || item.type === 'rightParen') backup();
      else if (item.type !== 'pipe') unexpected(item, 'operand');
      break;
    }
    if (cmd.args.length === 0) fail('empty command');
    return cmd;
  };

  const pipeline = (context: string, end: ItemType): PipeNode => {
    const pipe: PipeNode = {
      type: 'pipe',
      pos: peekNonSpace().pos,
      decl: [],
      isAssign: false,
      cmds: [],
    };
    for (;;) {
      const v = peekNonSpace();
      if (v.type !== 'variable') break;
      nextNonSpace();
      const variableIndex = index - 1;
      const after = peekNonSpace();
      if (after.type === 'assign' || after.type === 'declare') {
        pipe.isAssign = after.type === 'assign';
        nextNonSpace();
        pipe.decl.push({ type: 'variable', pos: v.pos, ident: [v.val] });
        vars.push(v.val);
        break;
      }
      if (after.type === 'char' && after.val === ',') {
        nextNonSpace();
        pipe.decl.push({ type: 'variable', pos: v.pos, ident: [v.val] });
        vars.push(v.val);
        if (context === 'range' && pipe.decl.length < 2) {
          const t = peekNonSpace().type;
          if (t === 'variable' || t === 'rightDelim' || t === 'rightParen') continue;
          fail('range can only initialize variables');
        }
        fail(`too many declarations in ${context}`);
      }
      // Not a declaration: put the variable (and the space after it) back (parse.go backup3).
      index = variableIndex;
      break;
    }
    for (;;) {
      const item = nextNonSpace();
      if (item.type === end) {
        if (pipe.cmds.length === 0) fail(`missing value for ${context}`);
        pipe.cmds.slice(1).forEach((c, i) => {
          const t = c.args[0]?.type;
          if (t === 'bool' || t === 'dot' || t === 'nil' || t === 'number' || t === 'string') {
            fail(`non executable command in pipeline stage ${i + 2}`);
          }
        });
        return pipe;
      }
      // eslint-disable-next-line @typescript-eslint/switch-exhaustiveness-check -- default covers the rest
      switch (item.type) {
        case 'bool':
        case 'charConstant':
        case 'dot':
        case 'field':
        case 'identifier':
        case 'number':
        case 'nil':
        case 'rawString':
        case 'string':
        case 'variable':
        case 'leftParen':
          backup();
          pipe.cmds.push(command());
          break;
        default:
          unexpected(item, context);
      }
    }
  };

  const itemList = (): { list: ListNode; next: Node | EndNode | ElseNode } => {
    const list: ListNode = { type: 'list', pos: peekNonSpace().pos, nodes: [] };
    while (peekNonSpace().type !== 'EOF') {
      const n = textOrAction();
      if (n.type === 'end' || n.type === 'else') return { list, next: n };
      list.nodes.push(n);
    }
    return fail('unexpected EOF');
  };

  const textOrAction = (): Node | EndNode | ElseNode => {
    const item = nextNonSpace();
    // eslint-disable-next-line @typescript-eslint/switch-exhaustiveness-check -- default covers the rest
    switch (item.type) {
      case 'text':
        return { type: 'text', pos: item.pos, text: item.val };
      case 'leftDelim': {
        actionLine = item.line;
        try {
          return action();
        } finally {
          actionLine = 0;
        }
      }
      default:
        return unexpected(item, 'input');
    }
  };

  const parseControl = (
    context: 'if' | 'range' | 'with',
  ): { pipe: PipeNode; list: ListNode; elseList: ListNode | undefined } => {
    const mark = vars.length;
    try {
      const pipe = pipeline(context, 'rightDelim');
      if (context === 'range') rangeDepth++;
      const body = itemList();
      if (context === 'range') rangeDepth--;
      let elseList: ListNode | undefined;
      if (body.next.type === 'else') {
        const following = peek().type;
        if (
          (context === 'if' && following === 'if') ||
          (context === 'with' && following === 'with')
        ) {
          next();
          elseList = { type: 'list', pos: body.next.pos, nodes: [branch(context)] };
        } else {
          const rest = itemList();
          if (rest.next.type !== 'end') fail(`expected end; found ${nodeString(rest.next)}`);
          elseList = rest.list;
        }
      }
      return { pipe, list: body.list, elseList };
    } finally {
      vars = vars.slice(0, mark);
    }
  };

  const branch = (context: 'if' | 'range' | 'with'): BranchNode => {
    const { pipe, list, elseList } = parseControl(context);
    return { type: context, pos: pipe.pos, pipe, list, elseList };
  };

  const templateName = (item: Item, context: string): string => {
    if (item.type === 'string' || item.type === 'rawString') {
      try {
        return unquote(item.val);
      } catch {
        return fail('invalid syntax');
      }
    }
    return unexpected(item, context);
  };

  const templateControl = (): TemplateNode => {
    const context = 'template clause';
    const item = nextNonSpace();
    const name = templateName(item, context);
    let pipe: PipeNode | undefined;
    if (nextNonSpace().type !== 'rightDelim') {
      backup();
      pipe = pipeline(context, 'rightDelim');
    }
    return { type: 'template', pos: item.pos, name, pipe };
  };

  const blockControl = (): TemplateNode => {
    const context = 'block clause';
    const item = nextNonSpace();
    const name = templateName(item, context);
    const pipe = pipeline(context, 'rightDelim');
    const outerVars = vars;
    const outerRange = rangeDepth;
    vars = ['$'];
    rangeDepth = 0;
    const body = itemList();
    if (body.next.type !== 'end') fail(`unexpected ${nodeString(body.next)} in ${context}`);
    vars = outerVars;
    rangeDepth = outerRange;
    addTree(name, body.list);
    return { type: 'template', pos: item.pos, name, pipe };
  };

  const loopControl = (item: Item, kind: 'break' | 'continue'): LoopControlNode => {
    const after = nextNonSpace();
    if (after.type !== 'rightDelim') unexpected(after, `{{${kind}}}`);
    if (rangeDepth === 0) fail(`{{${kind}}} outside {{range}}`);
    return { type: kind, pos: item.pos };
  };

  const action = (): Node | EndNode | ElseNode => {
    const item = nextNonSpace();
    // eslint-disable-next-line @typescript-eslint/switch-exhaustiveness-check -- default covers the rest
    switch (item.type) {
      case 'block':
        return blockControl();
      case 'break':
        return loopControl(item, 'break');
      case 'continue':
        return loopControl(item, 'continue');
      case 'else': {
        const p = peekNonSpace();
        if (p.type === 'if' || p.type === 'with') return { type: 'else', pos: p.pos };
        const close = expect('rightDelim', 'else');
        return { type: 'else', pos: close.pos };
      }
      case 'end': {
        const close = expect('rightDelim', 'end');
        return { type: 'end', pos: close.pos };
      }
      case 'if':
      case 'range':
      case 'with':
        return branch(item.type);
      case 'template':
        return templateControl();
      default: {
        backup();
        const start = peek();
        return { type: 'action', pos: start.pos, pipe: pipeline('command', 'rightDelim') };
      }
    }
  };

  // parse(): top level, where {{define}} is allowed.
  const root: ListNode = { type: 'list', pos: peek().pos, nodes: [] };
  while (peek().type !== 'EOF') {
    if (peek().type === 'leftDelim') {
      const delimIndex = index;
      next();
      if (nextNonSpace().type === 'define') {
        const context = 'define clause';
        const nameItem = nextNonSpace();
        if (nameItem.type !== 'string' && nameItem.type !== 'rawString')
          unexpected(nameItem, context);
        const name = templateName(nameItem, context);
        expect('rightDelim', context);
        const outerVars = vars;
        vars = ['$'];
        const body = itemList();
        if (body.next.type !== 'end') fail(`unexpected ${nodeString(body.next)} in ${context}`);
        vars = outerVars;
        addTree(name, body.list);
        continue;
      }
      index = delimIndex;
    }
    const n = textOrAction();
    if (n.type === 'end' || n.type === 'else') fail(`unexpected ${nodeString(n)}`);
    else root.nodes.push(n);
  }
  if (peek().type === 'EOF' && items.some((i) => i.type === 'error')) {
    // Unreachable in practice: lexer errors are met (and reported) before EOF.
    const error = items.find((i) => i.type === 'error');
    if (error) unexpected(error, 'input');
  }
  addTree(options.name, root);
  return trees;
}
