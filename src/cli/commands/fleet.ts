import { AirlockError } from '../../errors.ts';
import type { CommandSpec } from '../command.ts';

// Scaffolding while issue 10 is built: replaced by the real command.
export const fleetBuildResourceSetCommand: CommandSpec = {
  name: 'fleet build resourceset',
  usage: '',
  examples: [],
  registry: false,
  options: {},
  run: () => Promise.reject(new AirlockError('INTERNAL', 'not built yet')),
};
