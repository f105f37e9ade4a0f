export {
  attachSBOM,
  chartImages,
  CYCLONEDX_MEDIA_TYPE,
  CYCLONEDX_PREDICATE,
  generateSBOM,
  type SBOM,
  type SBOMResult,
} from './cyclonedx.ts';
