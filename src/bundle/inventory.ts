// The state of an inventory mirror as bundle content (issue 11 §1): for every row of
// inventory.csv, every chart version the mirror under REGISTRY/PREFIX holds — the repository
// `airlock mirror` writes the row into (mirror targetRepository), its version tags (Helm writes
// `+` as `_`), not the signature or attestation tags beside them, which travel with each version.
import { AirlockError } from '../errors.ts';
import { escapeControl, tagVersion } from '../core/index.ts';
import { parseInventory, targetRepository } from '../mirror/index.ts';
import type { Session } from '../session/index.ts';

export interface InventoryContent {
  /** inventory.csv text and its name for messages. */
  readonly text: string;
  readonly file: string;
  /** The mirror prefix: `registry.internal/mirror` (or `oci-layout:PATH`). */
  readonly from: string;
}

/** The references of every mirrored version of every row, sorted by row then version tag. */
export async function inventoryReferences(
  session: Session,
  inventory: InventoryContent,
): Promise<string[]> {
  const rows = parseInventory(inventory.text, inventory.file);
  const target = session.target(inventory.from);
  const references: string[] = [];
  const seen = new Set<string>();
  for (const row of rows) {
    const repository = targetRepository(row);
    if (seen.has(repository)) continue;
    seen.add(repository);
    const opened = target.open(repository);
    let tags: string[];
    try {
      tags = await opened.listTags();
    } catch (error) {
      if (error instanceof AirlockError && error.code === 'REGISTRY_NOT_FOUND') tags = [];
      else throw error;
    }
    const versions = tags.filter((t) => tagVersion(t) !== undefined).sort();
    if (versions.length === 0)
      throw new AirlockError(
        'INPUT_INVALID',
        `${row.where}: ${escapeControl(opened.name)} holds no mirrored version of ${escapeControl(row.chart)}`,
        {
          details: ['run airlock mirror first, or leave the row out'],
          data: { option: 'inventory' },
        },
      );
    for (const tag of versions) references.push(`${opened.name}:${tag}`);
  }
  return references;
}
