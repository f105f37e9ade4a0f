/** The first control character in a field's text, and where it is (1-based). */
export interface CSVControl {
  readonly char: string;
  readonly line: number;
  readonly column: number;
}

export interface CSVField {
  readonly value: string;
  readonly line: number;
  readonly column: number;
  /** Set when the value holds a control character (a quoted newline or CR, NUL, ESC, …). */
  readonly control?: CSVControl;
}

/** One CSV record with the line and column where each field starts (1-based), for error messages. */
export interface CSVRecord {
  readonly line: number;
  readonly fields: readonly CSVField[];
}

/**
 * The characters core's hasControl() refuses (C0 but tab, DEL, C1, U+2028/U+2029), tested by code
 * so the per-character scan costs nothing on a 10,000-row inventory.
 */
function isControl(code: number): boolean {
  return (
    (code < 0x20 && code !== 0x09) ||
    (code >= 0x7f && code <= 0x9f) ||
    code === 0x2028 ||
    code === 0x2029
  );
}

export interface CSVProblem {
  readonly line: number;
  readonly column: number;
  readonly message: string;
}

/**
 * RFC 4180 CSV: comma-separated, fields optionally in double quotes with "" as an escaped quote and
 * line breaks allowed inside quotes; CRLF or LF line ends. Lines whose first character is "#" and
 * blank lines are skipped (comments are an airlock extension). Pure: text in, records and problems out.
 */
export function parseCSV(text: string): { records: CSVRecord[]; problems: CSVProblem[] } {
  const records: CSVRecord[] = [];
  const problems: CSVProblem[] = [];
  let i = 0;
  let line = 1;
  let column = 1;
  const advance = (c: string): void => {
    i++;
    if (c === '\n') {
      line++;
      column = 1;
    } else column++;
  };
  while (i < text.length) {
    // Skip blank lines and comment lines at the start of a record.
    if (text[i] === '#' || text[i] === '\n' || (text[i] === '\r' && text[i + 1] === '\n')) {
      while (i < text.length && text[i] !== '\n') advance(text[i] ?? '');
      if (i < text.length) advance('\n');
      continue;
    }
    const recordLine = line;
    const fields: CSVField[] = [];
    for (;;) {
      const fieldLine = line;
      const fieldColumn = column;
      let value = '';
      let control: CSVControl | undefined;
      const take = (c: string): void => {
        if (control === undefined && isControl(c.charCodeAt(0)))
          control = { char: c, line, column };
        value += c;
        advance(c);
      };
      const field = (): CSVField => ({
        value,
        line: fieldLine,
        column: fieldColumn,
        ...(control ? { control } : {}),
      });
      if (text[i] === '"') {
        advance('"');
        let closed = false;
        while (i < text.length) {
          const c = text[i] ?? '';
          if (c === '"') {
            if (text[i + 1] === '"') {
              value += '"';
              advance('"');
              advance('"');
              continue;
            }
            advance('"');
            closed = true;
            break;
          }
          take(c);
        }
        if (!closed) {
          problems.push({
            line: fieldLine,
            column: fieldColumn,
            message: 'unterminated quoted field (a " opens it and nothing closes it)',
          });
          fields.push(field());
          records.push({ line: recordLine, fields });
          return { records, problems };
        }
        if (i < text.length && text[i] !== ',' && text[i] !== '\n' && text[i] !== '\r') {
          problems.push({ line, column, message: 'unexpected text after a closing quote' });
          while (i < text.length && text[i] !== ',' && text[i] !== '\n') advance(text[i] ?? '');
        }
      } else {
        while (
          i < text.length &&
          text[i] !== ',' &&
          text[i] !== '\n' &&
          !(text[i] === '\r' && text[i + 1] === '\n')
        ) {
          const c = text[i] ?? '';
          if (c === '"')
            problems.push({
              line,
              column,
              message:
                'a quote inside an unquoted field (quote the whole field and write "" for a quote)',
            });
          take(c);
        }
      }
      fields.push(field());
      if (text[i] === ',') {
        advance(',');
        continue;
      }
      if (text[i] === '\r') advance('\r');
      if (text[i] === '\n') advance('\n');
      break;
    }
    records.push({ line: recordLine, fields });
  }
  return { records, problems };
}
