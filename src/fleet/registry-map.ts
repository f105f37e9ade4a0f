// `--registry-map FROM=TO` (issue 10 §5): a fleet written for `ghcr.io/...` rendered against a
// local mirror. Kept apart from sources.ts so that parsing the flag loads no registry code.
import { AirlockError } from '../errors.ts';
import { escapeControl } from '../core/index.ts';

/** `--registry-map FROM=TO`: sources under FROM (host[/path]) are read from TO instead. */
export interface RegistryMapping {
  /** host[:port][/path] as written in the fleet's `oci://` URLs. */
  readonly from: string;
  /** host[:port][/path] of the mirror, or `oci-layout:PATH`. */
  readonly to: string;
}

/** Parses `FROM=TO` flags' values into mappings (INPUT_INVALID, option registryMap). */
export function parseRegistryMappings(values: readonly string[]): RegistryMapping[] {
  const mappings = values.map((value) => {
    const eq = value.indexOf('=');
    const from = (eq < 0 ? '' : value.slice(0, eq)).replace(/^oci:\/\//, '').replace(/\/+$/, '');
    const to = (eq < 0 ? '' : value.slice(eq + 1)).replace(/^oci:\/\//, '').replace(/\/+$/, '');
    if (from === '' || to === '' || from.includes('=') || /\s/.test(from + to))
      throw new AirlockError(
        'INPUT_INVALID',
        `${JSON.stringify(escapeControl(value))} is not FROM=TO (registry[/path]=mirror[/path] or oci-layout:PATH)`,
        {
          details: ['e.g. ghcr.io/acme=registry.internal:5000/acme'],
          data: { option: 'registryMap' },
        },
      );
    return { from, to };
  });
  const seen = new Set<string>();
  for (const { from } of mappings) {
    if (seen.has(from))
      throw new AirlockError(
        'INPUT_INVALID',
        `${JSON.stringify(escapeControl(from))} is mapped twice: each FROM may be mapped once`,
        { data: { option: 'registryMap' } },
      );
    seen.add(from);
  }
  return mappings;
}
