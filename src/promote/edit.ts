// Editing a pin in place: a promotion changes one or two scalars of a releases-repository file and
// nothing else, so the merge request's diff is exactly the promotion (issue 9 §4: "YAML edited in
// place, keeping comments, order and formatting"). The yaml library's nodes carry their source
// ranges (eemeli.org/yaml, "Nodes": range = [start, value-end, node-end]); the new text is the old
// text with those ranges spliced, never a re-serialised document.
import { isMap, isScalar, LineCounter, parseAllDocuments, Scalar, type Node } from 'yaml';
import { AirlockError } from '../errors.ts';
import { escapeControl } from '../core/index.ts';
import type { Pin, YAMLPath } from './pin.ts';
import { nodeAt, pinValueInDocs } from './pins.ts';

export interface PinChange {
  readonly version: string;
  /** Written at the pin's digestPath (the key is added after the version when missing). */
  readonly digest?: string;
}

function invalid(pin: Pin, lines: LineCounter, node: Node | undefined, why: string): AirlockError {
  const { line, col } = node?.range ? lines.linePos(node.range[0]) : { line: pin.line, col: 1 };
  return new AirlockError('CONFIG_INVALID', `${escapeControl(pin.file)}:${line}:${col}: ${why}`, {
    data: { file: pin.file },
  });
}

/** Text safe as a plain scalar that YAML reads back as this same string (not a number or bool). */
const PLAIN_SAFE = /^[A-Za-z0-9][A-Za-z0-9._+\-:/@]*$/;
const NOT_A_STRING =
  /^(?:[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)?|true|false|null|~|yes|no|on|off|y|n)$/i;

/** The new value in the quoting style the old one was written in. */
function render(old: Scalar, value: string): string {
  if (old.type === Scalar.QUOTE_SINGLE) return `'${value.replaceAll("'", "''")}'`;
  // A plain 1.10 would read back as a number, so only text that stays a string stays plain;
  // anything else (and every other style) is double-quoted.
  if (
    old.type === Scalar.PLAIN &&
    PLAIN_SAFE.test(value) &&
    (typeof old.value !== 'string' || !NOT_A_STRING.test(value))
  )
    return value;
  return JSON.stringify(value);
}

interface Splice {
  readonly at: number;
  readonly end: number;
  readonly text: string;
}

/**
 * `text` with the pin's version (and digest) replaced, byte for byte the same elsewhere: comments,
 * key order, quoting style, indentation, line endings and the other documents are untouched. A
 * missing digest key is added as the next line after the version, at its indentation (or as
 * `, key: value` in a flow map). Refuses (CONFIG_INVALID) when the file no longer holds the pin
 * where it was found, and (INPUT_INVALID) a change the pin cannot take: a digest for a kind
 * without one, no digest where one is written (the old digest would win over the new tag), or a
 * tag for an OCIRepository that follows a semver range (the range wins over the tag).
 */
