// What the end-to-end suites share: the repository's paths, a throwaway copy of samples/ with its
// workspace settings, named checks that count passes and failures (a failure leaves a
// screenshot), the command palette, and the console errors our code logs.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

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
  page.on('pageerror', (e) => errors.push(e.message));
  return errors;
}
