#!/usr/bin/env node
// A "VS Code executable" for machines with no display and no Electron: it runs the real VS Code
// 1.100 workbench from code-server (installed by scripts/install-code-server.sh) and opens it in
// Debian's Chromium through playwright-core.
//
// Two uses:
//  1. As `vscodeExecutablePath` for @vscode/test-electron: it accepts the Electron-style flags
//     (--extensionDevelopmentPath, --extensionTestsPath, a folder, --disable-extensions), runs the
//     mocha suite in code-server's Node extension host, prints its output and exits with its code.
//     VS Code web reports test output and the end of the run through two window functions,
//     codeAutomationLog and codeAutomationExit, which we expose on the page.
//  2. As a library for the Playwright end-to-end tests and the playground launcher:
//     startCodeServer(), launchBrowser(), workbenchUrl().
//
// Environment: CODE_SERVER_DIR (default .vscode-test/code-server), CHROMIUM_PATH (/usr/bin/chromium),
// VSCODE_HEADLESS_TIMEOUT seconds (300), VSCODE_HEADLESS_VERBOSE=1 (server log + browser errors).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { format } from 'node:util';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const VERBOSE = process.env.VSCODE_HEADLESS_VERBOSE === '1';

// Unix socket paths must fit in 107 bytes: code-server's IPC socket lives in the user-data dir
// and Chromium refuses a deep $TMPDIR, so temporary state goes under a short directory.
const SHORT_TMP = os.tmpdir().length <= 40 ? os.tmpdir() : '/tmp';
const withShortTmp = (env) => ({ ...env, TMPDIR: SHORT_TMP });

// Lines the workbench itself logs through codeAutomationLog, mixed with the tests' output.
const NOISE = [
  /^Resolv(ing|ed) connection token/, /^Creating a socket \(/, /^Updating additional builtin extensions cache/,
  /^\[Service Worker\]/, /^ChatSessionStore:/, /^Ignoring fetching additional builtin extensions from gallery/,
];

export function codeServerEntry() {
  const dir = path.resolve(process.env.CODE_SERVER_DIR || path.join(ROOT, '.vscode-test', 'code-server'));
  const entry = path.join(dir, 'node_modules', 'code-server', 'out', 'node', 'entry.js');
  if (!fs.existsSync(entry)) throw new Error(`code-server is not installed in ${dir}: run bash scripts/install-code-server.sh`);
  return entry;
}

/**
 * Starts code-server on 127.0.0.1 with a port the OS picks and a fresh user-data dir holding
 * quiet settings (no welcome page, no trust prompt, no update or gallery checks) plus `settings`.
 * `port: N` asks for a fixed port (the playground); tests use 0.
 */
export async function startCodeServer({ extensionsDir, settings = {}, port = 0, env = process.env } = {}) {
  const entry = codeServerEntry();
  const userDataDir = fs.mkdtempSync(path.join(SHORT_TMP, 'llm101-vs-'));
  extensionsDir = path.resolve(extensionsDir || path.join(userDataDir, 'extensions'));
  fs.mkdirSync(extensionsDir, { recursive: true });
  const config = path.join(userDataDir, 'config.yaml'); // keeps ~/.config/code-server untouched
  fs.writeFileSync(config, `bind-addr: 127.0.0.1:${port}\nauth: none\ncert: false\n`);
  fs.mkdirSync(path.join(userDataDir, 'User'), { recursive: true });
  fs.writeFileSync(path.join(userDataDir, 'User', 'settings.json'), JSON.stringify({
    'workbench.startupEditor': 'none',
    'workbench.tips.enabled': false,
    'workbench.enableExperiments': false,
    'security.workspace.trust.enabled': false,
    'extensions.autoCheckUpdates': false,
    'extensions.autoUpdate': false,
    'extensions.ignoreRecommendations': true,
    'update.mode': 'none',
    'telemetry.telemetryLevel': 'off',
    'git.enabled': false,
    'chat.disableAIFeatures': true,
    ...settings,
  }, null, 2));

  const childEnv = withShortTmp(env);
  delete childEnv.PORT; // code-server would prefer $PORT over --bind-addr
  delete childEnv.ELECTRON_RUN_AS_NODE;
  childEnv.EXTENSIONS_GALLERY ??= '{}'; // no marketplace: it is unreachable here
  const child = spawn(process.execPath, [
    entry, '--config', config, '--bind-addr', `127.0.0.1:${port}`, '--auth', 'none',
    '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust',
    '--disable-getting-started-override', '--ignore-last-opened',
    '--user-data-dir', userDataDir, '--extensions-dir', extensionsDir,
  ], { env: childEnv, detached: true, stdio: ['ignore', 'pipe', 'pipe'] }); // own process group

  let log = '';
  const collect = (chunk) => { log += chunk; if (VERBOSE) process.stderr.write(`[code-server] ${chunk}`); };
  child.stdout.setEncoding('utf8').on('data', collect);
  child.stderr.setEncoding('utf8').on('data', collect);
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const listening = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`code-server did not start in 60 s:\n${log}`)), 60_000);
    const look = () => {
      const m = /HTTP server listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(log);
      if (m) { clearTimeout(timer); resolve(Number(m[1])); }
    };
    child.stdout.on('data', look);
    child.stderr.on('data', look);
    exited.then(({ code, signal }) => { clearTimeout(timer); reject(new Error(`code-server exited (${code ?? signal}):\n${log}`)); });
  });

  let stopping;
  const stop = () => (stopping ??= (async () => {
    const signalGroup = (sig) => { try { process.kill(-child.pid, sig); } catch { /* gone */ } };
    signalGroup('SIGTERM');
    const done = await Promise.race([exited.then(() => true), new Promise((r) => setTimeout(() => r(false), 3000))]);
    signalGroup('SIGKILL');
    if (!done) await exited;
    fs.rmSync(userDataDir, { recursive: true, force: true });
  })());
  const authority = `127.0.0.1:${listening}`;
  // pid: code-server's, which leads its own process group (the extension host is in it)
  return { pid: child.pid, port: listening, authority, baseUrl: `http://${authority}`, userDataDir, extensionsDir, exited, log: () => log, stop };
}

