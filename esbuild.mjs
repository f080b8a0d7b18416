// One build for the three bundles the project ships:
//   dist/extension.js  the extension host side (Node, CommonJS, `vscode` external)
//   dist/engine.js     the engine process the extension host forks (Node, CommonJS)
//   dist/engineThread.js  its threads: analyses and token counts (Node, CommonJS)
//   dist/kernelHelper.js  the kernel's helper threads, started beside whichever bundle runs the kernel
//   dist/cli.js        `llm101` on the command line (Node, CommonJS, shebang)
//   dist/webview.js    the panel app (browser, IIFE), plus the codicon font it uses
//   dist/python/model.py  the reference GPTModel the PyTorch export copies
//   dist/reportHost.js the standalone report's stand-in for the extension host (browser, IIFE)
//   dist/training.js   the training panel (browser, IIFE)
//   dist/compare.js    the compare view: two models side by side (browser, IIFE)
//   out/test/extension/*.js  the mocha suites that run inside VS Code (not shipped)
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
  { ...node, entryPoints: ['src/worker/engineProcess.ts'], outfile: 'dist/engine.js' },
  { ...node, entryPoints: ['src/worker/engineThread.ts'], outfile: 'dist/engineThread.js' },
  { ...node, entryPoints: ['src/engine/kernels/helper.ts'], outfile: 'dist/kernelHelper.js' },
  { ...node, entryPoints: ['src/cli.ts'], outfile: 'dist/cli.js', banner: { js: '#!/usr/bin/env node' } },
  {
    ...common,
    entryPoints: ['webview/main.ts'],
    outfile: 'dist/webview.js',
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
  },
  {
    ...common,
    entryPoints: ['webview/training/main.ts'],
    outfile: 'dist/training.js',
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
  },
  {
    ...common,
    entryPoints: ['webview/compare.ts'],
    outfile: 'dist/compare.js',
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
  },
  {
    ...common,
    entryPoints: ['webview/reportHost.ts'],
    outfile: 'dist/reportHost.js',
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
    sourcemap: false, // inlined into reports, where a map file would not be found
  },
  {
    ...node,
    entryPoints: fs.existsSync('test/extension')
      ? fs.readdirSync('test/extension').filter((f) => f.endsWith('.ts')).map((f) => `test/extension/${f}`)
      : [],
    outdir: 'out/test/extension',
    external: ['vscode', 'mocha'],
  },
].filter((b) => b.entryPoints.length > 0 && b.entryPoints.every((e) => fs.existsSync(e)));

/** The codicon font and stylesheet the panel's icons and vscode-elements use; the reference model `llm101 export --pytorch` copies. */
function copyAssets() {
  fs.mkdirSync('dist/python', { recursive: true });
  for (const file of ['codicon.css', 'codicon.ttf']) {
    fs.copyFileSync(`node_modules/@vscode/codicons/dist/${file}`, `dist/${file}`);
  }
  fs.copyFileSync('src/export/python/model.py', 'dist/python/model.py');
}
copyAssets();

if (watch) {
  const contexts = await Promise.all(builds.map((b) => esbuild.context(b)));
  await Promise.all(contexts.map((c) => c.watch()));
  console.log(`watching ${builds.length} bundles…`);
} else {
  const t0 = Date.now();
  // Every bundle is attempted even when one fails, so one broken entry point does not hide the rest.
  const results = await Promise.allSettled(builds.map((b) => esbuild.build(b)));
  if (results.some((r) => r.status === 'rejected')) {
    console.error('build failed');
    process.exit(1);
  }
  if (fs.existsSync('dist/cli.js')) fs.chmodSync('dist/cli.js', 0o755);
  console.log(`built ${builds.map((b) => b.outfile ?? b.outdir).join(', ')} in ${Date.now() - t0} ms`);
}
