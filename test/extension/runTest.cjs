// Runs the mocha suites in out/test/extension inside a real VS Code extension host through
// @vscode/test-electron. Electron cannot be downloaded here, so `vscodeExecutablePath` points at
// scripts/vscode-headless, which runs VS Code 1.100's workbench from code-server in Chromium.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { runTests } = require('@vscode/test-electron');

const root = path.resolve(__dirname, '..', '..');
// The suites write workspace settings and trained checkpoints (.vscode/, .llm101/): they get a
// copy of the fixture workspace, so the clone stays clean.
const workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'llm101-ext-workspace-'));
fs.cpSync(path.join(root, 'test', 'fixtures', 'workspace'), workspace, { recursive: true });

runTests({
  vscodeExecutablePath: process.env.VSCODE_EXECUTABLE || path.join(root, 'scripts', 'vscode-headless'),
  extensionDevelopmentPath: root,
  extensionTestsPath: path.join(root, 'out', 'test', 'extension', 'index.js'),
  launchArgs: [workspace, '--disable-extensions'],
}).then(
  () => fs.rmSync(workspace, { recursive: true, force: true }),
  (err) => {
    console.error(`extension-host tests failed: ${err && err.message ? err.message : err}`);
    fs.rmSync(workspace, { recursive: true, force: true });
    process.exit(1);
  },
);
