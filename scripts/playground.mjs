#!/usr/bin/env node
// `npm run playground`: VS Code with this extension loaded and a copy of samples/ (the poems) open.
// A desktop `code` on PATH is used when there is one; otherwise VS Code runs from the local
// code-server on 127.0.0.1 and its URL is printed (and opened when a browser is available).
//
// The workspace is a copy of samples/ in the project's cache folder (.vscode-test/, ignored by
// git): the panel's knobs write workspace settings, and those must not land in the clone. The
// copy is kept between runs (settings and edits survive); delete it to start again from samples/.
// Ctrl+C stops code-server, removes its temporary profile and exits 0.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startCodeServer, workbenchUrl } from './vscode-headless.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PLAYGROUND_PORT = 8101;
const workspace = path.join(root, '.vscode-test', 'playground', 'samples');
fs.mkdirSync(workspace, { recursive: true });
// Files already in the copy are left as they are; new poems of samples/ are added.
fs.cpSync(path.join(root, 'samples'), workspace, { recursive: true, force: false, errorOnExist: false });
// The copy's workspace settings give what the playground opens with, unless they already name
// something else: the dark theme (a workspace setting, so desktop VS Code and code-server both
// open dark, whatever the user's own theme). The model is the extension's default, as after an
// install: the bundled poems model (llm101.weightsPath "poems").
const settingsFile = path.join(workspace, '.vscode', 'settings.json');
let settings = {};
try {
  settings = JSON.parse(fs.readFileSync(settingsFile, 'utf8'));
} catch {
  // no settings yet (or not JSON: written anew)
}
const defaults = { 'workbench.colorTheme': 'Default Dark Modern' };
const missing = Object.entries(defaults).filter(([key]) => !settings[key]);
if (missing.length > 0) {
  fs.mkdirSync(path.dirname(settingsFile), { recursive: true });
  fs.writeFileSync(settingsFile, `${JSON.stringify({ ...settings, ...Object.fromEntries(missing) }, null, 2)}\n`);
}
const onPath = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

if (onPath('code') && !process.env.LLM101_USE_CODE_SERVER) {
  console.log(`Opening VS Code with LLM 101 Playground loaded on a copy of samples/ (${path.relative(root, workspace)}) …`);
  const child = spawn('code', ['--new-window', `--extensionDevelopmentPath=${root}`, workspace], { stdio: 'inherit' });
  child.on('exit', (code) => process.exit(code ?? 0));
} else {
  // One port from run to run: the browser keeps the workbench's theme per address, so from the
  // second run on the page is dark from its first frame (the first time VS Code web paints light
  // until the theme is loaded). Another port when that one is taken.
  const port = Number(process.env.LLM101_PORT || PLAYGROUND_PORT);
  const settings = { 'workbench.colorTheme': 'Default Dark Modern' };
  const server = await startCodeServer({ port, settings }).catch(() => startCodeServer({ port: 0, settings }));
  const url = workbenchUrl(server, { folder: workspace, devPaths: [root] });
  console.log('\nLLM 101 Playground is running in VS Code (code-server) on this machine:\n');
  console.log(`  ${url}\n`);
  console.log(`The folder is a copy of samples/ in ${path.relative(root, workspace)}: settings the panel writes stay there.`);
  console.log('Open a poem, select a line, then press Ctrl+Alt+L or run "LLM 101: Analyze Selection".');
  console.log('Press Ctrl+C to stop.\n');
  for (const opener of ['xdg-open', 'open']) {
    if (process.env.DISPLAY && onPath(opener)) {
      spawn(opener, [url], { stdio: 'ignore', detached: true }).unref();
      break;
    }
  }
  let stopping = false;
  const stop = async () => {
    if (stopping) return; // a second Ctrl+C while stopping: the first one finishes the job
    stopping = true;
    console.log('\nstopping…');
    await server.stop(); // ends code-server's process group and removes its profile directory
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.on('SIGHUP', stop);
  server.exited.then(({ code }) => {
    if (stopping) return;
    console.error(`code-server stopped (${code})`);
    process.exit(1);
  });
}
