// The go-yaml v2 emitter (a Go port of libyaml's emitter.c), reduced to what sigs.k8s.io/yaml
// Marshal produces: one implicit document, block mappings and sequences, flow `{}`/`[]` only when
// empty, no tags, anchors or canonical mode. Every decision below follows go-yaml/yaml@v2.4.0
// emitterc.go; function names are kept so the two can be read side by side.
// Settings come from encode.go newEncoder + emitterc.go yaml_emitter_emit_stream_start:
// best_indent 2, best_width 80, unicode output, "\n" line breaks.

export type ScalarStyle = 'plain' | 'single' | 'double' | 'literal' | 'folded';

export type EmitEvent =
  | { readonly type: 'scalar'; readonly value: string; readonly style: ScalarStyle }
  | { readonly type: 'seq-start' }
  | { readonly type: 'seq-end' }
  | { readonly type: 'map-start' }
  | { readonly type: 'map-end' };

const BEST_INDENT = 2;
const BEST_WIDTH = 80;

// yamlprivateh.go character classes, on code points.
const isSpace = (c: number | undefined): boolean => c === 0x20;
const isBlank = (c: number | undefined): boolean => c === 0x20 || c === 0x09;
const isBreak = (c: number | undefined): boolean =>
  c === 0x0d || c === 0x0a || c === 0x85 || c === 0x2028 || c === 0x2029;
const isBlankz = (c: number | undefined): boolean =>
  isBlank(c) || isBreak(c) || c === 0 || c === undefined;
/** is_printable: #x0A, #x20-#x7E, #xA0-#xD7FF, #xE000-#xFFFD except #xFEFF (no astral planes). */
const isPrintable = (c: number): boolean =>
  c === 0x0a ||
  (c >= 0x20 && c <= 0x7e) ||
  (c >= 0xa0 && c <= 0xd7ff) ||
  (c >= 0xe000 && c <= 0xfffd && c !== 0xfeff);

const MAX_CACHED_SCALAR = 256;
const MAX_CACHED_SCALARS = 20_000;
const ANALYSED = new Map<
  string,
  { readonly value: number[]; readonly analysis: ScalarAnalysis; readonly byteLength: number }
>();

interface ScalarAnalysis {
  readonly multiline: boolean;
  readonly flowPlainAllowed: boolean;
  readonly blockPlainAllowed: boolean;
  readonly singleQuotedAllowed: boolean;
  readonly blockAllowed: boolean;
}