export function editPin(text: string, pin: Pin, change: PinChange): string {
  const lines = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lines, prettyErrors: false });
  const list = Array.isArray(docs) ? docs : [];
  const doc = list[pin.document];
  if (doc === undefined || doc.errors.length > 0)
    throw invalid(pin, lines, undefined, `document ${pin.document} is missing or malformed`);
  const check = pinValueInDocs([doc], pin);
  if (check === undefined)
    throw invalid(pin, lines, undefined, `${pin.kind} ${escapeControl(pin.object)} is not here`);
  const root = doc.contents;
  const splices: Splice[] = [];

  const versionNode = nodeAt(root, pin.versionPath);
  if (!isScalar(versionNode) || !versionNode.range)
    throw invalid(
      pin,
      lines,
      versionNode,
      `${pathText(pin.versionPath)} is not a scalar to change`,
    );
  if (versionNode.type === Scalar.BLOCK_FOLDED || versionNode.type === Scalar.BLOCK_LITERAL)
    throw invalid(pin, lines, versionNode, `${pathText(pin.versionPath)} is a block scalar`);
  if (pin.kind === 'OCIRepository' && nodeAt(root, ['spec', 'ref', 'semver']) !== undefined)
    throw new AirlockError(
      'INPUT_INVALID',
      `${escapeControl(pin.file)}:${pin.line}: ${escapeControl(pin.object)} follows spec.ref.semver, which takes precedence over a tag; change it by hand`,
      { data: { file: pin.file } },
    );
  splices.push({
    at: versionNode.range[0],
    end: versionNode.range[1],
    text: render(versionNode, change.version),
  });

  const digestNode = pin.digestPath ? nodeAt(root, pin.digestPath) : undefined;
  if (change.digest !== undefined) {
    if (pin.digestPath === undefined)
      throw new AirlockError(
        'INPUT_INVALID',
        `a ${pin.kind} pin (${escapeControl(pin.file)}:${pin.line}) has no digest field`,
        { data: { option: 'digest' } },
      );
    if (digestNode !== undefined) {
      if (!isScalar(digestNode) || !digestNode.range)
        throw invalid(pin, lines, digestNode, `${pathText(pin.digestPath)} is not a scalar`);
      splices.push({
        at: digestNode.range[0],
        end: digestNode.range[1],
        text: render(digestNode, change.digest),
      });
    } else splices.push(insertSibling(text, pin, lines, change.digest));
  } else if (digestNode !== undefined)
    throw new AirlockError(
      'INPUT_INVALID',
      `${escapeControl(pin.file)}:${pin.line}: ${escapeControl(pin.object)} pins a digest, which would keep the old artifact: give the new digest`,
      { data: { option: 'digest' } },
    );

  splices.sort((a, b) => b.at - a.at);
  let out = text;
  for (const s of splices) out = out.slice(0, s.at) + s.text + out.slice(s.end);

  // Read the result back: the pin must now say exactly what was asked.
  const after = parseAllDocuments(out, { prettyErrors: false });
  const afterDoc = Array.isArray(after) ? after[pin.document] : undefined;
  const value =
    afterDoc && afterDoc.errors.length === 0 ? pinValueInDocs([afterDoc], pin) : undefined;
  if (
    value?.version !== change.version ||
    (change.digest !== undefined && value.digest !== change.digest)
  )
    throw new AirlockError(
      'INTERNAL',
      `editing ${escapeControl(pin.file)}:${pin.line} did not give version ${escapeControl(change.version)}`,
    );
  return out;
}

function pathText(path: YAMLPath): string {
  return path
    .map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`))
    .join('')
    .replace(/^\./, '');
}

/** `digest: …` after the version: a new line at the version key's indentation, or `, k: v` in a flow map. */
function insertSibling(text: string, pin: Pin, lines: LineCounter, digest: string): Splice {
  const digestPath = pin.digestPath ?? [];
  const key = digestPath[digestPath.length - 1];
  const parentPath = pin.versionPath.slice(0, -1);
  const docs = parseAllDocuments(text, { prettyErrors: false });
  const root = (Array.isArray(docs) ? docs[pin.document] : undefined)?.contents;
  const parent = nodeAt(root, parentPath);
  if (
    typeof key !== 'string' ||
    !isMap(parent) ||
    digestPath.slice(0, -1).join('\0') !== parentPath.join('\0')
  )
    throw invalid(
      pin,
      lines,
      parent ?? undefined,
      'no place to write the digest next to the version',
    );
  const name = pin.versionPath[pin.versionPath.length - 1];
  const pair = parent.items.find((p) => isScalar(p.key) && p.key.value === name);
  const keyNode = pair?.key as Node | undefined;
  const valueNode = pair?.value as Node | undefined;
  if (!keyNode?.range || !valueNode?.range) throw invalid(pin, lines, parent, 'no version key');
  const plain = new Scalar(digest);
  plain.type = Scalar.PLAIN;
  const value = render(plain, digest);
  if (parent.flow)
    return { at: valueNode.range[1], end: valueNode.range[1], text: `, ${key}: ${value}` };
  const lineStart = text.lastIndexOf('\n', keyNode.range[0] - 1) + 1;
  const indent = ' '.repeat(keyNode.range[0] - lineStart);
  const newline = text.includes('\r\n') ? '\r\n' : '\n';
  const lineEnd = text.indexOf('\n', valueNode.range[1]);
  if (lineEnd < 0)
    return { at: text.length, end: text.length, text: `${newline}${indent}${key}: ${value}` };
  return { at: lineEnd + 1, end: lineEnd + 1, text: `${indent}${key}: ${value}${newline}` };
}