/** Debian's Chromium under playwright-core; the flags keep it off the (closed) network. */
export async function launchBrowser() {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    headless: true,
    env: withShortTmp(process.env),
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

const remote = (authority, file) => `vscode-remote://${authority}${pathToFileURL(path.resolve(file)).pathname}`;

/** The workbench URL; `payload` is VS Code web's list of [key, value] launch options. */
export function workbenchUrl(server, { folder, devPaths = [], testsPath, extra = [] } = {}) {
  const payload = [
    ...devPaths.map((p) => ['extensionDevelopmentPath', remote(server.authority, p)]),
    ...(testsPath ? [['extensionTestsPath', remote(server.authority, testsPath)]] : []),
    ['skipWelcome', 'true'], ['skipReleaseNotes', 'true'], ...extra,
  ];
  const where = folder ? `folder=${encodeURIComponent(path.resolve(folder))}` : 'ew=true';
  return `${server.baseUrl}/?${where}&payload=${encodeURIComponent(JSON.stringify(payload))}`;
}

function parseElectronArgs(argv) {
  const opts = { devPaths: [], testsPath: undefined, extensionsDir: undefined, folder: undefined, extra: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const value = () => (eq > 0 ? arg.slice(eq + 1) : argv[++i]);
    if (flag === '--extensionDevelopmentPath') opts.devPaths.push(path.resolve(value()));
    else if (flag === '--extensionTestsPath') opts.testsPath = path.resolve(value());
    else if (flag === '--extensions-dir') opts.extensionsDir = value();
    else if (flag === '--user-data-dir') value(); // replaced by a short temp dir (socket length)
    else if (flag === '--disable-extensions') opts.extra.push(['disableExtensions', 'true']);
    else if (!arg.startsWith('-') && !opts.folder && fs.existsSync(arg) && fs.statSync(arg).isDirectory()) opts.folder = arg;
    // every other Electron flag means nothing to the web workbench
  }
  return opts;
}

async function runSuite(argv) {
  if (argv.includes('--version')) { console.log('1.100.3\ncode-server\nx64'); return 0; }
  const opts = parseElectronArgs(argv);
  if (!opts.testsPath || opts.devPaths.length === 0) {
    console.error('vscode-headless: needs --extensionDevelopmentPath and --extensionTestsPath');
    return 2;
  }
  const limitMs = Number(process.env.VSCODE_HEADLESS_TIMEOUT || 300) * 1000;
  let server, browser;
  const teardown = async () => { await browser?.close().catch(() => {}); await server?.stop(); };
  for (const sig of ['SIGINT', 'SIGTERM']) process.once(sig, () => teardown().finally(() => process.exit(130)));
  try {
    server = await startCodeServer({ extensionsDir: opts.extensionsDir });
    browser = await launchBrowser();
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    let finish;
    const finished = new Promise((r) => { finish = r; });
    await page.exposeFunction('codeAutomationLog', (type, args) => {
      const text = format(...(Array.isArray(args) ? args : [args])); // console-style arguments
      if (!VERBOSE && NOISE.some((re) => re.test(text))) return;
      (type === 'error' ? process.stderr : process.stdout).write(text.endsWith('\n') ? text : `${text}\n`);
    });
    await page.exposeFunction('codeAutomationExit', (code) => finish({ code }));
    if (VERBOSE) page.on('pageerror', (e) => console.error('[page]', e.message));
    // a loaded machine can take minutes to serve the workbench
    await page.goto(workbenchUrl(server, opts), { waitUntil: 'domcontentloaded', timeout: limitMs });
    const result = await Promise.race([
      finished,
      server.exited.then(({ code, signal }) => ({ code: 1, why: `code-server died (${code ?? signal})` })),
      new Promise((r) => setTimeout(() => r({ code: 1, why: `no result after ${limitMs / 1000} s` }), limitMs).unref()),
    ]);
    if (result.why) console.error(`vscode-headless: ${result.why}\n${server.log().split('\n').slice(-30).join('\n')}`);
    return typeof result.code === 'number' ? result.code : 1;
  } catch (err) {
    console.error('vscode-headless:', err?.stack || err);
    return 1;
  } finally {
    await teardown();
  }
}

if (process.argv[1] && fs.realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  runSuite(process.argv.slice(2)).then((code) => process.exit(code));
}
