import { AirlockError } from '../../errors.ts';
import { renovateConfigFile } from '../../renovate/index.ts';
import { type CommandSpec, stringList, stringOption } from '../command.ts';
import { ExitCode } from '../exit-codes.ts';

/** The library's option names as this command's flags (for INPUT_INVALID from the library). */
const FLAGS: Readonly<Record<string, string>> = {
  registry: '--registry',
  plainHTTP: '--insecure-registry',
  promotionConfig: '--config',
  output: '--output',
};

export const renovateConfigCommand: CommandSpec = {
  name: 'renovate config',
  usage:
    'airlock renovate config [--config promotion.yaml] [-o renovate.json] [--registry HOST[:PORT]] [--insecure-registry HOST[:PORT]] [--check]',
  description: [
    'Derives renovate.json from promotion.yaml: Renovate updates only the first environment',
    "(labels and auto-merge from that environment's rules; ResourceSet inputs through a JSONata",
    'custom manager); later environments change only through "airlock promote apply".',
    '--registry keeps lookups to the private registry; --insecure-registry naming that same',
    'host makes Renovate speak plain HTTP to it (other hosts in the list are ignored here).',
    '--check writes nothing and exits 1 when the file differs from what would be written (CI).',
  ].join('\n'),
  examples: [
    'airlock renovate config --registry registry.internal',
    'airlock renovate config --registry registry.internal --check',
    'airlock renovate config --config promotion.yaml -o - --registry 127.0.0.1:5000 --insecure-registry 127.0.0.1:5000',
  ],
  registry: false,
  options: {
    config: {
      type: 'string',
      value: 'FILE',
      description: 'promotion.yaml to read (default promotion.yaml).',
    },
    output: {
      type: 'string',
      short: 'o',
      value: 'FILE',
      description: 'Where to write (default renovate.json; - for standard output).',
    },
    registry: {
      type: 'string',
      value: 'HOST[:PORT]',
      env: true,
      description: 'The private registry: only dependencies from it are looked up.',
    },
    'insecure-registry': {
      type: 'string',
      multiple: true,
      value: 'HOST',
      env: true,
      description: 'Renovate speaks plain HTTP to --registry when this names it.',
    },
    check: {
      type: 'boolean',
      description: 'Write nothing; exit 1 when the file is missing or differs.',
    },
  },
  async run({ values, positionals, out }) {
    if (positionals.length > 0)
      throw new AirlockError('USAGE', 'renovate config takes no arguments', {
        details: ['Name promotion.yaml with --config and the output with -o.'],
      });
    const configPath = stringOption(values, 'config') ?? 'promotion.yaml';
    const output = stringOption(values, 'output') ?? 'renovate.json';
    const registry = stringOption(values, 'registry');
    const check = values.check === true;
    if (check && output === '-')
      throw new AirlockError('USAGE', '--check compares a file: give -o FILE, not -');
    const plainHTTP =
      registry !== undefined && stringList(values, 'insecure-registry').includes(registry);
    let result;
    try {
      result = await renovateConfigFile({
        configFile: configPath,
        ...(output === '-' ? {} : { output }),
        ...(registry === undefined ? {} : { registry }),
        plainHTTP,
        check,
      });
    } catch (error) {
      const option = error instanceof AirlockError ? error.data.option : undefined;
      const flag = typeof option === 'string' ? FLAGS[option] : undefined;
      if (error instanceof AirlockError && flag !== undefined)
        throw new AirlockError('USAGE', `${flag}: ${error.message}`, { cause: error });
      throw error;
    }
    const { warnings } = result.config;
    for (const warning of warnings) out.info(`airlock: warning: ${warning}`);
    if (output === '-') {
      if (out.json) out.result([], { file: '-', config: result.config.json, warnings });
      else out.result(result.config.text.trimEnd(), {});
      return ExitCode.ok;
    }
    const { upToDate } = result;
    const data = { file: output, upToDate, written: result.written, warnings };
    if (check) {
      const problem = result.existed ? `differs from what ${configPath} gives` : 'is missing';
      out.result(
        upToDate
          ? `${output} is up to date with ${configPath}`
          : `${output} ${problem}: run "airlock renovate config" and commit it`,
        data,
      );
      return upToDate ? ExitCode.ok : ExitCode.failure;
    }
    out.result(
      upToDate
        ? `${output} is up to date with ${configPath}`
        : `${output} written from ${configPath}`,
      data,
    );
    return ExitCode.ok;
  },
};
