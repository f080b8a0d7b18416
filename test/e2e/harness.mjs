// What the end-to-end suites share: the repository's paths, a throwaway copy of samples/ with its
// workspace settings, named checks that count passes and failures (a failure leaves a
// screenshot), the workbench each suite runs in, the command palette, polling with a bound, the
// webview frame that holds an element, and the console errors our code logs.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startCodeServer, launchBrowser, workbenchUrl } from '../../scripts/vscode-headless.mjs';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const RESULTS = path.join(ROOT, 'test-results');
fs.mkdirSync(RESULTS, { recursive: true });

/**
 * A copy of samples/ in /tmp (a run never edits the repository), its first poem, and its
 * .vscode/settings.json, which writeSettings changes the way a user edits it: the file changes
 * on disk and VS Code's file watcher picks it up.
 */
export function sampleWorkspace(prefix) {
  const workspace = fs.mkdtempSync(`/tmp/${prefix}-`);
  fs.cpSync(path.join(ROOT, 'samples'), workspace, { recursive: true });
  const poemFile = fs.readdirSync(workspace).filter((f) => f.endsWith('.txt')).sort()[0];
  const settingsFile = path.join(workspace, '.vscode', 'settings.json');
  fs.mkdirSync(path.dirname(settingsFile), { recursive: true });
  fs.writeFileSync(settingsFile, JSON.stringify({ 'workbench.colorTheme': 'Default Dark Modern', 'editor.minimap.enabled': false }, null, 2));
  const writeSettings = (extra) => fs.writeFileSync(settingsFile, JSON.stringify({ ...JSON.parse(fs.readFileSync(settingsFile, 'utf8')), ...extra }, null, 2));
  return { workspace, poemFile, settingsFile, writeSettings };
}

/** Named checks; `onFailure(n)` (set once a page exists) runs after the n-th failure. */
export function checks() {
  const state = { passed: 0, failed: 0, failures: [], onFailure: async () => {} };
  state.check = async (name, fn) => {
    const t0 = Date.now();
    try {
      await fn();
      state.passed++;
      console.log(`ok   ${name} (${Date.now() - t0} ms)`);
    } catch (err) {
      state.failed++;
      state.failures.push(name);
      console.log(`FAIL ${name}: ${String(err?.message ?? err).split('\n').slice(0, 3).join(' | ')}`);
      await state.onFailure(state.failed).catch(() => {});
    }
  };
  /** An error outside any check counts as one failure. */
  state.unexpected = (err) => {
    state.failed++;
    console.log(`FAIL unexpected: ${err?.stack ?? err}`);
  };
  /** The closing line every suite ends with, and its exit code. */
  state.finish = () => {
    console.log(`${state.passed} passed, ${state.failed} failed`);
    process.exit(state.failed ? 1 : 0);
  };
  return state;
}

/** Runs a command from the palette by its title ("LLM 101: Train Model"). */
export async function runCommand(page, title, ms) {
  await page.keyboard.press('F1');
  await page.locator('.quick-input-widget input').waitFor({ timeout: ms });
  await page.keyboard.type(title);
  await page.locator('.quick-input-widget .monaco-list-row.focused', { hasText: title.replace(/^.*: /, '') }).waitFor({ timeout: ms });
  await page.keyboard.press('Enter');
}

/** Console errors that come from our code (matched on their text or their script's URL). */
export function watchConsole(page, ours) {
  const errors = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && (ours.test(m.text()) || ours.test(m.location()?.url ?? ''))) errors.push(m.text());
  });
  // uncaught errors too, when they come from our code: VS Code's own webview host
  // (webview/browser/pre/index.html) may throw "Found unexpected null" when a message reaches a
  // frame that a closing webview has already removed, a race that is not ours
  page.on('pageerror', (e) => {
    if (ours.test(e.message) || ours.test(e.stack ?? '')) errors.push(e.message);
  });
  return errors;
}

