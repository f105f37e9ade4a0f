// The file side of `renovate config`: read promotion.yaml, derive renovate.json (config.ts, pure),
// and compare it with (or write it over) the committed file. `check` writes nothing, for CI jobs
// that refuse a promotion.yaml change without its renovate.json.
import { readFile } from 'node:fs/promises';
import { AirlockError } from '../errors.ts';
import { readUserFile, writeFileAtomic } from '../core/index.ts';
import { parsePromotionConfig } from '../promote/index.ts';
import { renovateConfig, type RenovateConfig, type RenovateConfigOptions } from './config.ts';

export interface RenovateFileOptions extends RenovateConfigOptions {
  /** promotion.yaml to read. */
  readonly configFile: string;
  /** renovate.json to compare with and write; undefined: only derive it. */
  readonly output?: string;
  /** Compare only: never write. */
  readonly check?: boolean;
}

export interface RenovateFileResult {
  readonly configFile: string;
  readonly file?: string;
  readonly config: RenovateConfig;
  /** Whether the file on disk already holds exactly this configuration. */
  readonly upToDate: boolean;
  /** Whether this call wrote the file. */
  readonly existed: boolean;
  readonly written: boolean;
}

export async function renovateConfigFile(
  options: RenovateFileOptions,
): Promise<RenovateFileResult> {
  const source = await readUserFile(options.configFile, { what: 'the promotion config' });
  const promotion = parsePromotionConfig(source.toString('utf8'), options.configFile);
  const config = renovateConfig(promotion, {
    ...(options.registry === undefined ? {} : { registry: options.registry }),
    ...(options.plainHTTP === undefined ? {} : { plainHTTP: options.plainHTTP }),
  });
  const base = { configFile: options.configFile, config };
  if (options.output === undefined)
    return { ...base, upToDate: false, existed: false, written: false };
  const output = options.output;
  const existing = await readFile(output, 'utf8').catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new AirlockError(
      'FILE_UNREADABLE',
      `${output}: cannot read it: ${(error as Error).message}`,
      {
        cause: error,
        data: { option: 'output' },
      },
    );
  });
  const upToDate = existing === config.text;
  const write = !upToDate && options.check !== true;
  if (write) await writeFileAtomic(output, config.text);
  return { ...base, file: output, upToDate, existed: existing !== undefined, written: write };
}
