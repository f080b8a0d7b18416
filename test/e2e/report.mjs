#!/usr/bin/env node
// The standalone report: `llm101 analyze --html` writes one file that must work offline in a
// plain browser (no VS Code, no server). Opens it from file:// in Chromium with the network cut.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchBrowser } from '../../scripts/vscode-headless.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const RESULTS = path.join(ROOT, 'test-results');
fs.mkdirSync(RESULTS, { recursive: true });
const out = path.join(RESULTS, 'report.html');
let passed = 0;
let failed = 0;
const check = async (name, fn) => {
  try {
    await fn();
    passed++;
    console.log(`ok   ${name}`);
  } catch (err) {
    failed++;
    console.log(`FAIL ${name}: ${String(err?.message ?? err).split('\n')[0]}`);
  }
};

const text = 'Every token remembers the tokens before it.';
execFileSync(process.execPath, [path.join(ROOT, 'dist', 'cli.js'), 'analyze', '--text', text, '--heads', '4', '--html', out]);
const browser = await launchBrowser();
try {
  for (const scheme of ['dark', 'light']) {
    const context = await browser.newContext({ viewport: { width: 1200, height: 900 }, colorScheme: scheme, offline: true });
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    await page.goto(`file://${out}`);
    await check(`${scheme}: the report renders every section offline`, async () => {
      await page.locator('#app[data-state="ready"]').waitFor({ timeout: 15_000 });
      const ids = await page.locator('main > section').evaluateAll((els) => els.map((e) => e.id));
      if (ids.length !== 7) throw new Error(`sections: ${ids.join(', ')}`);
    });
    await check(`${scheme}: maps have one row per token and 4 heads`, async () => {
      const chips = await page.locator('#tokens .chip').count();
      const rows = await page.locator('canvas[data-name="causal.weights"]').getAttribute('data-rows');
      if (chips !== 8 || rows !== '8') throw new Error(`${chips} chips, ${rows} rows`);
      const heads = await page.locator('#head-grid canvas').count();
      if (heads !== 4) throw new Error(`${heads} heads`);
    });
    await check(`${scheme}: the scores/weights toggle swaps the self-attention map`, async () => {
      await page.locator('#attention-self .toggle button[data-value="scores"]').click();
      await page.locator('#attention-self canvas[data-name="selfAttention.scores"]').waitFor({ timeout: 5000 });
      await page.locator('#attention-self .toggle button[data-value="weights"]').click();
      await page.locator('#attention-self canvas[data-name="selfAttention.weights"]').waitFor({ timeout: 5000 });
    });
    await check(`${scheme}: no errors in the page`, async () => {
      if (errors.length) throw new Error(errors.join(' | '));
    });
    await page.screenshot({ path: path.join(RESULTS, `report-${scheme}.png`), fullPage: false });
    await context.close();
  }
} finally {
  await browser.close();
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
