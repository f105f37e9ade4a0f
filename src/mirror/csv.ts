/** One CSV record with the line and column where each field starts (1-based), for error messages. */
export interface CSVRecord {
  readonly line: number;
  readonly fields: readonly { value: string; line: number; column: number }[];
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
    const fields: { value: string; line: number; column: number }[] = [];
    for (;;) {
      const fieldLine = line;
      const fieldColumn = column;
      let value = '';
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
          value += c;
          advance(c);
        }
        if (!closed) {
          problems.push({
            line: fieldLine,
            column: fieldColumn,
            message: 'unterminated quoted field (a " opens it and nothing closes it)',
          });
          fields.push({ value, line: fieldLine, column: fieldColumn });
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
          value += c;
          advance(c);
        }
      }
      fields.push({ value, line: fieldLine, column: fieldColumn });
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
