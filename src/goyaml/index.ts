// YAML as Go reads and writes it: sigs.k8s.io/yaml (YAML 1.1 resolution into JSON values) and
// go-yaml v2 emission (key order, quoting, folding), byte for byte.
export { GoInt, type GoMap, type GoValue, isGoInt, isGoMap } from './value.ts';
export { jsonToYAML, marshalGoYAML } from './marshal.ts';
export { parseGoYAML, parseGoYAMLDocuments, splitGoYAMLDocuments } from './parse.ts';
export { goKeyCompare, goKeyLess } from './sorter.ts';
export { formatFloatG } from './resolve.ts';