/** yaml_emitter_analyze_scalar (emitterc.go:984-1131). */
export function analyzeScalar(value: readonly number[]): ScalarAnalysis {
  if (value.length === 0) {
    return {
      multiline: false,
      flowPlainAllowed: false,
      blockPlainAllowed: true,
      singleQuotedAllowed: true,
      blockAllowed: false,
    };
  }
  let blockIndicators = false;
  let flowIndicators = false;
  let lineBreaks = false;
  let specialCharacters = false;
  let leadingSpace = false;
  let leadingBreak = false;
  let trailingSpace = false;
  let trailingBreak = false;
  let breakSpace = false;
  let spaceBreak = false;
  let previousSpace = false;
  let previousBreak = false;
  const dash = 0x2d;
  const dot = 0x2e;
  if (
    value.length >= 3 &&
    ((value[0] === dash && value[1] === dash && value[2] === dash) ||
      (value[0] === dot && value[1] === dot && value[2] === dot))
  ) {
    blockIndicators = true;
    flowIndicators = true;
  }
  let precededByWhitespace = true;
  for (let i = 0; i < value.length; i++) {
    const c = value[i] ?? 0;
    const followedByWhitespace = i + 1 >= value.length || isBlank(value[i + 1]);
    const ch = String.fromCodePoint(c);
    if (i === 0) {
      if ('#,[]{}&*!|>\'"%@`'.includes(ch)) {
        flowIndicators = true;
        blockIndicators = true;
      } else if (ch === '?' || ch === ':') {
        flowIndicators = true;
        if (followedByWhitespace) blockIndicators = true;
      } else if (ch === '-' && followedByWhitespace) {
        flowIndicators = true;
        blockIndicators = true;
      }
    } else if (',?[]{}'.includes(ch)) {
      flowIndicators = true;
    } else if (ch === ':') {
      flowIndicators = true;
      if (followedByWhitespace) blockIndicators = true;
    } else if (ch === '#' && precededByWhitespace) {
      flowIndicators = true;
      blockIndicators = true;
    }
    // emitter.unicode is true, so non-ASCII printable characters are fine.
    if (!isPrintable(c)) specialCharacters = true;
    if (isSpace(c)) {
      if (i === 0) leadingSpace = true;
      if (i + 1 === value.length) trailingSpace = true;
      if (previousBreak) breakSpace = true;
      previousSpace = true;
      previousBreak = false;
    } else if (isBreak(c)) {
      lineBreaks = true;
      if (i === 0) leadingBreak = true;
      if (i + 1 === value.length) trailingBreak = true;
      if (previousSpace) spaceBreak = true;
      previousSpace = false;
      previousBreak = true;
    } else {
      previousSpace = false;
      previousBreak = false;
    }
    precededByWhitespace = isBlankz(c);
  }
  let flowPlainAllowed = true;
  let blockPlainAllowed = true;
  let singleQuotedAllowed = true;
  let blockAllowed = true;
  if (leadingSpace || leadingBreak || trailingSpace || trailingBreak) {
    flowPlainAllowed = false;
    blockPlainAllowed = false;
  }
  if (trailingSpace) blockAllowed = false;
  if (breakSpace) {
    flowPlainAllowed = false;
    blockPlainAllowed = false;
    singleQuotedAllowed = false;
  }
  if (spaceBreak || specialCharacters) {
    flowPlainAllowed = false;
    blockPlainAllowed = false;
    singleQuotedAllowed = false;
    blockAllowed = false;
  }
  if (lineBreaks) {
    flowPlainAllowed = false;
    blockPlainAllowed = false;
  }
  if (flowIndicators) flowPlainAllowed = false;
  if (blockIndicators) blockPlainAllowed = false;
  return {
    multiline: lineBreaks,
    flowPlainAllowed,
    blockPlainAllowed,
    singleQuotedAllowed,
    blockAllowed,
  };
}

/** The string's code points (surrogate pairs joined); a plain loop, as this runs for every scalar. */
function codePoints(s: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        out.push((c - 0xd800) * 0x400 + (d - 0xdc00) + 0x10000);
        i++;
        continue;
      }
    }
    out.push(c);
  }
  return out;
}

/** Runs the event stream of one implicit document through the emitter; returns the YAML text. */
export function emitDocument(events: readonly EmitEvent[]): string {
  const e = new Emitter(events);
  return e.run();
}

class Emitter {
  private readonly events: readonly EmitEvent[];
  private head = 0;
  private readonly out: string[] = [];
  private column = 0;
  private whitespace = true;
  private indention = true;
  private indent = -1;
  private readonly indents: number[] = [];
  private flowLevel = 0;
  private mappingContext = false;
  private simpleKeyContext = false;
  // The analysis of the event at `head` (yaml_emitter_analyze_event).
  private scalar: { value: number[]; analysis: ScalarAnalysis; byteLength: number } | undefined;

  constructor(events: readonly EmitEvent[]) {
    this.events = events;
  }

  run(): string {
    // Stream start + implicit first document start write nothing.
    this.emitNode(false, false);
    // yaml_emitter_emit_document_end: write_indent, implicit so no "...".
    this.writeIndent();
    return this.out.join('');
  }

  // --- low-level writers (emitterc.go put, put_break, write, write_break) ----------------------

  private put(ch: string): void {
    this.out.push(ch);
    this.column++;
  }

  private putBreak(): void {
    this.out.push('\n');
    this.column = 0;
  }

  private write(c: number): void {
    this.out.push(String.fromCodePoint(c));
    this.column++;
  }

  private writeBreak(c: number): void {
    if (c === 0x0a) {
      this.putBreak();
    } else {
      this.write(c);
      this.column = 0;
    }
  }

  private increaseIndent(flow: boolean, indentless: boolean): void {
    this.indents.push(this.indent);
    if (this.indent < 0) this.indent = flow ? BEST_INDENT : 0;
    else if (!indentless) this.indent += BEST_INDENT;
  }

  private popIndent(): void {
    this.indent = this.indents.pop() ?? -1;
  }

  /** yaml_emitter_write_indent (emitterc.go:1201). */
  private writeIndent(): void {
    const indent = this.indent < 0 ? 0 : this.indent;
    if (!this.indention || this.column > indent || (this.column === indent && !this.whitespace)) {
      this.putBreak();
    }
    while (this.column < indent) this.put(' ');
    this.whitespace = true;
    this.indention = true;
  }

