/**
 * JSON with object keys sorted and no whitespace: the byte form airlock writes for manifests it
 * builds, so the same content always has the same digest. (Manifests read from elsewhere are never
 * re-serialised: their digests are of the exact bytes received.)
 */
export function canonicalJSON(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortKeys(v);
    }
    return out;
  }
  return value;
}
