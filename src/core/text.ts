// Text from remote data (chart names, versions, annotations, registry error bodies) is printed
// with control characters escaped, so no upstream can forge a log line or move the cursor.

// C0 controls (but not tab), DEL, C1 controls, and the Unicode line and paragraph separators.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029]/g;

/** Replaces control characters with visible escapes: newline → `\n`, ESC → `\x1b`. */
export function escapeControl(text: string): string {
  return text.replace(CONTROL, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    const code = c.charCodeAt(0);
    return code <= 0xff
      ? `\\x${code.toString(16).padStart(2, '0')}`
      : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** Whether text holds a control character that would forge or corrupt a line (tab allowed). */
export function hasControl(text: string): boolean {
  CONTROL.lastIndex = 0;
  const found = CONTROL.test(text);
  CONTROL.lastIndex = 0;
  return found;
}
