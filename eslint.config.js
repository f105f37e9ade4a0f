// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Module boundaries (docs/architecture.md): a module is imported only through its index.ts,
// and dependencies point one way: cli -> capabilities -> artifact/sign -> oci -> core.
const deepImport = {
  group: ['**/core/*', '**/oci/*', '**/artifact/*', '**/sign/*', '**/mirror/*', '**/cli/*'],
  message: 'Import another module only through its index.ts.',
};
const allowOwn = (/** @type {string} */ mod) => ({
  ...deepImport,
  group: deepImport.group.filter((g) => g !== `**/${mod}/*`),
});

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'airlock-store/'] },
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
    },
  },
  {
    files: ['src/core/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['../*/**', '!../errors.ts'], message: 'core imports nothing.' }] },
      ],
    },
  },
  ...['oci', 'artifact', 'sign', 'mirror'].map((mod) => ({
    files: [`src/${mod}/**`],
    rules: { 'no-restricted-imports': ['error', { patterns: [allowOwn(mod)] }] },
  })),
  {
    files: ['src/cli/**', 'test/**', 'bench/**'],
    rules: {
      'no-console': 'off',
    },
  },
  {
    files: ['**/*.test.ts', 'test/**', 'bench/**'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
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
    files: ['eslint.config.js'],
    extends: [tseslint.configs.disableTypeChecked],
  },
);
