// @bufbuild/cel, loaded on first use: only `fleet check` evaluates CEL, and loading the engine
// costs every fleet command ~0.2 s of start-up (`fleet build resourceset` has a 1 s budget).
// The package ships CommonJS beside ESM, so a synchronous require keeps the checks synchronous.
import { createRequire } from 'node:module';
import type * as Cel from '@bufbuild/cel';
import type * as CelExt from '@bufbuild/cel/ext';

const require = createRequire(import.meta.url);
let cel: typeof Cel | undefined;
let ext: typeof CelExt | undefined;

export function celLib(): typeof Cel {
  cel ??= require('@bufbuild/cel') as typeof Cel;
  return cel;
}

export function celExtensions(): typeof CelExt {
  ext ??= require('@bufbuild/cel/ext') as typeof CelExt;
  return ext;
}
