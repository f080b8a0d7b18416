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
// Over LAZY_ABOVE (256) tokens: the T×T stages and heads come from the page's stand-in host.
const longOut = path.join(RESULTS, 'report-long.html');
const longTokens = 40 * 8;
// With the seeded GPT (2 layers): the model's three sections after the seven stages.
const modelOut = path.join(RESULTS, 'report-model.html');
execFileSync(process.execPath, [path.join(ROOT, 'dist', 'cli.js'), 'analyze', '--text', text, '--heads', '4', '--layers', '2', '--html', modelOut]);
execFileSync(process.execPath, [path.join(ROOT, 'dist', 'cli.js'), 'analyze', '--text', Array(40).fill(text).join(' '), '--html', longOut]);

/** Opaque pixels and distinct colours of a map's canvas: a drawn map has many of both. */
const paint = (page, name) => page.locator(`canvas[data-name="${name}"]`).evaluate((canvas) => {
  const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
  const colours = new Set();
  let opaque = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (data[i + 3] !== 255) continue;
    opaque++;
    colours.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
  }
  return { opaque, colours: colours.size, area: canvas.width * canvas.height };
});
const assertPainted = async (page, name) => {
  const { opaque, colours, area } = await paint(page, name);
  // A causal map fills a triangle: well over a fifth of its canvas, in many colours.
  if (opaque < area / 5 || colours < 16) throw new Error(`${name}: ${opaque} of ${area} pixels painted, ${colours} colours`);
};
/** Hovers a cell of a map (fractions of its box) and returns the tooltip once it holds no pending line. */
const hoverTooltip = async (page, name, fx, fy) => {
  const box = await page.locator(`canvas[data-name="${name}"]`).boundingBox();
  await page.mouse.move(box.x + box.width * fx, box.y + box.height * fy);
  await page.waitForFunction(() => {
    const tip = document.getElementById('tooltip');
    return tip && !tip.hidden && tip.textContent.length > 0 && !tip.textContent.includes('asking');
  }, null, { timeout: 15_000 });
  return page.locator('#tooltip').innerText();
};

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
      if (ids.length !== 7) throw new Error(`sections: ${ids.join(', ')}`); // no --layers: no model
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
    await check(`${scheme}: a short text's tooltip shows exact values, unmarked`, async () => {
      await page.locator('#attention-causal').scrollIntoViewIfNeeded();
      const tip = await hoverTooltip(page, 'causal.weights', 0.5, 0.9);
      if (!/^weight \d\.\d{4}$/m.test(tip) || tip.includes('≈')) throw new Error(`tooltip: ${tip}`);
      await page.mouse.move(0, 0);
    });
    await check(`${scheme}: no errors in the page`, async () => {
      if (errors.length) throw new Error(errors.join(' | '));
    });
    await page.screenshot({ path: path.join(RESULTS, `report-${scheme}.png`), fullPage: false });
    await context.close();
  }
  await check(`a long report (${(fs.statSync(longOut).size / 2 ** 20).toFixed(1)} MiB) paints its T×T sections and shows approximate values`, async () => {
    const context = await browser.newContext({ viewport: { width: 1200, height: 900 }, colorScheme: 'dark', offline: true });
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    try {
      await page.goto(`file://${longOut}`);
      await page.locator('#app[data-state="ready"]').waitFor({ timeout: 30_000 });
      const chips = await page.locator('#tokens .chip').count();
      if (chips !== longTokens) throw new Error(`${chips} chips, not ${longTokens}`);
      // Each section is asked for as it scrolls into view, as in the extension.
      for (const [section, names] of [
        ['attention-simple', ['simple.weights']],
        ['attention-self', ['selfAttention.weights']],
        ['attention-causal', ['causal.weights', 'causal.droppedWeights']],
      ]) {
        await page.locator(`#${section}`).scrollIntoViewIfNeeded();
        for (const name of names) {
          await page.locator(`canvas[data-name="${name}"]`).waitFor({ timeout: 15_000 });
          await assertPainted(page, name);
        }
      }
      const tip = await hoverTooltip(page, 'causal.droppedWeights', 0.3, 0.8);
      if (!/^raw score ≈ -?\d+\.\d{4}$/m.test(tip) || !/^weight [≈<] \d\.\d{4}$/m.test(tip) || !tip.includes('colour scale')) {
        throw new Error(`causal tooltip: ${tip}`);
      }
      await page.mouse.move(0, 0);
      await page.locator('#attention-heads').scrollIntoViewIfNeeded();
      await page.locator('#head-grid canvas').nth(6).waitFor({ timeout: 15_000 });
      const pending = await page.locator('#head-grid figure.pending').count();
      if (pending) throw new Error(`${pending} heads still pending`);
      for (let h = 0; h < 7; h++) await assertPainted(page, `multiHead.heads.${h}.droppedWeights`);
      const headTip = await hoverTooltip(page, 'multiHead.heads.6.droppedWeights', 0.3, 0.8);
      if (!/^raw score ≈ /m.test(headTip) || !/^weight [≈<] /m.test(headTip)) throw new Error(`head tooltip: ${headTip}`);
      await page.screenshot({ path: path.join(RESULTS, 'report-long.png') });
      if (errors.length) throw new Error(errors.join(' | '));
    } finally {
      await context.close();
    }
  });
  for (const scheme of ['dark', 'light']) {
    await check(`${scheme}: a report with the model shows its sections: 2 × 4 thumbnails, 10 bars, knobs limited and said so`, async () => {
      const context = await browser.newContext({ viewport: { width: 600, height: 900 }, colorScheme: scheme, offline: true });
      const page = await context.newPage();
      const errors = [];
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
      try {
        await page.goto(`file://${modelOut}`);
        await page.locator('#app[data-state="ready"]').waitFor({ timeout: 15_000 });
        const ids = await page.locator('main > section').evaluateAll((els) => els.map((e) => e.id));
        if (ids.slice(7).join() !== 'feed-forward,blocks,next-token') throw new Error(`sections: ${ids.join(', ')}`);
        await page.locator('#blocks').evaluate((el) => el.scrollIntoView({ block: 'start' }));
        await page.locator('#block-grid').waitFor({ timeout: 15_000 });
        const thumbs = await page.locator('#block-grid button.thumb').count();
        if (thumbs !== 8) throw new Error(`${thumbs} thumbnails`);
        await page.screenshot({ path: path.join(RESULTS, `report-model-blocks-${scheme}.png`) });
        await page.locator('button.thumb[data-layer="1"][data-head="2"]').click();
        await page.locator('canvas[data-name="blocks.1.heads.2"]').waitFor({ timeout: 15_000 });
        const tip = await hoverTooltip(page, 'blocks.1.heads.2', 0.5, 0.9);
        if (!/query 7/.test(tip) || !/weight \d\.\d{4}/.test(tip)) throw new Error(`opened map tooltip: ${tip}`);
        await page.mouse.move(0, 0);
        const bars = page.locator('#next-token-bars');
        await page.locator('#next-token').evaluate((el) => el.scrollIntoView({ block: 'start' }));
        await page.locator('#next-token-bars[data-bars="10"]').waitFor({ timeout: 15_000 });
        const sum = (await bars.getAttribute('data-probabilities')).split(',').map(Number).reduce((a, b) => a + b, 0);
        if (!(sum <= 1 + 1e-6)) throw new Error(`bars sum to ${sum}`);
        if (!(await page.locator('#next-token-temperature').evaluate((f) => f.hasAttribute('disabled')))) throw new Error('the temperature can be changed in a report');
        if (await page.locator('#generate-button').count()) throw new Error('a report offers Generate');
        await page.locator('#next-token .report-limits', { hasText: 'temperature 1 only' }).waitFor({ timeout: 5000 });
        // top-k 3 from the kept tokens: 3 bars renormalised to sum to 1; hovering a chip picks a position.
        const topK = page.locator('#next-token-topk input');
        await topK.fill('3');
        await topK.press('Enter');
        await page.locator('#next-token-bars[data-bars="3"]').waitFor({ timeout: 5000 });
        const cut = (await bars.getAttribute('data-probabilities')).split(',').map(Number).reduce((a, b) => a + b, 0);
        if (Math.abs(cut - 1) > 1e-5) throw new Error(`top-3 sums to ${cut}`);
        await page.locator('#tokens .chip').nth(2).hover();
        await page.locator('#next-token-bars[data-position="2"]').waitFor({ timeout: 5000 });
        await page.locator('#next-token').evaluate((el) => el.scrollIntoView({ block: 'start' }));
        await page.screenshot({ path: path.join(RESULTS, `report-model-next-token-${scheme}.png`) });
        await page.locator('#feed-forward').evaluate((el) => el.scrollIntoView({ block: 'start' }));
        await page.waitForTimeout(300);
        await page.screenshot({ path: path.join(RESULTS, `report-model-feed-forward-${scheme}.png`) });
        if (errors.length) throw new Error(errors.join(' | '));
      } finally {
        await context.close();
      }
    });
  }
  await check('a trace whose model could not run shows the message in each model section and keeps the stages', async () => {
    const context = await browser.newContext({ viewport: { width: 600, height: 900 }, offline: true });
    const page = await context.newPage();
    try {
      await page.goto(`file://${modelOut}`);
      await page.locator('#app[data-state="ready"]').waitFor({ timeout: 15_000 });
      // The page's trace message again, its model replaced by the engine's message (as the
      // extension sends it when the model cannot run on the text).
      await page.evaluate(() => {
        const revive = (v) => {
          if (Array.isArray(v)) return v.map(revive);
          if (!v || typeof v !== 'object') return v;
          if (typeof v.$f32 === 'string' || typeof v.$u8 === 'string') {
            const bin = atob(v.$f32 ?? v.$u8);
            const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
            return v.$f32 !== undefined ? new Float32Array(bytes.buffer) : bytes;
          }
          return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, revive(x)]));
        };
        const message = revive(JSON.parse(document.getElementById('llm101-trace').textContent));
        delete message.trace.model;
        message.trace.modelError = 'heads (5) must divide dim (28)';
        message.runId = 2;
        window.postMessage(message, '*');
      });
      await page.locator('#next-token .model-error').waitFor({ timeout: 5000 });
      const messages = await page.locator('.model-error').allInnerTexts();
      if (messages.length !== 3 || !messages.every((m) => m.includes('heads (5) must divide dim (28)'))) throw new Error(messages.join(' | '));
      if ((await page.locator('canvas[data-name="causal.weights"]').count()) !== 1) throw new Error('the stages are gone');
      await page.locator('#blocks').evaluate((el) => el.scrollIntoView({ block: 'start' }));
      await page.screenshot({ path: path.join(RESULTS, 'report-model-error.png') });
    } finally {
      await context.close();
    }
  });
} finally {
  await browser.close();
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
