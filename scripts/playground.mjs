#!/usr/bin/env node
// `npm run playground`: VS Code with this extension loaded and samples/ (the poems) open.
// A desktop `code` on PATH is used when there is one; otherwise VS Code runs from the local
// code-server on 127.0.0.1 and its URL is printed (and opened when a browser is available).
// Ctrl+C stops everything.
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startCodeServer, workbenchUrl } from './vscode-headless.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const samples = path.join(root, 'samples');
const onPath = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

if (onPath('code') && !process.env.LLM101_USE_CODE_SERVER) {
  console.log('Opening VS Code with LLM 101 Playground loaded on samples/ …');
  const child = spawn('code', ['--new-window', `--extensionDevelopmentPath=${root}`, samples], { stdio: 'inherit' });
  child.on('exit', (code) => process.exit(code ?? 0));
} else {
  const port = Number(process.env.LLM101_PORT || 0);
  const server = await startCodeServer({ port, settings: { 'workbench.colorTheme': 'Default Dark Modern' } });
  const url = workbenchUrl(server, { folder: samples, devPaths: [root] });
  console.log('\nLLM 101 Playground is running in VS Code (code-server) on this machine:\n');
  console.log(`  ${url}\n`);
  console.log('Open a poem, select a line, then press Ctrl+Alt+L or run "LLM 101: Analyze Selection".');
  console.log('Press Ctrl+C to stop.\n');
  for (const opener of ['xdg-open', 'open']) {
    if (process.env.DISPLAY && onPath(opener)) {
      spawn(opener, [url], { stdio: 'ignore', detached: true }).unref();
      break;
    }
  }
  const stop = async () => {
    console.log('\nstopping…');
    await server.stop();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  server.exited.then(({ code }) => {
    console.error(`code-server stopped (${code})`);
    process.exit(1);
  });
}
