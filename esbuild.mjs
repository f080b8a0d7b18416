// One build for the three bundles the project ships:
//   dist/extension.js  the extension host side (Node, CommonJS, `vscode` external)
//   dist/worker.js     the engine in a worker thread (Node, CommonJS)
//   dist/cli.js        `llm101` on the command line (Node, CommonJS, shebang)
//   dist/webview.js    the panel app (browser, IIFE) + dist/webview.css
// Flags: --watch rebuilds on change, --production minifies and drops source maps.
import * as esbuild from 'esbuild';
import fs from 'node:fs';

const watch = process.argv.includes('--watch');
const production = process.argv.includes('--production');

const common = {
  bundle: true,
  logLevel: 'warning',
  sourcemap: production ? false : 'linked',
  minify: production,
  legalComments: 'none',
};
const node = { ...common, platform: 'node', format: 'cjs', target: 'node20' };

/** Entry points that exist: each bundle is added as soon as its source is there. */
const builds = [
  { ...node, entryPoints: ['src/extension.ts'], outfile: 'dist/extension.js', external: ['vscode'] },
  { ...node, entryPoints: ['src/engine/worker.ts'], outfile: 'dist/worker.js' },
  { ...node, entryPoints: ['src/cli.ts'], outfile: 'dist/cli.js', banner: { js: '#!/usr/bin/env node' } },
  {
    ...common,
    entryPoints: ['webview/main.ts'],
    outfile: 'dist/webview.js',
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
  },
].filter((b) => b.entryPoints.every((e) => fs.existsSync(e)));

if (watch) {
  const contexts = await Promise.all(builds.map((b) => esbuild.context(b)));
  await Promise.all(contexts.map((c) => c.watch()));
  console.log(`watching ${builds.length} bundles…`);
} else {
  const t0 = Date.now();
  await Promise.all(builds.map((b) => esbuild.build(b)));
  if (fs.existsSync('dist/cli.js')) fs.chmodSync('dist/cli.js', 0o755);
  console.log(`built ${builds.map((b) => b.outfile).join(', ')} in ${Date.now() - t0} ms`);
}
