import { AirlockError } from '../../errors.ts';
import type { CommandSpec } from '../command.ts';

// Scaffolding while issue 9 is built: replaced by the real command.
export const promotePlanCommand: CommandSpec = {
  name: 'promotePlanCommand',
  usage: '',
  examples: [],
  registry: false,
  options: {},
  run: () => Promise.reject(new AirlockError('INTERNAL', 'not built yet')),
};
export const promoteApplyCommand: CommandSpec = {
  name: 'promoteApplyCommand',
  usage: '',
  examples: [],
  registry: false,
  options: {},
  run: () => Promise.reject(new AirlockError('INTERNAL', 'not built yet')),
};
