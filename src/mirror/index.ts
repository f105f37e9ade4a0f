export { type CSVProblem, type CSVRecord, parseCSV } from './csv.ts';
export { INVENTORY_COLUMNS, type InventoryRow, parseInventory, sourceKind } from './inventory.ts';
export {
  chartTagFor,
  inShard,
  type MirrorOp,
  type MirrorPlan,
  planMirror,
  selectVersions,
  type TargetState,
  targetRepository,
  type UpstreamVersion,
} from './plan.ts';
export { junitReport } from './report.ts';
export { type MirrorOptions, type MirrorRecord, type MirrorReport, runMirror } from './run.ts';
export { fetchChart, listUpstream, type UpstreamContext } from './upstream.ts';
