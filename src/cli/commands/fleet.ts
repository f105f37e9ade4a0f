import { AirlockError } from '../../errors.ts';
import { buildResourceSetFiles, renderBuildCLI, toPlain } from '../../fleet/index.ts';
import { type CommandSpec, readStdin, stringOption } from '../command.ts';
import { ExitCode } from '../exit-codes.ts';

/** The library's option names as this command's flags (for errors from the library). */
const FLAGS: Readonly<Record<string, string>> = {
  file: '--filename',
  inputsFrom: '--inputs-from',
  providers: '--inputs-from-provider',
  namespace: '--namespace',
};

export const fleetBuildResourceSetCommand: CommandSpec = {
  name: 'fleet build resourceset',
  usage:
    'airlock fleet build resourceset -f FILE [-i|--inputs-from FILE] [--inputs-from-provider FILE] [-n NAMESPACE] [--json]',
  description: [
    'Builds a ResourceSet offline and prints the objects it generates, byte for byte what',
    '"flux-operator build resourceset" prints: a --- before each object, a "# step: NAME" line',
    'before the objects of each named step, commonMetadata and the resourceset.fluxcd.controlplane.io',
    'owner labels on every object. Inputs are the inline spec.inputs, or the list of maps in',
    '--inputs-from (which replaces them), plus the Static ResourceSetInputProviders of',
    '--inputs-from-provider that spec.inputsFrom selects by name or label selector (their id is',
    'the adler32 of the provider name, as the flux-operator CLI computes it; in a cluster it is',
    "the provider's UID). copyFrom, checksumFrom and dependsOn need a cluster and are left as written.",
  ].join('\n'),
  examples: [
    'airlock fleet build resourceset -f tenants/apps.yaml',
    'airlock fleet build resourceset -f rset.yaml --inputs-from-provider providers.yaml',
    'airlock fleet build resourceset -f rset.yaml -i inputs.yaml -n apps',
    'cat rset.yaml | airlock fleet build resourceset -f -',
  ],
  registry: false,
  options: {
    filename: {
      type: 'string',
      short: 'f',
      value: 'FILE',
      description: 'The ResourceSet manifest (its first document); - reads standard input.',
    },
    'inputs-from': {
      type: 'string',
      short: 'i',
      value: 'FILE',
      description: 'A YAML list of input maps that replaces spec.inputs.',
    },
    'inputs-from-provider': {
      type: 'string',
      value: 'FILE',
      description: 'ResourceSetInputProvider manifests (type Static) for spec.inputsFrom.',
    },
    namespace: {
      type: 'string',
      short: 'n',
      value: 'NAMESPACE',
      description: 'Namespace of a ResourceSet whose manifest names none (default "default").',
    },
  },
  async run({ values, positionals, out, stdin }) {
    if (positionals.length > 0)
      throw new AirlockError('USAGE', 'fleet build resourceset takes no arguments', {
        details: ['Name the ResourceSet with -f FILE.'],
      });
    const file = stringOption(values, 'filename');
    if (file === undefined || file === '')
      throw new AirlockError('USAGE', '--filename is required', {
        details: ['Run "airlock fleet build resourceset --help" for usage.'],
      });
    const inputsFrom = stringOption(values, 'inputs-from');
    const providers = stringOption(values, 'inputs-from-provider');
    const namespace = stringOption(values, 'namespace');
    let build;
    try {
      build = await buildResourceSetFiles({
        file,
        ...(file === '-' ? { stdin: await readStdin(stdin) } : {}),
        ...(inputsFrom === undefined ? {} : { inputsFrom }),
        ...(providers === undefined ? {} : { providers }),
        ...(namespace === undefined ? {} : { namespace }),
      });
    } catch (error) {
      throw cliError(error);
    }
    if (out.json) {
      out.result('', {
        name: build.name,
        namespace: build.namespace,
        objects: build.objects.map(toPlain),
        steps: build.steps.map((step) => ({
          ...(step.name === undefined ? {} : { name: step.name }),
          objects: step.objects.map(toPlain),
        })),
      });
      return ExitCode.ok;
    }
    // Output.result ends the text with a newline; the rendered stream already has its own.
    out.result(renderBuildCLI(build).replace(/\n$/, ''), {});
    return ExitCode.ok;
  },
};

/** The flux-operator CLI's wording for the errors that name its flags. */
function cliError(error: unknown): unknown {
  if (!(error instanceof AirlockError)) return error;
  if (error.data.field === 'spec.inputsFrom' && error.data.option === 'inputsFrom')
    return new AirlockError(
      error.code,
      "ResourceSet has '.spec.inputsFrom', please provide the inputs with --inputs-from or --inputs-from-provider",
      { cause: error, details: error.details, data: error.data },
    );
  if (error.data.option === 'namespace')
    return new AirlockError(
      error.code,
      'ResourceSet namespace must be set either in the manifest or with --namespace',
      { cause: error, details: error.details, data: error.data },
    );
  const option = error.data.option;
  const flag = typeof option === 'string' ? FLAGS[option] : undefined;
  if (flag !== undefined && error.code === 'FILE_UNREADABLE')
    return new AirlockError(error.code, `${flag}: ${error.message}`, {
      cause: error,
      details: error.details,
      data: error.data,
    });
  return error;
}
