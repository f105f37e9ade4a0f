// Go text/template with the slim-sprig hermetic functions, as the Flux Operator renders
// ResourceSet templates (../shared/reference/resourceset.md §1.4): parse errors are
// TEMPLATE_INVALID, execution errors TEMPLATE_FAILED, both worded as Go words them.
export {
  formatFloat,
  formatType,
  formatValue,
  goQuote,
  sprint,
  sprintf,
  sprintln,
} from './format.ts';
export { slugify } from './slug.ts';
export {
  deepEqual,
  empty,
  fluxOperatorFuncs,
  goJSONMarshal,
  sprigHermeticFuncs,
  strval,
  toFloat64,
  toInt64,
} from './sprig.ts';
export {
  type ExecuteOptions,
  parseTemplate,
  type ParseTemplateOptions,
  type Template,
} from './template.ts';
export {
  type FuncMap,
  type GoFunc,
  goFunc,
  goKindOf,
  GoPlainInt,
  type GoSignature,
  type GoType,
  goTypeOf,
  typedMap,
  typedSlice,
} from './types.ts';
export { isTrue } from './exec.ts';
