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
    // the engine knows nothing of the panel: what it draws is src/display's, the contracts src/shared's
    files: ['src/engine/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [{ name: 'vscode', message: 'the engine must not depend on VS Code' }],
        patterns: [{ group: ['**/shared/*', '**/display/*', '**/panels/*', '**/worker/*', '**/host/*'], message: 'src/engine imports no panel, protocol or host code' }],
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