  /** yaml_emitter_write_indicator (emitterc.go:1221). */
  private writeIndicator(
    indicator: string,
    needWhitespace: boolean,
    isWhitespace: boolean,
    isIndention: boolean,
  ): void {
    if (needWhitespace && !this.whitespace) this.put(' ');
    for (const ch of indicator) this.put(ch);
    this.whitespace = isWhitespace;
    this.indention = this.indention && isIndention;
  }

  // --- events -----------------------------------------------------------------------------------

  private analyze(): void {
    const ev = this.events[this.head];
    if (ev?.type === 'scalar') {
      // Keys and common values repeat across thousands of objects (a ResourceSet's output): the
      // analysis depends on the text alone, so short scalars are analysed once.
      const cached = ANALYSED.get(ev.value);
      if (cached !== undefined) {
        this.scalar = cached;
        return;
      }
      const value = codePoints(ev.value);
      this.scalar = {
        value,
        analysis: analyzeScalar(value),
        byteLength: Buffer.byteLength(ev.value, 'utf8'),
      };
      if (ev.value.length <= MAX_CACHED_SCALAR) {
        if (ANALYSED.size >= MAX_CACHED_SCALARS) ANALYSED.clear();
        ANALYSED.set(ev.value, this.scalar);
      }
    } else {
      this.scalar = undefined;
    }
  }

  private current(): { value: number[]; analysis: ScalarAnalysis; byteLength: number } {
    if (this.scalar === undefined) throw new Error('goyaml emitter: no scalar analysed');
    return this.scalar;
  }

  private next(): EmitEvent {
    const ev = this.events[this.head];
    if (ev === undefined) throw new Error('goyaml emitter: event stream ended early');
    return ev;
  }

  private emptyCollectionAhead(): boolean {
    const a = this.events[this.head];
    const b = this.events[this.head + 1];
    return (
      (a?.type === 'seq-start' && b?.type === 'seq-end') ||
      (a?.type === 'map-start' && b?.type === 'map-end')
    );
  }

  /** yaml_emitter_emit_node: sets the context flags, then dispatches on the event. */
  private emitNode(mapping: boolean, simpleKey: boolean): void {
    this.analyze();
    this.mappingContext = mapping;
    this.simpleKeyContext = simpleKey;
    const ev = this.next();
    switch (ev.type) {
      case 'scalar':
        this.emitScalar(ev.style);
        this.head++;
        return;
      case 'seq-start':
        if (this.flowLevel > 0 || this.emptyCollectionAhead()) this.emitFlowCollection('[', ']');
        else this.emitBlockSequence();
        return;
      case 'map-start':
        if (this.flowLevel > 0 || this.emptyCollectionAhead()) this.emitFlowCollection('{', '}');
        else this.emitBlockMapping();
        return;
      case 'seq-end':
      case 'map-end':
        throw new Error(`goyaml emitter: unexpected ${ev.type}`);
    }
  }

  /** Only empty collections are ever written in flow style by Marshal (e.flow is never set). */
  private emitFlowCollection(open: string, close: string): void {
    this.head++; // start
    this.writeIndicator(open, true, true, false);
    this.increaseIndent(true, false);
    this.flowLevel++;
    // The end event (check_empty_* guaranteed it is next).
    this.head++;
    this.flowLevel--;
    this.popIndent();
    this.writeIndicator(close, false, false, false);
  }

  /** yaml_emitter_emit_block_sequence_item (emitterc.go:579). */
  private emitBlockSequence(): void {
    this.head++; // seq-start
    // A sequence that is a mapping value stays at the key's indentation ("key:\n- a").
    this.increaseIndent(false, this.mappingContext && !this.indention);
    while (this.next().type !== 'seq-end') {
      this.writeIndent();
      this.writeIndicator('-', true, false, true);
      this.emitNode(false, false);
    }
    this.head++; // seq-end
    this.popIndent();
  }

  /** yaml_emitter_emit_block_mapping_key / _value (emitterc.go:603-647). */
  private emitBlockMapping(): void {
    this.head++; // map-start
    this.increaseIndent(false, false);
    while (this.next().type !== 'map-end') {
      this.writeIndent();
      this.analyze();
      if (this.checkSimpleKey()) {
        this.emitNode(true, true);
        this.writeIndicator(':', false, false, false);
      } else {
        this.writeIndicator('?', true, false, true);
        this.emitNode(true, false);
        this.writeIndent();
        this.writeIndicator(':', true, false, true);
      }
      this.emitNode(true, false);
    }
    this.head++; // map-end
    this.popIndent();
  }

