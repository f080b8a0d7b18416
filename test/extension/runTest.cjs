// Runs the mocha suites in out/test/extension inside a real VS Code extension host through
// @vscode/test-electron. Electron cannot be downloaded here, so `vscodeExecutablePath` points at
// scripts/vscode-headless, which runs VS Code 1.100's workbench from code-server in Chromium.
'use strict';
const path = require('node:path');
const { runTests } = require('@vscode/test-electron');

const root = path.resolve(__dirname, '..', '..');

runTests({
  vscodeExecutablePath: process.env.VSCODE_EXECUTABLE || path.join(root, 'scripts', 'vscode-headless'),
  extensionDevelopmentPath: root,
  extensionTestsPath: path.join(root, 'out', 'test', 'extension', 'index.js'),
  launchArgs: [path.join(root, 'test', 'fixtures', 'workspace'), '--disable-extensions'],
}).catch((err) => {
  console.error(`extension-host tests failed: ${err && err.message ? err.message : err}`);
  process.exit(1);
});
