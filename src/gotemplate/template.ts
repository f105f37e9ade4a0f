// The public Template: parse once (text/template Parse with Delims and Funcs), execute many times
// (Execute with Option("missingkey=…")).

import type { GoValue } from '../goyaml/index.ts';
import { builtinFuncs } from './builtins.ts';
import { ExecState } from './exec.ts';
import { parseTrees, type Tree } from './parse.ts';
import type { FuncMap } from './types.ts';

export interface ParseTemplateOptions {
  /** The template name, used in error messages (`template: NAME:3:14: …`). */
  readonly name: string;
  /** Action delimiters; Go's defaults are `{{` and `}}`. The Flux Operator uses `<<` and `>>`. */
  readonly leftDelim?: string;
  readonly rightDelim?: string;
  /** Functions beside the builtins; a name here overrides a builtin, as Template.Funcs does. */
  readonly funcs?: FuncMap;
}

export interface ExecuteOptions {
  /** `error` is Option("missingkey=error"); `default` prints `<no value>` for a missing key. */
  readonly missingKey?: 'error' | 'default';
}

export interface Template {
  readonly name: string;
  /** Names of the templates this text defines (the main one first). */
  readonly templates: readonly string[];
  /** Executes the main template (or a defined one, with `name`) with `data` as dot. */
  execute(data: GoValue, options?: ExecuteOptions & { readonly template?: string }): string;
}

const BUILTINS = builtinFuncs();

export function parseTemplate(text: string, options: ParseTemplateOptions): Template {
  const funcs = options.funcs ?? {};
  const trees = parseTrees(text, {
    name: options.name,
    leftDelim:
      options.leftDelim === undefined || options.leftDelim === '' ? '{{' : options.leftDelim,
    rightDelim:
      options.rightDelim === undefined || options.rightDelim === '' ? '}}' : options.rightDelim,
    hasFunction: (name) => Object.hasOwn(funcs, name) || Object.hasOwn(BUILTINS, name),
  });
  return {
    name: options.name,
    templates: [options.name, ...[...trees.keys()].filter((n) => n !== options.name)],
    execute(data, executeOptions = {}) {
      const name = executeOptions.template ?? options.name;
      const tree: Tree | undefined = trees.get(name);
      // nil data is the invalid value: `.x` then reports "nil data; no entry for key".
      const dot = data === null ? undefined : data;
      const state = new ExecState(
        { trees, funcs, builtins: BUILTINS, missingKey: executeOptions.missingKey ?? 'default' },
        tree ?? { name, parseName: options.name, text, root: { type: 'list', pos: 0, nodes: [] } },
        dot,
      );
      if (tree === undefined) {
        state.errorf(`${JSON.stringify(name)} is an incomplete or empty template`);
      }
      return state.run(dot);
    },
  };
}