  /** yaml_emitter_check_simple_key (emitterc.go:764): single-line and at most 128 bytes. */
  private checkSimpleKey(): boolean {
    const ev = this.next();
    if (ev.type === 'scalar') {
      const s = this.current();
      return !s.analysis.multiline && s.byteLength <= 128;
    }
    return this.emptyCollectionAhead();
  }

  /** yaml_emitter_select_scalar_style (emitterc.go:798). */
  private selectScalarStyle(requested: ScalarStyle): ScalarStyle {
    const { analysis, value } = this.current();
    let style = requested;
    if (this.simpleKeyContext && analysis.multiline) style = 'double';
    if (style === 'plain') {
      if (
        (this.flowLevel > 0 && !analysis.flowPlainAllowed) ||
        (this.flowLevel === 0 && !analysis.blockPlainAllowed)
      ) {
        style = 'single';
      }
      if (value.length === 0 && (this.flowLevel > 0 || this.simpleKeyContext)) style = 'single';
    }
    if (style === 'single' && !analysis.singleQuotedAllowed) style = 'double';
    if (
      (style === 'literal' || style === 'folded') &&
      (!analysis.blockAllowed || this.flowLevel > 0 || this.simpleKeyContext)
    ) {
      style = 'double';
    }
    return style;
  }

  /** yaml_emitter_emit_scalar + yaml_emitter_process_scalar. */
  private emitScalar(requested: ScalarStyle): void {
    const style = this.selectScalarStyle(requested);
    this.increaseIndent(true, false);
    const value = this.current().value;
    const allowBreaks = !this.simpleKeyContext;
    switch (style) {
      case 'plain':
        this.writePlain(value, allowBreaks);
        break;
      case 'single':
        this.writeSingleQuoted(value, allowBreaks);
        break;
      case 'double':
        this.writeDoubleQuoted(value, allowBreaks);
        break;
      case 'literal':
        this.writeLiteral(value);
        break;
      case 'folded':
        this.writeFolded(value);
        break;
    }
    this.popIndent();
  }

  /** yaml_emitter_write_plain_scalar (emitterc.go:1313). */
  private writePlain(value: readonly number[], allowBreaks: boolean): void {
    if (!this.whitespace) this.put(' ');
    let spaces = false;
    let breaks = false;
    for (let i = 0; i < value.length; i++) {
      const c = value[i] ?? 0;
      if (isSpace(c)) {
        if (allowBreaks && !spaces && this.column > BEST_WIDTH && !isSpace(value[i + 1])) {
          this.writeIndent();
        } else {
          this.write(c);
        }
        spaces = true;
      } else if (isBreak(c)) {
        if (!breaks && c === 0x0a) this.putBreak();
        this.writeBreak(c);
        this.indention = true;
        breaks = true;
      } else {
        if (breaks) this.writeIndent();
        this.write(c);
        this.indention = false;
        spaces = false;
        breaks = false;
      }
    }
    this.whitespace = false;
    this.indention = false;
  }

  /** yaml_emitter_write_single_quoted_scalar (emitterc.go:1370). */
  private writeSingleQuoted(value: readonly number[], allowBreaks: boolean): void {
    this.writeIndicator("'", true, false, false);
    let spaces = false;
    let breaks = false;
    for (let i = 0; i < value.length; i++) {
      const c = value[i] ?? 0;
      if (isSpace(c)) {
        if (
          allowBreaks &&
          !spaces &&
          this.column > BEST_WIDTH &&
          i > 0 &&
          i < value.length - 1 &&
          !isSpace(value[i + 1])
        ) {
          this.writeIndent();
        } else {
          this.write(c);
        }
        spaces = true;
      } else if (isBreak(c)) {
        if (!breaks && c === 0x0a) this.putBreak();
        this.writeBreak(c);
        this.indention = true;
        breaks = true;
      } else {
        if (breaks) this.writeIndent();
        if (c === 0x27) this.put("'");
        this.write(c);
        this.indention = false;
        spaces = false;
        breaks = false;
      }
    }
    this.writeIndicator("'", false, false, false);
    this.whitespace = false;
    this.indention = false;
  }

