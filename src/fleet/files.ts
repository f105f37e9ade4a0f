// `fleet build resourceset` from files, as `flux-operator build resourceset` reads them
// (FO @17c6aea cmd/cli/build_resourceset.go, ../shared/reference/resourceset.md §2.1): the
// ResourceSet's first document, an inputs file (a list of maps replacing spec.inputs) and a
// multi-document file of Static ResourceSetInputProviders.
import { AirlockError } from '../errors.ts';
import { readUserFile } from '../core/index.ts';
import { type GoMap, type GoValue, parseGoYAML } from '../goyaml/index.ts';
import { readObjects } from './objects.ts';
import { buildResourceSet, type ResourceSetBuild } from './resourceset.ts';

export interface BuildResourceSetFilesOptions {
  /** The ResourceSet manifest; "-" with `stdin` for text read from standard input. */
  readonly file: string;
  /** The text of "-" (the caller reads standard input). */
  readonly stdin?: string;
  /** A YAML list of maps that replaces `spec.inputs`. */
  readonly inputsFrom?: string;
  /** A multi-document YAML file of ResourceSetInputProviders of type Static. */
  readonly providers?: string;
  /** The namespace of a ResourceSet whose manifest names none (default "default"). */
  readonly namespace?: string;
}

function wrap(error: unknown, prefix: string): never {
  if (error instanceof AirlockError) {
    // The YAML reader names the file first; the operator's message starts at its own words.
    const at = error.message.indexOf('error converting YAML to JSON');
    const message = at > 0 ? error.message.slice(at) : error.message;
    throw new AirlockError(
      error.code === 'CONFIG_INVALID' ? 'RESOURCESET_INVALID' : error.code,
      `${prefix}: ${message}`,
      { cause: error, details: error.details, data: error.data },
    );
  }
  throw error;
}

async function readText(path: string, what: string, option: string): Promise<string> {
  try {
    return (await readUserFile(path, { what })).toString('utf8');
  } catch (error) {
    if (error instanceof AirlockError)
      throw new AirlockError(error.code, error.message, {
        cause: error,
        details: error.details,
        data: { ...error.data, option },
      });
    throw error;
  }
}

function parseFirst(text: string, file: string, prefix: string): GoValue {
  try {
    return parseGoYAML(text, file);
  } catch (error) {
    return wrap(error, prefix);
  }
}

/** Reads the files, then builds as the flux-operator CLI does (`buildResourceSet`, CLI mode). */
export async function buildResourceSetFiles(
  options: BuildResourceSetFilesOptions,
): Promise<ResourceSetBuild> {
  let text: string;
  if (options.file === '-' && options.stdin !== undefined) {
    // The CLI saves standard input to a file after trimming trailing line breaks.
    text = options.stdin.replace(/[\r\n]+$/, '');
  } else {
    try {
      text = await readText(options.file, 'ResourceSet', 'file');
    } catch (error) {
      if (error instanceof AirlockError && error.code === 'FILE_UNREADABLE')
        throw new AirlockError(
          'FILE_UNREADABLE',
          `invalid filename '${options.file}', must point to an existing file`,
          { cause: error, details: [error.message], data: error.data },
        );
      throw error;
    }
  }
  const resourceSet = parseFirst(text, options.file, 'error parsing ResourceSet');
  let inputsFrom: GoValue | undefined;
  if (options.inputsFrom !== undefined) {
    const inputsText = await readText(options.inputsFrom, 'inputs file', 'inputsFrom');
    inputsFrom = parseFirst(inputsText, options.inputsFrom, 'error parsing inputs file');
  }
  let providers: GoMap[] | undefined;
  if (options.providers !== undefined) {
    const providersText = await readText(options.providers, 'input providers file', 'providers');
    try {
      providers = readObjects(providersText);
    } catch (error) {
      wrap(error, 'error loading providers from file: error parsing inputs provider file');
    }
  }
  const build = (): ResourceSetBuild =>
    buildResourceSet(resourceSet, {
      cli: true,
      ...(inputsFrom === undefined ? {} : { inputsFrom }),
      ...(providers === undefined ? {} : { providers }),
      ...(options.namespace === undefined ? {} : { namespace: options.namespace }),
    });
  try {
    return build();
  } catch (error) {
    if (error instanceof AirlockError)
      throw new AirlockError(error.code, error.message, {
        cause: error,
        details: [
          ...error.details,
          `in ResourceSet ${options.file === '-' ? 'from standard input' : options.file}`,
        ],
        data: { ...error.data, file: options.file },
      });
    throw error;
  }
}
