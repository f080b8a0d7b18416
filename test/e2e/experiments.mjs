#!/usr/bin/env node
// The experiments in the real VS Code workbench, as a learner uses them on the bundled poems
// model: the logit lens (hover a cell for the top 5, pick a position for the line chart), head
// roles and "Find induction heads", knocking heads out by click and by keyboard (the bars before
// and after), a typo and a head that does not exist said next to the field, the attribution that
// sums to the logit, patching with a corrupted text of another length and then the same length,
// and a scan of every head cancelled part way on a bigger seeded model. Screenshots of the
// sections in dark, light and high contrast at 360, 600 and 1,000 px go to test-results/.
import fs from 'node:fs';
import path from 'node:path';
import { checks, inWorkbench, runCommand as palette, sampleWorkspace } from './harness.mjs';
import { panelTools } from './panel.mjs';

const EXT_ID = 'llm101.llm101-playground';
const STEP_MS = 30_000;
// the sections, and the ablation's bars and the scan's map inside the blocks section
const SHOTS = ['blocks', 'ablation', 'scan', 'logit-lens', 'attribution', 'patching'];

const { workspace, poemFile, writeSettings } = sampleWorkspace('experiments-ws');
writeSettings({ 'llm101.weightsPath': 'poems' });
const suite = checks();
const { check } = suite;
const cleanup = () => fs.rmSync(workspace, { recursive: true, force: true });
await inWorkbench({ suite, workspace, shots: 'FAIL-experiments', cleanup }, async ({ page }) => {
  const outer = `iframe.webview[src*="extensionId=${EXT_ID}"]`;
  const web = page.frameLocator(outer).frameLocator('#active-frame');
  const { waitFor, hoverCell, waitForPanel, shootWidths, nextTokenBars } = panelTools({ page, web, outer, STEP_MS });
  const runCommand = (title) => palette(page, title, STEP_MS);
  const scrollTo = (id) => web.locator(`#${id}`).evaluate((el) => el.scrollIntoView({ block: 'start' }));
  const bars = async (id) => (await web.locator(`#${id}`).getAttribute('data-probabilities')).split(',').map(Number);
  /** Fills a vscode-textfield (its inner input) or a textarea with `text` and commits it, as a change does. */
  const typeInto = async (selector, text) => {
    const isArea = await web.locator(selector).evaluate((el) => el.tagName === 'TEXTAREA');
    await web.locator(isArea ? selector : `${selector} input`).fill(text);
    await web.locator(selector).evaluate((el) => el.dispatchEvent(new Event('change', { bubbles: true })));
  };
  let T = 0;

  await check('the bundled poems model analyzes two lines of the sonnet', async () => {
    await page.locator('.explorer-folders-view .monaco-list-row', { hasText: poemFile }).click({ timeout: 90_000 });
    await page.locator('.monaco-editor .view-line').nth(3).waitFor({ timeout: STEP_MS });
    await page.locator('.monaco-editor .view-line').nth(2).click();
    await page.keyboard.press('Home');
    await page.keyboard.press('Shift+ArrowDown');
    await page.keyboard.press('Shift+End');
    await runCommand('LLM 101: Analyze Selection');
    await waitForPanel();
    await web.locator('#feed-forward .weights-note', { hasText: 'poems' }).waitFor({ timeout: STEP_MS });
    T = await web.locator('#tokens .chip').count();
    const ids = await web.locator('main > section').evaluateAll((els) => els.map((e) => e.id));
    if (ids.slice(-3).join() !== 'logit-lens,attribution,patching') throw new Error(`sections ${ids.join(', ')}`);
  });

  if (!T) throw new Error('no panel to experiment in');

  await check('the logit lens: layers × positions with named axes; its bottom row is the next-token section\'s top token; hover gives the top 5', async () => {
    await scrollTo('next-token');
    await web.locator('#next-token-bars[data-bars]').waitFor({ timeout: STEP_MS });
    const top = (await nextTokenBars()).probabilities[0];
    await scrollTo('logit-lens');
    const lens = web.locator('canvas[data-name="experiments.lens"]');
    await lens.waitFor({ timeout: STEP_MS });
    const [rows, cols, rowAxis, colAxis] = await lens.evaluate((c) => [Number(c.dataset.rows), Number(c.dataset.cols), c.dataset.rowAxis, c.dataset.colAxis]);
    if (rows !== 3 || cols !== T || !/layer/.test(rowAxis) || !/position/.test(colAxis)) throw new Error(`lens ${rows}×${cols} (${rowAxis} × ${colAxis})`);
    // the words need room: the map scrolls sideways in a narrow panel; its last column into view
    await web.locator('#logit-lens .map-scroll').evaluate((el) => { el.scrollLeft = el.scrollWidth; });
    await hoverCell('experiments.lens', rows - 1, cols - 1);
    const tip = await web.locator('#tooltip').filter({ hasText: '5 likeliest' }).innerText({ timeout: 5000 });
    const lines = tip.split('\n').filter((l) => /^\d\. /.test(l));
    const p = Number(/p = (\d\.\d{4})/.exec(lines[0] ?? '')?.[1]);
    if (lines.length !== 5 || !(Math.abs(p - top) < 1e-4)) throw new Error(`tooltip ${tip} vs next-token top p ${top}`);
    await page.mouse.move(5, 5);
  });

  await check('picking a position draws the probability of its final prediction at each layer', async () => {
    await web.locator('#lens-line[data-series]').waitFor({ timeout: STEP_MS });
    const last = (await web.locator('#lens-line').getAttribute('data-series')).split(',').map(Number);
    await web.locator('#lens-position').selectOption(String(1));
    await web.locator('#lens-chart figcaption', { hasText: 'after position 1 ' }).waitFor({ timeout: STEP_MS });
    const first = (await web.locator('#lens-line').getAttribute('data-series')).split(',').map(Number);
    if (first.length !== 3 || last.length !== 3 || first.join() === last.join()) throw new Error(`series ${first} vs ${last}`);
    if (!first.every((x) => x >= 0 && x <= 1)) throw new Error(`probabilities ${first}`);
  });

  await check('head roles badge every thumbnail, with a legend; "Find induction heads" says what it found and on what probe', async () => {
    await scrollTo('blocks');
    await web.locator('#block-grid').waitFor({ timeout: STEP_MS });
    await web.locator('button.thumb .role-badge').first().waitFor({ timeout: STEP_MS });
    const badges = await web.locator('button.thumb .role-badge').count();
    if (badges !== 8) throw new Error(`${badges} badges for 2 × 4 heads`);
    const legend = await web.locator('.role-legend li').allInnerTexts();
    if (legend.length !== 4 || !/A\[t\]\[t−1\]/.test(legend[0] ?? '')) throw new Error(`legend ${legend.join(' | ')}`);
    await web.locator('#find-induction').click();
    const said = await web.locator('#induction-found').innerText({ timeout: STEP_MS });
    if (!/probe of 20 random token ids \(seed \d+\)/.test(said) || !/layer \d, head \d/.test(said)) throw new Error(said);
    const outlined = await web.locator('button.thumb.induction-found').count();
    const listed = /^Induction heads/.test(said) ? (said.match(/layer \d, head \d \(/g) ?? []).length : 0;
    if (outlined !== listed) throw new Error(`${outlined} heads outlined, ${listed} listed: ${said}`);
    console.log(`     ${said}`);
  });

  await check('knocking heads out by click and by keyboard: the bars before and after differ, with KL and loss said', async () => {
    await web.locator('#head-tools .toggle button[data-value="knock it out"]').click();
    await web.locator('button.thumb[data-layer="0"][data-head="0"]').click();
    await web.locator('#ablation-after-bars[data-bars]').waitFor({ timeout: STEP_MS });
    const before = await bars('ablation-before-bars');
    const after = await bars('ablation-after-bars');
    if (before.length !== 10 || before.join() === after.join()) throw new Error(`bars ${before} / ${after}`);
    if ((await web.locator('button.thumb.ablated').count()) !== 1) throw new Error('the knocked-out head is not marked');
    const kl = await web.locator('#ablation-kl').innerText();
    const loss = await web.locator('#ablation-loss').innerText();
    if (!/KL\(before ‖ after\) = \d+\.\d{4} nats: how far/.test(kl) || !/mean next-token cross-entropy .* goes from \d+\.\d{4} to \d+\.\d{4}/.test(loss)) throw new Error(`${kl} | ${loss}`);
    // the keyboard: the next head, focused and pressed with Space
    const second = web.locator('button.thumb[data-layer="1"][data-head="2"]');
    await second.focus();
    await page.keyboard.press('Space');
    await web.locator('#ablation-after', { hasText: 'without 1.1, 2.3 (zero)' }).waitFor({ timeout: STEP_MS });
    if ((await second.getAttribute('aria-pressed')) !== 'true') throw new Error('the pressed head is not marked pressed');
    await web.locator('#ablation .toggle button[data-value="mean"]').click();
    await web.locator('#ablation-after', { hasText: '(mean)' }).waitFor({ timeout: STEP_MS });
  });

  await check('Scan all heads: a layers × heads map of the loss increase, with named axes', async () => {
    await web.locator('#scan-button').click();
    const map = web.locator('canvas[data-name="experiments.scan"]');
    await map.waitFor({ timeout: STEP_MS });
    const [rows, cols, rowAxis, colAxis] = await map.evaluate((c) => [Number(c.dataset.rows), Number(c.dataset.cols), c.dataset.rowAxis, c.dataset.colAxis]);
    if (rows !== 2 || cols !== 4 || rowAxis !== 'layers' || colAxis !== 'heads') throw new Error(`scan ${rows}×${cols} (${rowAxis} × ${colAxis})`);
    await hoverCell('experiments.scan', 1, 2);
    await web.locator('#tooltip').filter({ hasText: /layer 2, head 3 knocked out alone[\s\S]*loss [+−]\d\.\d{4} nats/ }).waitFor({ timeout: 5000 });
    await page.mouse.move(5, 5);
  });

  await check('a typo and a head that does not exist are said next to the field; the panel keeps working', async () => {
    await typeInto('#ablation-heads', '1,2');
    await web.locator('#ablation-heads-message', { hasText: '“1” is not a head: write layer.head' }).waitFor({ timeout: STEP_MS });
    await typeInto('#ablation-heads', '1.9');
    await web.locator('#ablate-status', { hasText: 'head 9 does not exist: each layer has heads 1 to 4' }).waitFor({ timeout: STEP_MS });
    await typeInto('#ablation-heads', '2.1');
    await web.locator('#ablation-after', { hasText: 'without 2.1' }).waitFor({ timeout: STEP_MS });
    if (await web.locator('#ablate-status').count()) throw new Error('the message stayed after a good answer');
  });

  await check('the attribution: a layers × (heads + MLP) map with named axes, and the parts summing to the logit', async () => {
    await scrollTo('attribution');
    const map = web.locator('canvas[data-name="experiments.attribution"]');
    await map.waitFor({ timeout: STEP_MS });
    const [rows, cols, rowAxis, colAxis] = await map.evaluate((c) => [Number(c.dataset.rows), Number(c.dataset.cols), c.dataset.rowAxis, c.dataset.colAxis]);
    if (rows !== 2 || cols !== 5 || rowAxis !== 'layers' || !/MLP/.test(colAxis)) throw new Error(`attribution ${rows}×${cols} (${rowAxis} × ${colAxis})`);
    const cells = await web.locator('#attribution-sum tr.total td:nth-child(2)').allInnerTexts();
    if (cells.length !== 2 || Math.abs(Number(cells[0]) - Number(cells[1])) > 1e-3) throw new Error(`sum and logit ${cells}`);
    await typeInto('#attribution-token', 'iron stair');
    await web.locator('#attribute-status', { hasText: 'is 2 tokens' }).waitFor({ timeout: STEP_MS });
    await typeInto('#attribution-token', 'sea');
    await web.locator('#attribution figcaption', { hasText: '“sea”' }).waitFor({ timeout: STEP_MS });
  });

  await check('patching: a corrupted text of another length says both counts; the same length gives a layers × positions map', async () => {
    await scrollTo('patching');
    await typeInto('#patching-corrupt', 'Each night the sailor climbs');
    await typeInto('#patching-wrong', 'violin');
    await web.locator('#patching-run').click();
    await web.locator('#patch-status', { hasText: `the clean text has ${T} tokens and the corrupted one 5` }).waitFor({ timeout: STEP_MS });
    const text = fs.readFileSync(path.join(workspace, poemFile), 'utf8').split('\n').slice(2, 4).join('\n');
    await typeInto('#patching-corrupt', text.replace('keeper', 'sailor'));
    await web.locator('#patching-run').click();
    const map = web.locator('canvas[data-name="experiments.patching"]');
    await map.waitFor({ timeout: STEP_MS });
    const [rows, cols, rowAxis, colAxis] = await map.evaluate((c) => [Number(c.dataset.rows), Number(c.dataset.cols), c.dataset.rowAxis, c.dataset.colAxis]);
    if (rows !== 2 || cols !== T || !/block/.test(rowAxis) || !/position/.test(colAxis)) throw new Error(`patching ${rows}×${cols} (${rowAxis} × ${colAxis})`);
    await web.locator('#patching-note', { hasText: 'm_clean' }).waitFor({ timeout: STEP_MS });
  });

  // light and high contrast first, dark last: each write changes the theme (the workspace starts with
  // Dark Modern, which a fresh browser may not have painted yet: writing it again changes nothing)
  for (const [theme, label, selector] of [['light', 'Default Light Modern', '.monaco-workbench.vs:not(.vs-dark)'], ['hc', 'Default High Contrast', '.monaco-workbench.hc-black'], ['dark', 'Default Dark Modern', '.monaco-workbench.vs-dark']]) {
    await check(`${theme}: the experiment sections at 360, 600 and 1,000 px`, async () => {
      writeSettings({ 'workbench.colorTheme': label });
      await page.locator(selector).waitFor({ timeout: STEP_MS });
      await page.waitForTimeout(800);
      await shootWidths(theme, SHOTS);
    });
  }

  await check('Scan all heads on an 8 × 8 model: progress, then Cancel stops it part way; the panel keeps working', async () => {
    writeSettings({ 'llm101.weightsPath': 'seeded', 'llm101.layers': 8, 'llm101.heads': 8, 'llm101.dim': 256 });
    await web.locator('#feed-forward .weights-note', { hasText: 'seeded' }).waitFor({ timeout: 90_000 });
    // the whole sonnet (over 100 tokens): 64 runs that take long enough to cancel part way
    const runId = await web.locator('#app').getAttribute('data-run-id');
    await page.locator('.monaco-editor .view-line').nth(2).click();
    await page.keyboard.press('Control+A');
    await runCommand('LLM 101: Analyze Selection');
    await web.locator(`#app[data-state="ready"]:not([data-run-id="${runId}"])`).waitFor({ timeout: 90_000 });
    const n = await web.locator('#tokens .chip').count();
    if (n < 100) throw new Error(`${n} tokens`);
    await scrollTo('blocks');
    await web.locator('#scan-button').click();
    await web.locator('#scan-status progress').waitFor({ timeout: STEP_MS });
    const progress = await web.locator('#scan-status span').innerText();
    await web.locator('#scan-cancel').click();
    await web.locator('#scan-status[data-state="cancelled"]').waitFor({ timeout: STEP_MS });
    const done = Number(/(\d+) of 64/.exec(progress)?.[1]);
    if (!(done < 64)) throw new Error(`progress ${progress}`);
    if (await web.locator('canvas[data-name="experiments.scan"]').count()) throw new Error('a cancelled scan drew a map');
    await web.locator('#head-tools .toggle button[data-value="knock it out"]').click();
    await web.locator('button.thumb[data-layer="7"][data-head="7"]').click();
    await web.locator('#ablation-after-bars[data-bars]').waitFor({ timeout: STEP_MS });
    console.log(`     cancelled at “${progress}”`);
  });
});