  /** yaml_emitter_write_double_quoted_scalar (emitterc.go:1429). */
  private writeDoubleQuoted(value: readonly number[], allowBreaks: boolean): void {
    let spaces = false;
    this.writeIndicator('"', true, false, false);
    // is_bom(value, i) looks at the start of the value whatever i is: a value that begins with a
    // BOM has every character escaped.
    const bom = value[0] === 0xfeff;
    for (let i = 0; i < value.length; i++) {
      const c = value[i] ?? 0;
      if (!isPrintable(c) || bom || isBreak(c) || c === 0x22 || c === 0x5c) {
        this.put('\\');
        const simple: Record<number, string> = {
          0x00: '0',
          0x07: 'a',
          0x08: 'b',
          0x09: 't',
          0x0a: 'n',
          0x0b: 'v',
          0x0c: 'f',
          0x0d: 'r',
          0x1b: 'e',
          0x22: '"',
          0x5c: '\\',
          0x85: 'N',
          0xa0: '_',
          0x2028: 'L',
          0x2029: 'P',
        };
        const esc = simple[c];
        if (esc !== undefined) {
          this.put(esc);
        } else {
          const [letter, width] = c <= 0xff ? ['x', 2] : c <= 0xffff ? ['u', 4] : ['U', 8];
          this.put(letter);
          for (const d of c.toString(16).toUpperCase().padStart(width, '0')) this.put(d);
        }
        spaces = false;
      } else if (isSpace(c)) {
        if (allowBreaks && !spaces && this.column > BEST_WIDTH && i > 0 && i < value.length - 1) {
          this.writeIndent();
          if (isSpace(value[i + 1])) this.put('\\');
        } else {
          this.write(c);
        }
        spaces = true;
      } else {
        this.write(c);
        spaces = false;
      }
    }
    this.writeIndicator('"', false, false, false);
    this.whitespace = false;
    this.indention = false;
  }

  /** yaml_emitter_write_block_scalar_hints (emitterc.go:1550). */
  private writeBlockScalarHints(value: readonly number[]): void {
    if (isSpace(value[0]) || isBreak(value[0])) {
      this.writeIndicator(String(BEST_INDENT), false, false, false);
    }
    let chomp = '';
    if (value.length === 0) {
      chomp = '-';
    } else {
      const last = value.length - 1;
      if (!isBreak(value[last])) chomp = '-';
      else if (last === 0) chomp = '+';
      else if (isBreak(value[last - 1])) chomp = '+';
    }
    if (chomp !== '') this.writeIndicator(chomp, false, false, false);
  }

  /** yaml_emitter_write_literal_scalar (emitterc.go:1592). */
  private writeLiteral(value: readonly number[]): void {
    this.writeIndicator('|', true, false, false);
    this.writeBlockScalarHints(value);
    this.putBreak();
    this.indention = true;
    this.whitespace = true;
    let breaks = true;
    for (const c of value) {
      if (isBreak(c)) {
        this.writeBreak(c);
        this.indention = true;
        breaks = true;
      } else {
        if (breaks) this.writeIndent();
        this.write(c);
        this.indention = false;
        breaks = false;
      }
    }
  }

  /** yaml_emitter_write_folded_scalar (emitterc.go:1629); Marshal never asks for it. */
  private writeFolded(value: readonly number[]): void {
    this.writeIndicator('>', true, false, false);
    this.writeBlockScalarHints(value);
    this.putBreak();
    this.indention = true;
    this.whitespace = true;
    let breaks = true;
    let leadingSpaces = true;
    for (let i = 0; i < value.length; i++) {
      const c = value[i] ?? 0;
      if (isBreak(c)) {
        if (!breaks && !leadingSpaces && c === 0x0a) {
          let k = 0;
          while (isBreak(value[k])) k++;
          if (!isBlankz(value[k])) this.putBreak();
        }
        this.writeBreak(c);
        this.indention = true;
        breaks = true;
      } else {
        if (breaks) {
          this.writeIndent();
          leadingSpaces = isBlank(c);
        }
        if (!breaks && isSpace(c) && !isSpace(value[i + 1]) && this.column > BEST_WIDTH) {
          this.writeIndent();
        } else {
          this.write(c);
        }
        this.indention = false;
        breaks = false;
      }
    }
  }
}
