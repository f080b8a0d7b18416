// ESLint: typescript-eslint's recommended rules, plus the architectural rules that matter most:
// nothing under src/engine may import `vscode` or the panel's code (the engine runs in the CLI,
// the engine process and tests), and the webview does no model math.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'out/**', 'node_modules/**', '.vscode-test/**', 'test-results/**', 'bench/**', '**/*.mjs', '**/*.cjs', '**/*.js'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['src/engine/**/*.ts', 'src/cli.ts', 'src/cli/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: [{ name: 'vscode', message: 'the engine and CLI must not depend on VS Code' }] }],
    },
  },
  {
    // the engine knows nothing of the panel: what it draws is built in src/worker, the contracts are src/shared's
    files: ['src/engine/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [{ name: 'vscode', message: 'the engine must not depend on VS Code' }],
        patterns: [{ group: ['**/shared/*', '**/panels/*', '**/worker/*', '**/host/*'], message: 'src/engine imports no panel, protocol or host code' }],
      }],
    },
  },
  {
    // the contracts are the bottom layer: the webview, the host and the engine process all import
    // them, so they import nothing of theirs, and of the engine only types (no math in the webview)
    files: ['src/shared/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        paths: [{ name: 'vscode', message: 'the contracts must not depend on VS Code' }],
        patterns: [
          { group: ['../*', '!../engine'], message: 'src/shared imports nothing above it (only the engine\'s types)' },
          { group: ['../engine/*', '!../engine/types'], allowTypeImports: true, message: 'src/shared imports only types from the engine (and its types.ts)' },
        ],
      }],
    },
  },
  {
    files: ['webview/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['../src/engine/*', '!../src/engine/types'], message: 'the webview draws; the math stays in the engine' }] }],
    },
  },
);