/** Console errors of our code: its log prefix, its commands' titles, or one of its bundles. */
const OURS = /\[llm101|LLM 101|dist\/(extension|engine|webview|training|compare)\.js/;

/**
 * A suite in the real workbench: code-server on `workspace` (with this repository as the
 * extension under development), Chromium, one 1600 × 1000 page on the workbench. `body({ page })`
 * runs the checks; a failure leaves `${shots}-N.png`, an error outside a check counts as one
 * failure; then a last check that our code logged no error, the browser and server are closed,
 * `cleanup` runs, and the suite ends with "N passed, N failed".
 */
export async function inWorkbench({ suite, workspace, shots, openMs = 120_000, cleanup = () => {} }, body) {
  const server = await startCodeServer();
  const browser = await launchBrowser();
  try {
    const page = await (await browser.newContext({ viewport: { width: 1600, height: 1000 } })).newPage();
    const consoleErrors = watchConsole(page, OURS);
    suite.onFailure = (n) => page.screenshot({ path: path.join(RESULTS, `${shots}-${n}.png`) });
    await page.goto(workbenchUrl(server, { folder: workspace, devPaths: [ROOT] }), { waitUntil: 'domcontentloaded', timeout: openMs });
    await body({ page });
    await suite.check('no errors from the extension or its webviews in the console', async () => {
      if (consoleErrors.length) throw new Error(consoleErrors.slice(0, 5).join(' | '));
    });
  } catch (err) {
    suite.unexpected(err);
  } finally {
    await browser.close().catch(() => {});
    await server.stop();
    cleanup();
  }
  console.log(`screenshots in ${path.relative(process.cwd(), RESULTS) || '.'}/`);
  suite.finish();
}

/** Polls `ok` until it returns a truthy value (returned), for at most `ms`; then fails naming `what`. */
export async function waitUntil(page, what, ok, ms, every = 150) {
  const end = Date.now() + ms;
  for (;;) {
    const value = await ok();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await page.waitForTimeout(every);
  }
}

/** The playground panel's newest run: the one on show or a newer one whose tokens alone are painted (its trace on the way). */
export async function newestRunId(web) {
  const ids = await web.locator('#app').evaluate((app) => [app.dataset.runId, app.dataset.startingRunId]).catch(() => []);
  return Math.max(0, ...ids.filter(Boolean).map(Number));
}

/**
 * Waits until a run newer than `before` has painted its tokens section with `n` chips (or n + 1:
 * BPE tokenizers count the final newline); returns whether that was before its trace (the
 * tokens alone, the other sections still being computed).
 */
export async function tokensPainted(page, web, before, n, ms) {
  return waitUntil(page, `the tokens section of a new run with ${n} chips`, async () => {
    if ((await newestRunId(web)) <= before) return undefined;
    if (!(await web.locator(`#tokens .chip:is([data-index="${n - 1}"], [data-index="${n}"])`).count())) return undefined;
    return { alone: (await web.locator('#computing').count()) > 0 };
  }, ms, 20);
}

/** The frame (a webview's document) that holds `selector`: #training the training panel, #knobs the playground. */
export async function frameWith(page, selector, ms) {
  return waitUntil(page, `a webview with ${selector}`, async () => {
    for (const frame of page.frames()) {
      try {
        if (await frame.locator(selector).count()) return frame;
      } catch { /* a frame going away */ }
    }
    return undefined;
  }, ms, 200);
}

/**
 * Widens or narrows the browser window until a panel (`measure()`: its width now) is about `width`
 * px wide; its editor group shares the window with the others, so each step moves it by a part of
 * the change. Returns the width reached.
 */
export async function setPanelWidth(page, measure, width) {
  let now = await measure();
  for (let i = 0; i < 5 && Math.abs(now - width) > 8; i++) {
    const vp = page.viewportSize();
    await page.setViewportSize({ width: Math.max(480, Math.round(vp.width + 2.2 * (width - now))), height: vp.height });
    await page.waitForTimeout(600);
    now = await measure();
  }
  return now;
}

/**
 * Opens `file` of the workspace in the first editor group from the explorer, its cursor on the
 * first line; `command` runs a palette command (a suite's own, e.g. one that tries twice).
 */
export async function openFile(page, file, ms, command = (title) => runCommand(page, title, ms)) {
  await command('View: Focus First Editor Group');
  await page.locator('.explorer-folders-view .monaco-list-row', { hasText: file }).click();
  await page.locator('.tabs-container .tab.active', { hasText: file }).first().waitFor({ timeout: ms });
  await page.locator('.monaco-editor .view-line').first().click();
}

/**
 * A corpus of 62 words (w00 … w61) in `dir`: the word tokenizer's vocabulary is then 64 with
 * <|endoftext|> and <|unk|>, the book-layout fixtures' (test/fixtures/gpt/book-small).
 */
export function wordCorpus64(dir) {
  const file = path.join(dir, 'words-64.txt');
  fs.writeFileSync(file, Array.from({ length: 62 }, (_, i) => `w${String(i).padStart(2, '0')}`).join(' '));
  return file;
}

/** Selects editor line n (0-based) of the active editor, as a person would: click, Home, Shift+End. */
export async function selectLine(page, n) {
  const line = page.locator('.monaco-editor .view-line').nth(n);
  await line.click();
  await page.keyboard.press('Home');
  await page.keyboard.press('Shift+End');
}
