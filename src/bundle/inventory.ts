// The state of an inventory mirror as bundle content (issue 11 §1): for every row of
// inventory.csv, every chart version the mirror under REGISTRY/PREFIX holds — the repository
// `airlock mirror` writes the row into (mirror targetRepository), its version tags (Helm writes
// `+` as `_`), not the signature or attestation tags beside them, which travel with each version.
import { mirroredVersions, parseInventory, targetRepository } from '../mirror/index.ts';
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
  const references: string[] = [];
  const seen = new Set<string>();
  for (const row of rows) {
    const repository = targetRepository(row);
    if (seen.has(repository)) continue;
    seen.add(repository);
    references.push(...(await mirroredVersions(session, row, inventory.from)));
  }
  return references;
}
