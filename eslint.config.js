// @ts-check
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

// Node globals for the few plain-JS config files (no `globals` dependency for five names).
const nodeGlobals = {
  console: 'readonly',
  process: 'readonly',
  module: 'writable',
  require: 'readonly',
  __dirname: 'readonly',
};

export default defineConfig(
  { ignores: ['node_modules/', 'dist/', 'data/', 'coverage/'] },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      // Type-aware linting: a full `npx eslint .` stays well under a minute on two cores.
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // An un-awaited order placement or Redis write is a silent bug in a trading engine.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
    },
  },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { globals: nodeGlobals },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // Money in the engine is Decimal: a float parse loses cents and bps silently.
    files: ['src/engine/**/*.ts'],
    rules: {
      'no-restricted-globals': [
        'error',
        { name: 'parseFloat', message: 'Money is Decimal in src/engine: use dec() from domain/decimal.' },
      ],
      'no-restricted-properties': [
        'error',
        {
          object: 'Number',
          property: 'parseFloat',
          message: 'Money is Decimal in src/engine: use dec() from domain/decimal.',
        },
        {
          object: 'globalThis',
          property: 'parseFloat',
          message: 'Money is Decimal in src/engine: use dec() from domain/decimal.',
        },
      ],
    },
  },
);
