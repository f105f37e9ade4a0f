import { AirlockError } from '../../errors.ts';
import type { CommandSpec } from '../command.ts';

// Scaffolding while issue 9 is built: replaced by the real command.
export const promoteTagCommand: CommandSpec = {
  name: 'promoteTagCommand',
  usage: '',
  examples: [],
  registry: false,
  options: {},
  run: () => Promise.reject(new AirlockError('INTERNAL', 'not built yet')),
};
export const promoteLogCommand: CommandSpec = {
  name: 'promoteLogCommand',
  usage: '',
  examples: [],
  registry: false,
  options: {},
  run: () => Promise.reject(new AirlockError('INTERNAL', 'not built yet')),
};
