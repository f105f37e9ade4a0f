// Flags the fleet commands that render a cluster share (render, check, graph): one spelling and
// one meaning, as verify's policy flags are shared (verify-options.ts).
import type { OptionSpec } from './command.ts';

export const KUSTOMIZE_BIN_OPTION: OptionSpec = {
  type: 'string',
  value: 'PATH',
  env: true,
  description:
    'The kustomize (or kubectl, for "kubectl kustomize") to build with (default: kustomize, else kubectl, on PATH).',
};
