export { type CSVProblem, type CSVRecord, parseCSV } from './csv.ts';
export { INVENTORY_COLUMNS, type InventoryRow, parseInventory, sourceKind } from './inventory.ts';
export { INDEX_ENTRY_FIELDS, parseHelmIndex } from './helm-index.ts';
export { selectImageTags } from './images.ts';
export {
  type InventoryChartImages,
  type InventoryChartImagesOptions,
  listInventoryChartImages,
  mirroredVersions,
} from './chart-images.ts';
export {
  inShard,
  type MirrorAction,
  type MirrorOp,
  type MirrorPlan,
  planMirror,
  type PresentVersion,
  selectUpstream,
  selectVersions,
  type TargetState,
  targetRepository,
  type UpstreamVersion,
} from './plan.ts';
export { junitReport } from './report.ts';
export {
  type MirrorEvent,
  type MirrorItem,
  type MirrorOptions,
  type MirrorReport,
  REASON,
  runMirror,
} from './run.ts';
export { fetchChart, listUpstream, type UpstreamContext } from './upstream.ts';
