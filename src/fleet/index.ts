// Fleet: ResourceSets built offline exactly as the Flux Operator builds them, and fleets
// scaffolded for the isolated architecture (docs/architecture.md).
export {
  API_VERSION,
  buildResourceSet,
  type BuildResourceSetOptions,
  marshalObject,
  renderBuildCLI,
  renderBuildGolden,
  type ResourceSetBuild,
  type ResourceSetStepResult,
  toPlain,
} from './resourceset.ts';
export { buildResourceSetFiles, type BuildResourceSetFilesOptions } from './files.ts';
export {
  adler32,
  combineInputs,
  inputID,
  MAX_PERMUTATIONS,
  normalizeKey,
  Permuter,
} from './inputs.ts';
export { compileLabelSelector, type LabelSelector } from './selector.ts';
export { type KubeObject, objectKey, readObjects, splitDocuments } from './objects.ts';
export { type FleetInitOptions, initFleet, PHASES, scaffoldFleet } from './init.ts';
export { envsubst, type EnvsubstNode, type EnvsubstOptions, parseEnvsubst } from './envsubst.ts';
export {
  loadSubstituteVariables,
  SUBSTITUTE_ANNOTATION,
  type SubstituteOptions,
  type SubstituteSource,
  substituteObjects,
} from './substitute.ts';
export {
  type FleetRender,
  type FleetRenderGroup,
  fleetRenderFiles,
  renderFleet,
  type RenderFleetOptions,
  renderFleetYAML,
  type UnresolvedSource,
  writeFleetRender,
} from './render.ts';
export { findKustomize, type KustomizeTool } from './kustomize.ts';
export type { FleetFinding } from './findings.ts';
export {
  type DependencyGraph,
  dependencyGraph,
  graphDOT,
  type GraphEdge,
  type GraphGroup,
  graphMermaid,
  type GraphNode,
  graphText,
} from './graph.ts';
export {
  celParseError,
  checkFleet,
  type CheckFleetOptions,
  checkRender,
  type FleetCheck,
  type FleetClusterCheck,
} from './check.ts';
export { checkAdmissionPolicies } from './admission.ts';
export {
  checkIsolation,
  type ImageHolder,
  type IsolationOptions,
  registryImageHolder,
} from './isolation.ts';
// sources.ts (registry, signatures) is loaded by renderFleet only when it renders online.
export type { FleetSourceOptions, ResolvedSource } from './sources.ts';
export { parseRegistryMappings, type RegistryMapping } from './registry-map.ts';
export { secretValues } from './objects.ts';
export { findHelm, type HelmTool, releaseName, releaseValues } from './helm.ts';
export { type FleetImages, listFleetImages, type ListFleetImagesOptions } from './images.ts';
export {
  DEFAULT_DNS,
  DEFAULT_EGRESS_POLICY_NAME,
  dnsText,
  EGRESS_FILE,
  type EgressDecision,
  type EgressDNS,
  type EgressPlan,
  type EgressPlanOptions,
  type EgressPolicies,
  egressPolicies,
  type EgressPoliciesOptions,
  egressPoliciesYAML,
  type EgressPolicy,
  EGRESS_HEADER,
  planEgress,
  policyYAML,
  type SkippedNamespace,
  SYSTEM_NAMESPACES,
  writeEgressPolicies,
} from './egress.ts';
export {
  cidrProblem,
  EGRESS_ENTITIES,
  type EgressConfig,
  type EgressDestination,
  type EgressDNSConfig,
  type EgressEntity,
  type EgressPort,
  type EgressProtocol,
  isNamespaceName,
  type NamespaceEgress,
  parseEgressConfig,
  type PodLabels,
  readEgressConfig,
} from './egress-config.ts';
