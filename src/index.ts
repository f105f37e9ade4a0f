// airlock's library API: named re-exports of each module's public surface.
export * from './errors.ts';
export * from './core/index.ts';
export * from './oci/index.ts';
export * from './artifact/index.ts';
export * from './sign/index.ts';
export * from './sbom/index.ts';
export * from './mirror/index.ts';
