// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Module boundaries (docs/architecture.md): a module is imported only through its index.ts,
// and dependencies point one way: cli -> capabilities -> artifact/sign -> oci -> core.
const MODULES = [
  'core',
  'oci',
  'session',
  'artifact',
  'sign',
  'sbom',
  'mirror',
  'goyaml',
  'gotemplate',
  'fleet',
  'provenance',
  'forge',
  'promote',
  'renovate',
  'bundle',
  'images',
  'cli',
];
const onlyThroughIndex = (/** @type {string} */ own) => ({
  group: MODULES.filter((m) => m !== own).flatMap((m) => [`**/${m}/*`, `!**/${m}/index.ts`]),
  message: 'Import another module only through its index.ts.',
});
/** Modules each module may not import at all (the arrows only point down). */
const CAPABILITIES = ['mirror', 'promote', 'renovate', 'fleet', 'bundle', 'images'];
// Go-compatible YAML and text/template: pure, beside core (the fleet renderer's foundation).
const GO = ['goyaml', 'gotemplate'];
const FORBIDDEN = {
  core: [
    'oci',
    'session',
    'artifact',
    'sign',
    'sbom',
    'provenance',
    'forge',
    ...GO,
    ...CAPABILITIES,
    'cli',
  ],
  goyaml: [
    'oci',
    'session',
    'artifact',
    'sign',
    'sbom',
    'provenance',
    'forge',
    'gotemplate',
    ...CAPABILITIES,
    'cli',
  ],
  gotemplate: [
    'oci',
    'session',
    'artifact',
    'sign',
    'sbom',
    'provenance',
    'forge',
    ...CAPABILITIES,
    'cli',
  ],
  // CI and git facts, and the forge REST clients, stand beside oci: they know nothing of artifacts.
  provenance: ['oci', 'session', 'artifact', 'sign', 'sbom', 'forge', ...CAPABILITIES, 'cli'],
  forge: ['oci', 'session', 'artifact', 'sign', 'sbom', 'provenance', ...CAPABILITIES, 'cli'],
  oci: ['session', 'artifact', 'sign', 'sbom', 'provenance', 'forge', ...CAPABILITIES, 'cli'],
  session: ['artifact', 'sign', 'sbom', 'provenance', 'forge', ...CAPABILITIES, 'cli'],
  artifact: ['sign', 'sbom', 'forge', ...CAPABILITIES, 'cli'],
  sign: ['artifact', 'sbom', 'provenance', 'forge', ...CAPABILITIES, 'cli'],
  sbom: ['forge', ...CAPABILITIES, 'cli'],
  // Inventory rows of type=image mirror through images (issue 12).
  mirror: ['promote', 'renovate', 'fleet', 'bundle', 'cli'],
  // Renovate's configuration is derived from promotion.yaml: renovate reads promote's config only.
  promote: ['mirror', 'renovate', 'fleet', 'bundle', 'images', 'cli'],
  renovate: ['mirror', 'fleet', 'bundle', 'images', 'cli'],
  // The fleet's image list, egress policies and isolation checks are built on images (issue 12).
  fleet: ['mirror', 'promote', 'renovate', 'bundle', 'cli'],
  // Air-gap bundles read inventories through mirror; nothing imports bundle but the CLI.
  bundle: ['promote', 'renovate', 'fleet', 'images', 'cli'],
  // Image references, cache rules, chart image discovery, image copies and the Kyverno policy
  // (issue 12): below mirror and fleet, which build on it; it knows neither.
  images: ['mirror', 'promote', 'renovate', 'fleet', 'bundle', 'cli'],
};

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'airlock-store/', 'bench/results/'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      eqeqeq: 'error',
      'no-console': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
    },
  },
  ...Object.entries(FORBIDDEN).map(([mod, forbidden]) => ({
    files: [`src/${mod}/**`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            onlyThroughIndex(mod),
            {
              group: forbidden.map((m) => `**/${m}/**`),
              message: `${mod} may not depend on this module (see docs/architecture.md).`,
            },
          ],
        },
      ],
    },
  })),
  {
    files: ['src/cli/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: [onlyThroughIndex('cli')] }] },
  },
  // A command is flags → options → one library call → render: it never imports another command
  // (shared CLI helpers live in src/cli/, beside command.ts).
  {
    files: ['src/cli/commands/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            onlyThroughIndex('cli'),
            {
              group: ['./*'],
              message: 'Commands never import each other: move shared code to src/cli/.',
            },
          ],
        },
      ],
    },
  },
  // USAGE is the CLI's code: library functions fail with INPUT_INVALID (and error.data naming the
  // option), and never spell a flag, so the CLI alone decides how an option is set.
  {
    files: ['src/**/*.ts'],
    ignores: ['src/cli/**', 'src/**/*.test.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: "NewExpression[callee.name=/Error$/] > Literal[value='USAGE']",
          message: "Only the CLI throws USAGE: use 'INPUT_INVALID' with data: { option }.",
        },
        {
          selector: 'Literal[value=/(^|[\\s"`(])--[a-z][a-z0-9]*(-[a-z0-9]+)*\\b/]',
          message: 'Library messages do not name CLI flags: put the option in error.data.',
        },
        {
          selector: 'TemplateElement[value.raw=/(^|[\\s"`(])--[a-z][a-z0-9]*(-[a-z0-9]+)*\\b/]',
          message: 'Library messages do not name CLI flags: put the option in error.data.',
        },
      ],
    },
  },
  // Plans are pure (DESIGN.md "Architecture"): inputs in, operations out. No file system, no
  // network, no registry I/O in a plan module; the run module does the I/O.
  {
    files: ['src/**/plan.ts', 'src/**/plan-*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['node:fs', 'node:fs/*', 'fs', 'fs/*', 'node:http', 'node:https', 'node:net'],
              message: 'Plan modules are pure: no I/O (docs/architecture.md).',
            },
            {
              group: ['**/oci/**', '**/session/**'],
              message: 'Plan modules are pure: take repository state as input, do no registry I/O.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/cli/**', 'test/**', 'bench/**', 'examples/**'],
    rules: {
      'no-console': 'off',
    },
  },
  {
    files: ['**/*.test.ts', 'test/**', 'bench/**', 'examples/**'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      // Typed JSON helpers in tests read best as json<T>().
      '@typescript-eslint/no-unnecessary-type-parameters': 'off',
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['it', 'describe', 'test', 'suite'] },
          ],
        },
      ],
    },
  },
  {
    files: ['eslint.config.js', 'scripts/**/*.js'],
    extends: [tseslint.configs.disableTypeChecked],
  },
  {
    files: ['scripts/**/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
    rules: { 'no-console': 'off' },
  },
);
