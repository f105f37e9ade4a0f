// Renovate for the releases repository: its renovate.json derived from promotion.yaml.
export { renovateConfig, type RenovateConfig, type RenovateConfigOptions } from './config.ts';
export { renovateConfigFile, type RenovateFileOptions, type RenovateFileResult } from './write.ts';
