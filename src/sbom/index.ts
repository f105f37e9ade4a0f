export {
  attachSBOM,
  chartImages,
  CYCLONEDX_MEDIA_TYPE,
  CYCLONEDX_PREDICATE,
  generateSBOM,
  type SBOM,
  type SBOMResult,
} from './cyclonedx.ts';
export { publishArtifact, type PublishItem, type PublishOptions } from './publish.ts';
