/**
 * JSON as Go's encoding/json writes it: compact, keys in the order given (struct field order), map
 * keys sorted bytewise, and `<`, `>`, `&`, U+2028 and U+2029 escaped. Digests of manifests that
 * Flux (go-containerregistry) and Helm produce depend on these bytes
 * (shared/reference/flux-oci.md §1.1, §7.3). Pass maps as `GoMap` so their keys get sorted.
 */
export class GoMap {
  readonly entries: Readonly<Record<string, unknown>>;
  constructor(entries: Readonly<Record<string, unknown>>) {
    this.entries = entries;
  }
}

function escapeString(value: string): string {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

export function goJSON(value: unknown): string {
  if (value instanceof GoMap) {
    const keys = Object.keys(value.entries).sort((a, b) =>
      Buffer.compare(Buffer.from(a), Buffer.from(b)),
    );
    return `{${keys.map((k) => `${escapeString(k)}:${goJSON(value.entries[k])}`).join(',')}}`;
  }
  if (typeof value === 'string') return escapeString(value);
  if (Array.isArray(value)) return `[${value.map(goJSON).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const parts = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${escapeString(k)}:${goJSON(v)}`);
    return `{${parts.join(',')}}`;
  }
  // JSON.stringify gives undefined for undefined and functions; Go writes null.
  const encoded = JSON.stringify(value) as string | undefined;
  return encoded ?? 'null';
}
