#!/usr/bin/env node
// End-to-end tests in the real VS Code workbench (code-server 4.100 in Debian's Chromium, driven
// by playwright-core), as a person would use the extension: open a poem, select a line, run the
// command from the palette and from the context menu, look inside the panel, change settings,
// switch theme, reload the window. Screenshots go to test-results/. Ends with "N passed, N failed".
import fs from 'node:fs';
import path from 'node:path';
import {
  RESULTS, ROOT, checks, inWorkbench, newestRunId, openFile, runCommand as palette, sampleWorkspace, selectLine as selectTheLine, tokensPainted, wordCorpus64,
} from './harness.mjs';
import { panelTools } from './panel.mjs';

const EXT_ID = 'llm101.llm101-playground';
const STEP_MS = 30_000;

const { workspace, poemFile, settingsFile, writeSettings } = sampleWorkspace('poems-ws');
// these checks choose the model's sizes through the settings: seeded weights, not the default bundled model
writeSettings({ 'llm101.weightsPath': 'seeded' });
// Long texts of exactly N word tokens, for the timing of selection-to-painted-panel.
const SIZES = [128, 512, 2048];
const WORDS = ['sea', 'light', 'page', 'tide', 'window', 'kitchen', 'word', 'night', 'the', 'a'];
for (const n of SIZES) {
  const text = Array.from({ length: n }, (_, i) => WORDS[(i * 7 + (i >> 3)) % WORDS.length]).join(' ');
  fs.writeFileSync(path.join(workspace, `zz-tokens-${n}.txt`), `${text}\n`);
}

// A checkpoint loaded through llm101.weightsPath: the book's GPTModel layout, vocabulary 64,
// context 16, dim 32, 4 heads, 2 layers. The word tokenizer reaches its vocabulary of 64 with a
// corpus of 62 words (plus <|endoftext|> and <|unk|>).
const CHECKPOINT = path.join(ROOT, 'test', 'fixtures', 'gpt', 'book-small', 'weights.safetensors');
const corpusDir = fs.mkdtempSync('/tmp/llm101-words-');
const wordCorpus = wordCorpus64(corpusDir);
const checkpointText = 'w43 w13 w40 w59 w43 w45 w23 w35 w17 w57';
fs.writeFileSync(path.join(workspace, 'zz-checkpoint.txt'), `${checkpointText}\n`);

const suite = checks();
const { check } = suite;
await inWorkbench({
  suite, workspace, shots: 'FAIL',
  cleanup: () => [workspace, corpusDir].forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })),
}, async ({ page }) => {
  const outer = `iframe.webview[src*="extensionId=${EXT_ID}"]`;
  const web = page.frameLocator(outer).frameLocator('#active-frame');
  const runCommand = (title) => palette(page, title, STEP_MS);
  const selectLine = (n) => selectTheLine(page, n);
  const { tokenCount, stages, modelSections, sections, shootSections, nextTokenBars, waitFor, lineText, checkModelSections, decorations, hoverCell, waitForPanel, shootWidths } =
    panelTools({ page, web, outer, STEP_MS });

  await check('workbench opens the sample poems', async () => {
    await page.locator('.explorer-folders-view .monaco-list-row', { hasText: poemFile }).waitFor({ timeout: 90_000 });
  });

  await check(`${poemFile} opens in an editor`, async () => {
    await page.locator('.explorer-folders-view .monaco-list-row', { hasText: poemFile }).click();
    await page.locator('.tabs-container .tab', { hasText: poemFile }).waitFor({ timeout: STEP_MS });
    await page.locator('.monaco-editor .view-line').nth(2).waitFor({ timeout: STEP_MS });
  });

  await check('the status bar counts the selected tokens, and Show Token Boundaries marks them', async () => {
    await selectLine(2);
    const item = page.locator('.statusbar-item', { hasText: /\d+ tokens · word/ });
    await item.waitFor({ timeout: STEP_MS });
    const words = (fs.readFileSync(path.join(workspace, poemFile), 'utf8').split('\n')[2] ?? '').trim().split(/\s+/).length;
    await page.locator('.statusbar-item', { hasText: `${words} tokens · word` }).waitFor({ timeout: STEP_MS });
    await runCommand('LLM 101: Show Token Boundaries');
    const marked = await waitFor(`${words} decorated ranges`, async () => {
      const n = await decorations();
      return n >= words && n;
    }).catch(async (err) => { throw new Error(`${await decorations()} decorated ranges for ${words} tokens (${err.message})`); });
    console.log(`     ${marked} token ranges marked`);
    await page.screenshot({ path: path.join(RESULTS, 'editor-token-boundaries.png') });
    await runCommand('LLM 101: Show Token Boundaries'); // off again
  });

  await check('"LLM 101: Analyze Selection" from the command palette opens the panel', async () => {
    await selectLine(2);
    await runCommand('LLM 101: Analyze Selection');
    await waitForPanel();
  });

  await check('the panel shows the seven stages, then the model\'s three sections, in order, and no loading placeholder', async () => {
    const ids = await web.locator('main > section').evaluateAll((els) => els.map((e) => e.id));
    if (JSON.stringify(ids) !== JSON.stringify(sections)) throw new Error(`sections ${ids.join(', ')}`);
    const loading = await web.locator('.placeholder').allInnerTexts();
    if (loading.length) throw new Error(`still shown above the sections: ${loading.join(' | ')}`);
  });

  await check('the model sections render for the default seeded model (2 layers × 7 heads, dim 28)', async () => {
    await checkModelSections({ layers: 2, heads: 7, dim: 28, source: /Seeded 123, untrained: random: the shapes are real, the numbers mean nothing yet/ });
  });

  await check('top-k and temperature in the next-token section: k bars, summing to at most 1', async () => {
    const topK = web.locator('#next-token-topk input');
    await topK.fill('3');
    await topK.press('Enter');
    const cut = await waitFor('3 bars', async () => { const b = await nextTokenBars(); return b.count === 3 && b; });
    const sum = cut.probabilities.reduce((a, b) => a + b, 0);
    if (!(sum <= 1 + 1e-6) || sum < 0.999) throw new Error(`top-3 probabilities ${cut.probabilities} sum to ${sum} (renormalised: 1)`);
    const temperature = web.locator('#next-token-temperature input');
    await temperature.fill('0');
    await temperature.press('Enter');
    await waitFor('a greedy distribution', async () => (await nextTokenBars()).probabilities[0] === 1);
    await web.locator('#next-token-sum', { hasText: 'greedy' }).waitFor({ timeout: STEP_MS });
    await temperature.fill('-1');
    await temperature.press('Enter');
    await web.locator('#sampling-message', { hasText: 'from 0 to 10' }).waitFor({ timeout: STEP_MS });
    await temperature.fill('1');
    await temperature.press('Enter');
    await topK.fill('');
    await topK.press('Enter');
    await waitFor('10 bars again', async () => (await nextTokenBars()).count === 10);
  });

  await check('hovering a token chip selects the position whose next token is shown', async () => {
    await web.locator('#tokens .chip').nth(1).hover();
    await waitFor('the bars after token 1', async () => (await nextTokenBars()).position === 1);
    const label = await web.locator('#next-token-position').innerText();
    if (!label.startsWith('1 ')) throw new Error(`position label ${label}`);
    await page.mouse.move(5, 5);
  });

  await check('every token-by-token heatmap has one row and one column per token', async () => {
    const n = await tokenCount();
    if (n < 3) throw new Error(`only ${n} tokens`);
    const shapes = await web.locator('canvas[data-rows]').evaluateAll((els) => els.map((e) => [e.dataset.name, Number(e.dataset.rows), Number(e.dataset.cols)]));
    if (shapes.length < 10) throw new Error(`only ${shapes.length} heatmaps`);
    // The book's example beside stage 3 has its own six tokens.
    // The book's example has its own six tokens; the residual-norm map's and the experiments' rows are layers.
    const ours = shapes.filter(([name]) => !name.startsWith('journey.') && !name.startsWith('experiments.') && name !== 'model.residualNorms');
    const wrongRows = ours.filter(([, rows]) => rows !== n);
    if (wrongRows.length) throw new Error(`rows ≠ ${n}: ${JSON.stringify(wrongRows)}`);
    const square = ours.filter(([name]) => /weights|scores|droppedWeights/.test(name));
    if (square.some(([, , cols]) => cols !== n)) throw new Error(`square maps not ${n}×${n}: ${JSON.stringify(square)}`);
  });

  await check('heatmaps are painted, not blank', async () => {
    const stats = await web.locator('canvas[data-name="causal.weights"]').evaluate((c) => {
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      const colours = new Set();
      for (let i = 0; i < d.length; i += 16) colours.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
      return { colours: colours.size, width: c.width, height: c.height };
    });
    if (stats.colours < 8 || stats.width < 100) throw new Error(JSON.stringify(stats));
  });

  await check('the head grid has llm101.heads (7) maps', async () => {
    const heads = await web.locator('#head-grid canvas').count();
    if (heads !== 7) throw new Error(`${heads} head maps`);
  });

  await check('every attention map names its rows queries and its columns keys', async () => {
    const axes = await web.locator('canvas[data-rows]').evaluateAll((els) => els.map((e) => [e.dataset.name, e.dataset.rowAxis, e.dataset.colAxis, e.getAttribute('aria-label')]));
    const attention = axes.filter(([name]) => /(weights|scores|droppedWeights)$/.test(name));
    if (attention.length < 10) throw new Error(`only ${attention.length} attention maps`);
    const wrong = attention.filter(([, rows, cols, label]) => rows !== 'queries' || cols !== 'keys' || !/queries.*keys/.test(label));
    if (wrong.length) throw new Error(`not queries × keys: ${JSON.stringify(wrong)}`);
    const unnamed = axes.filter(([, rows, cols]) => !rows || !cols);
    if (unnamed.length) throw new Error(`maps without axis names: ${JSON.stringify(unnamed)}`);
    // Embedding maps name their dimension axis.
    if (!axes.some(([name, , cols]) => name.startsWith('embeddings.') && /dimensions/.test(cols))) throw new Error('the embedding map does not name its dimensions');
  });

  await check("the panel says the seeded weights are untrained and the stages are the model's block 1, in every section that uses them", async () => {
    const notes = await web.locator(stages.map((id) => `#${id} .weights-note`).join(', ')).allInnerTexts();
    if (notes.length < 6) throw new Error(`${notes.length} weights notes`);
    if (!notes.every((t) => /Seeded, untrained \(seed 123\): the shapes are real, the values are not learned\. These stages are the model's block 1: section 9's layer 1/.test(t))) throw new Error(notes.join(' | '));
    const saturation = await web.locator('#simple-saturation').innerText();
    if (!/diagonal scores/.test(saturation)) throw new Error(`stage 3 note: ${saturation}`);
  });

  await check('a toggle re-renders only its own section', async () => {
    await web.locator('canvas[data-name="causal.weights"]').evaluate((c) => { c.dataset.keep = 'same node'; });
    await web.locator('#embeddings .toggle button[data-value="token"]').click();
    await web.locator('canvas[data-name="embeddings.token"]').waitFor({ timeout: STEP_MS });
    const kept = await web.locator('canvas[data-name="causal.weights"]').getAttribute('data-keep');
    if (kept !== 'same node') throw new Error('the causal section was rebuilt by the embeddings toggle');
    await web.locator('#embeddings .toggle button[data-value="position"]').click();
    const rows = await web.locator('canvas[data-name="embeddings.position"]').getAttribute('data-row-axis');
    if (rows !== 'positions') throw new Error(`position embedding rows are ${rows}`);
    await web.locator('#embeddings .toggle button[data-value="input"]').click();
  });

  await check('after the panel scrolls to a section, its heading is below the sticky bar', async () => {
    for (const id of sections) {
      const { heading, bar } = await web.locator(`#${id}`).evaluate((el) => {
        el.scrollIntoView({ block: 'start' }); // what a reveal (the walkthrough's "Show me") does
        return { heading: el.querySelector('h2').getBoundingClientRect().top, bar: document.getElementById('knobs').getBoundingClientRect().bottom };
      });
      if (heading < bar) throw new Error(`${id}: heading at ${heading.toFixed(0)} px, under the bar ending at ${bar.toFixed(0)} px`);
    }
  });

  await check('the knob bar is one row at the default panel width', async () => {
    const { width, rows } = await web.locator('#knobs').evaluate((bar) => ({
      width: bar.clientWidth,
      // Items are aligned at their bottoms (labels above fields), so one row is one bottom edge.
      rows: new Set([...bar.children].map((c) => Math.round(c.getBoundingClientRect().bottom))).size,
    }));
    if (rows !== 1) {
      const widths = await web.locator('#knobs > *').evaluateAll((els) => els.map((e) => `${e.id || e.className}:${Math.round(e.getBoundingClientRect().width)}`));
      throw new Error(`${rows} rows at ${width} px: ${widths.join(' ')}`);
    }
    console.log(`     knob bar: one row at ${width} px`);
  });

  await page.screenshot({ path: path.join(RESULTS, 'panel-dark.png') });
  await shootSections('dark');
  await check('dark: at 360, 600 and 1,000 px the knobs and the grid\'s labels fit and the maps keep their contrast', () => shootWidths('dark'));

  await check('the tooltip covers neither the hovered cell nor the map beside it', async () => {
    await hoverCell('causal.weights', 4, 2);
    const tip = web.locator('#tooltip');
    await tip.filter({ hasText: 'query 4' }).waitFor({ state: 'visible', timeout: 5000 });
    const boxes = await tip.evaluate((t) => {
      const [x, y, w, h] = t.dataset.cell.split(',').map(Number);
      const r = t.getBoundingClientRect();
      const beside = document.querySelector('canvas[data-name="causal.droppedWeights"]').getBoundingClientRect();
      return { tip: [r.left, r.top, r.right, r.bottom], cell: [x, y, x + w, y + h], beside: [beside.left, beside.top, beside.right, beside.bottom] };
    });
    const overlaps = (a, b) => a[0] < b[2] - 0.5 && b[0] < a[2] - 0.5 && a[1] < b[3] - 0.5 && b[1] < a[3] - 0.5;
    if (overlaps(boxes.tip, boxes.cell)) throw new Error(`the tooltip covers its cell: ${JSON.stringify(boxes)}`);
    if (overlaps(boxes.tip, boxes.beside)) throw new Error(`the tooltip covers the after-dropout map: ${JSON.stringify(boxes)}`);
    await page.mouse.move(5, 5);
  });

  await check('hovering a causal cell shows query, key, scores, weight and dropout', async () => {
    const canvas = web.locator('canvas[data-name="causal.droppedWeights"]');
    await canvas.scrollIntoViewIfNeeded();
    const box = await canvas.boundingBox();
    if (!box) throw new Error('no canvas box');
    // A cell in the bottom row: the last query token looking at an earlier key token.
    await page.mouse.move(box.x + box.width * 0.5, box.y + box.height - 12);
    const tip = web.locator('#tooltip');
    await tip.waitFor({ state: 'visible', timeout: 5000 });
    const text = await tip.innerText();
    for (const part of ['query', 'key', 'raw score', 'scaled score', 'weight']) {
      if (!text.includes(part)) throw new Error(`tooltip lacks "${part}": ${text}`);
    }
    await page.screenshot({ path: path.join(RESULTS, 'panel-hover.png') });
  });

  await check('hovering a cell highlights the query and the key token, in the map and in the editor', async () => {
    await page.mouse.move(5, 5);
    await page.waitForTimeout(300);
    const before = await decorations();
    await hoverCell('causal.weights', 5, 1); // query 5 looking back at key 1
    const tip = web.locator('#tooltip');
    await tip.filter({ hasText: 'query 5' }).waitFor({ state: 'visible', timeout: 5000 });
    await waitFor('2 tokens lit in the editor', async () => (await decorations()) >= before + 2, 5000);
    const chips = await web.locator('#tokens .chip.hot').evaluateAll((els) => els.map((e) => Number(e.dataset.index)));
    if (JSON.stringify(chips) !== '[1,5]') throw new Error(`lit chips ${JSON.stringify(chips)}`);
    await page.screenshot({ path: path.join(RESULTS, 'panel-hover-query-key.png') });
    await page.mouse.move(5, 5);
  });

  await check('"LLM 101: Continue Text" from the palette inserts tokens after the selection; one Undo removes them all', async () => {
    const before = await lineText(2);
    await selectLine(2);
    await runCommand('LLM 101: Continue Text');
    const grown = await waitFor('the continuation in the editor', async () => {
      const now = await lineText(2);
      return now.length > before.length + 5 && now.startsWith(before.trimEnd()) && now;
    });
    // The panel shows the progress, then the text with its continuation, analyzed again.
    await web.locator('#generate-status[data-state="done"]').waitFor({ timeout: STEP_MS });
    await waitFor('the panel to analyze prompt + continuation', async () => (await tokenCount()) > before.trim().split(/\s+/).length);
    await page.locator('.monaco-editor .view-line').nth(2).click();
    await page.keyboard.press('Control+Z');
    await waitFor('one Undo to remove the whole continuation', async () => (await lineText(2)) === before);
    console.log(`     continued: “${grown.slice(before.length, before.length + 60)}…”`);
  });

  await check('the panel\'s Generate button writes into the editor, with progress; one Undo removes it', async () => {
    await selectLine(2);
    await runCommand('LLM 101: Analyze Selection');
    await waitForPanel();
    const before = await lineText(2);
    await web.locator('#next-token').evaluate((el) => el.scrollIntoView({ block: 'start' }));
    const max = web.locator('#generate-max input');
    await max.fill('8');
    await web.locator('#generate-button').click();
    await web.locator('#generate-status[data-state="done"]').waitFor({ timeout: STEP_MS });
    const status = await web.locator('#generate-status').innerText();
    if (!/Added [1-8] tokens/.test(status)) throw new Error(`status: ${status}`);
    await page.screenshot({ path: path.join(RESULTS, 'panel-generated.png') });
    if ((await lineText(2)) === before) throw new Error('nothing was inserted');
    await page.locator('.monaco-editor .view-line').nth(2).click();
    await page.keyboard.press('Control+Z');
    await waitFor('one Undo to remove it', async () => (await lineText(2)) === before);
    await selectLine(2);
    await runCommand('LLM 101: Analyze Selection');
    await waitForPanel();
  });

  await check('changing llm101.heads and llm101.dropout in settings.json updates the panel', async () => {
    writeSettings({ 'llm101.heads': 4, 'llm101.dropout': 0.1 });
    await web.locator('#head-grid canvas').nth(3).waitFor({ timeout: STEP_MS });
    await web.locator('#attention-causal .formula', { hasText: 'p = 0.1' }).waitFor({ timeout: STEP_MS });
    const heads = await web.locator('#head-grid canvas').count();
    if (heads !== 4) throw new Error(`${heads} head maps after heads = 4`);
  });

  await check('heads 5 with dim 28 shows the fix inline and keeps the panel', async () => {
    writeSettings({ 'llm101.heads': 5 });
    await web.locator('#error', { hasText: 'valid head counts: 1, 2, 4, 7, 14, 28' }).waitFor({ timeout: STEP_MS });
    if ((await web.locator('main > section').count()) !== sections.length) throw new Error('the last good result disappeared');
    // The knobs show the sizes of the result on the page (heads 4 from the check before), and the error box says so.
    await web.locator('#error .shown-instead', { hasText: 'heads 4 · dim 28' }).waitFor({ timeout: STEP_MS });
    const heads = await web.locator('#knob-heads').evaluate((s) => ({ value: s.value, marked: [...s.options].filter((o) => o.textContent.includes('✗')).length }));
    if (heads.value !== '4' || heads.marked) throw new Error(`the heads knob shows ${JSON.stringify(heads)} beside a 4-head result`);
    await page.screenshot({ path: path.join(RESULTS, 'panel-error-knobs.png') });
    writeSettings({ 'llm101.heads': 7, 'llm101.dropout': 0.4 });
    await web.locator('#app[data-state="ready"]').waitFor({ timeout: STEP_MS });
  });

  await check('dropout 1.5 in settings.json gives a clear message', async () => {
    writeSettings({ 'llm101.dropout': 1.5 });
    await web.locator('#error', { hasText: 'dropout' }).waitFor({ timeout: STEP_MS });
    writeSettings({ 'llm101.dropout': 0.4 });
    await web.locator('#app[data-state="ready"]').waitFor({ timeout: STEP_MS });
  });

  /** Clicks an export control, answers the save dialog with `file`, waits for it on disk. */
  const exportTo = async (control, file) => {
    await control.click();
    const input = page.locator('.quick-input-widget input');
    await input.waitFor({ timeout: STEP_MS });
    await page.waitForTimeout(300);
    await input.fill(file);
    await page.keyboard.press('Enter');
    await waitFor(`${path.basename(file)} to be written`, () => fs.existsSync(file));
    await page.waitForTimeout(300);
    return fs.readFileSync(file);
  };

  await check('Export trace (JSON) saves the whole trace through the save dialog', async () => {
    const saved = JSON.parse(String(await exportTo(web.locator('#export-json'), path.join(workspace, 'llm101-trace.json'))));
    const n = await tokenCount();
    if (saved.tokens?.length !== n || saved.causal?.maskedScores?.[0]?.[1] !== null) throw new Error(`unexpected trace: ${Object.keys(saved)}`);
    if (saved.multiHead.heads.length !== 7) throw new Error(`${saved.multiHead.heads.length} heads in the file`);
  });

  await check('a map saves as PNG and as CSV', async () => {
    const fig = web.locator('figure', { has: web.locator('canvas[data-name="causal.weights"]') });
    const png = await exportTo(fig.locator('button.icon').first(), path.join(workspace, 'causal-weights.png'));
    if (png.subarray(1, 4).toString() !== 'PNG' || png.length < 500) throw new Error(`not a PNG (${png.length} bytes)`);
    const csv = String(await exportTo(fig.locator('button.icon').nth(1), path.join(workspace, 'causal-weights.csv'))).trim().split('\n');
    const n = await tokenCount();
    if (csv.length !== n + 1 || csv[1].split(',').length !== n + 1) throw new Error(`CSV is ${csv.length} lines`);
  });

  await check('the heads control offers only the divisors of the dimension; 5 cannot be written', async () => {
    const offered = await web.locator('#knob-heads option:not([disabled])').evaluateAll((os) => os.map((o) => o.value).join(','));
    if (offered !== '1,2,4,7,14,28') throw new Error(`heads offered: ${offered}`);
    // No sleep standing for "nothing was written": every write of settings.json is recorded, and a
    // valid value committed after the refused one is waited for. Knob messages are handled in
    // order, so a refused value that had been written would have been seen before it.
    const writes = [];
    const watcher = fs.watch(settingsFile, () => {
      try {
        writes.push(JSON.parse(fs.readFileSync(settingsFile, 'utf8')));
      } catch {
        // caught mid-write: the next event reads it whole
      }
    });
    const settingOf = (key) => {
      try {
        return JSON.parse(fs.readFileSync(settingsFile, 'utf8'))[key];
      } catch {
        return undefined; // caught mid-write
      }
    };
    const written = (key, value) => waitFor(`${key} ${value} to be written`, () => settingOf(key) === value);
    // Force 5 into the select as a script could, then commit it: the panel refuses it before
    // anything is sent, and the host would refuse it again before writing.
    await web.locator('#knob-heads').evaluate((select) => {
      select.append(Object.assign(document.createElement('option'), { value: '5', textContent: '5' }));
      select.value = '5';
      select.dispatchEvent(new Event('change'));
    });
    try {
      await web.locator('#knob-heads-message', { hasText: 'must divide' }).waitFor({ timeout: STEP_MS });
      await web.locator('#knob-heads').selectOption('4');
      await written('llm101.heads', 4);
      const dropout = web.locator('#knob-dropout input');
      await dropout.fill('1.5');
      await dropout.press('Enter');
      await web.locator('#knob-dropout-message', { hasText: 'below 1' }).waitFor({ timeout: STEP_MS });
      await page.screenshot({ path: path.join(RESULTS, 'panel-knob-refused.png') });
      await dropout.fill('0.3');
      await dropout.press('Enter');
      await written('llm101.dropout', 0.3);
      await dropout.fill('0.4');
      await dropout.press('Enter');
      await written('llm101.dropout', 0.4);
    } finally {
      watcher.close();
    }
    if (writes.some((w) => w['llm101.heads'] === 5)) throw new Error('heads 5 was written to .vscode/settings.json');
    if (writes.some((w) => w['llm101.dropout'] === 1.5)) throw new Error('dropout 1.5 was written');
  });

  await check('the heads control in the panel re-runs the engine and writes the setting', async () => {
    await web.locator('#knob-heads').selectOption('2');
    await waitFor('2 head maps after setting 2 in the panel', async () => (await web.locator('#head-grid canvas').count()) === 2);
    const written = JSON.parse(fs.readFileSync(settingsFile, 'utf8'))['llm101.heads'];
    if (written !== 2) throw new Error(`.vscode/settings.json has llm101.heads = ${written}`);
    writeSettings({ 'llm101.heads': 7 });
    await web.locator('#head-grid canvas').nth(6).waitFor({ timeout: STEP_MS });
  });

  await check('"Analyze Selection" from the editor context menu analyzes another line', async () => {
    const before = await tokenCount();
    await selectLine(4);
    await page.locator('.monaco-editor .view-line').nth(4).click({ button: 'right' });
    const item = page.locator('.monaco-menu .action-item', { hasText: 'Analyze Selection' });
    await item.waitFor({ timeout: STEP_MS });
    // Right-click keeps the selection, so the item is enabled; hover first so the menu settles.
    await item.hover();
    await item.click({ delay: 30 });
    const lineFive = fs.readFileSync(path.join(workspace, poemFile), 'utf8').split('\n')[4] ?? '';
    const lastWord = lineFive.trim().split(/\W+/).filter(Boolean).pop() ?? '';
    await web.locator('#tokens .chip .text').last().filter({ hasText: new RegExp(`^${lastWord}$`) }).waitFor({ timeout: STEP_MS });
    if (await page.locator('.monaco-menu').isVisible()) throw new Error('the context menu is still open');
    const after = await tokenCount();
    if (after === 0) throw new Error('no tokens');
    console.log(`     tokens: line 3 → ${before}, line 5 → ${after}`);
  });

  await check('Analyze Selection from the palette while the panel has focus analyzes the editor\'s selection', async () => {
    await selectLine(6);
    await web.locator('#status').click(); // the panel takes the focus, as after touching a knob
    const lineSeven = fs.readFileSync(path.join(workspace, poemFile), 'utf8').split('\n')[6] ?? '';
    const lastWord = lineSeven.trim().split(/\W+/).filter(Boolean).pop() ?? '';
    await runCommand('LLM 101: Analyze Selection');
    await web.locator('#tokens .chip .text').last().filter({ hasText: new RegExp(`^${lastWord}$`) }).waitFor({ timeout: STEP_MS });
    // And with Ctrl+Alt+L, the panel still focused.
    await selectLine(4);
    await web.locator('#status').click();
    const lineFive = fs.readFileSync(path.join(workspace, poemFile), 'utf8').split('\n')[4] ?? '';
    const five = lineFive.trim().split(/\W+/).filter(Boolean).pop() ?? '';
    await page.keyboard.press('Control+Alt+L');
    await web.locator('#tokens .chip .text').last().filter({ hasText: new RegExp(`^${five}$`) }).waitFor({ timeout: STEP_MS });
  });

  await check('light theme: the panel follows the workbench colours', async () => {
    await runCommand('Notifications: Clear All Notifications'); // the export toasts would cover the shots
    writeSettings({ 'workbench.colorTheme': 'Default Light Modern' });
    await page.locator('.monaco-workbench.vs:not(.vs-dark)').waitFor({ timeout: STEP_MS });
    // The webview's colours come from the theme: its background must now be light.
    const light = async () => web.locator('body').evaluate((b) => {
      const [r, g, bl] = getComputedStyle(b).backgroundColor.match(/\d+/g).map(Number);
      return 0.2126 * r + 0.7152 * g + 0.0722 * bl > 200;
    });
    await waitFor('a light panel background', light, 10_000);
    await page.waitForTimeout(500);
    await page.screenshot({ path: path.join(RESULTS, 'panel-light.png') });
    await shootSections('light');
    await shootWidths('light');
  });

  await check('high-contrast theme: the panel follows', async () => {
    writeSettings({ 'workbench.colorTheme': 'Default High Contrast' });
    await page.locator('.monaco-workbench.hc-black').waitFor({ timeout: STEP_MS });
    await page.waitForTimeout(800);
    await shootSections('hc');
    await shootWidths('hc');
    writeSettings({ 'workbench.colorTheme': 'Default Light Modern' });
  });

  await check('a checkpoint through llm101.weightsPath (book layout, 2 layers × 4 heads, dim 32) fills the model sections', async () => {
    writeSettings({ 'llm101.weightsPath': CHECKPOINT, 'llm101.corpusPath': wordCorpus, 'llm101.tokenizer': 'word', 'llm101.heads': 4 });
    // The file opens in the editor group beside the panel, not in the panel's group.
    await openFile(page, 'zz-checkpoint.txt', STEP_MS);
    await page.keyboard.press('Control+A');
    await runCommand('LLM 101: Analyze Selection');
    await web.locator('#tokens .chip .text', { hasText: /^w43$/ }).first().waitFor({ timeout: STEP_MS });
    await web.locator('#app[data-state="ready"]').waitFor({ timeout: STEP_MS });
    await web.locator('#feed-forward .weights-note', { hasText: 'weights.safetensors' }).waitFor({ timeout: STEP_MS });
    console.log(`     status: ${await web.locator('#status').innerText()}`);
    const { n } = await checkModelSections({ layers: 2, heads: 4, dim: 32, source: /Weights from weights\.safetensors: the checkpoint's numbers/ });
    if (n !== 10) throw new Error(`${n} tokens for the checkpoint's text`);
    await shootSections('light', modelSections, 'checkpoint');
  });

  await check('a 12 × 12 grid of a 128-token text: mean-pooled thumbnails, each scale said; labels readable at 360, 600 and 1,000 px', async () => {
    writeSettings({ 'llm101.weightsPath': '', 'llm101.corpusPath': '', 'llm101.layers': 12, 'llm101.heads': 12, 'llm101.dim': 48 });
    await openFile(page, 'zz-tokens-128.txt', STEP_MS);
    await page.keyboard.press('Control+A');
    await runCommand('LLM 101: Analyze Selection');
    await web.locator('#tokens .chip').nth(127).waitFor({ timeout: 120_000 });
    await web.locator('#blocks .note.model-size', { hasText: '12 layers × 12 heads, dim 48' }).waitFor({ timeout: 120_000 });
    await web.locator('#blocks').evaluate((el) => el.scrollIntoView({ block: 'start' }));
    await web.locator('#block-grid[data-layers="12"][data-heads="12"]').waitFor({ timeout: 120_000 });
    const grid = await web.locator('#block-grid').evaluate((g) => ({
      caption: g.querySelector('figcaption').textContent,
      legend: g.querySelector('.legend').textContent,
      titles: [...g.querySelectorAll('button.thumb')].map((b) => b.title),
    }));
    if (!/mean-pooled to 48 × 48/.test(grid.caption)) throw new Error(`caption: ${grid.caption}`);
    if (!/each thumbnail on its own log scale/.test(grid.legend)) throw new Error(`legend: ${grid.legend}`);
    const unsaid = grid.titles.filter((t) => !/mean weights \S+–\S+ on its own log scale/.test(t));
    if (grid.titles.length !== 144 || unsaid.length) throw new Error(`${grid.titles.length} thumbnails, ${unsaid.length} without their range: ${unsaid[0]}`);
    await shootWidths('light', ['blocks']);
  }).finally(() => writeSettings({ 'llm101.layers': 2, 'llm101.heads': 7, 'llm101.dim': 28 }));

  await check('"LLM 101: Open Playground" shows the poem in an editor and hovering lights its tokens', async () => {
    writeSettings({ 'llm101.weightsPath': '', 'llm101.corpusPath': '', 'llm101.heads': 7 });
    const tabs = () => page.locator('.tabs-container .tab', { hasText: poemFile }).count();
    const before = await tabs();
    await runCommand('LLM 101: Open Playground');
    await waitFor('an editor on the sample poem', async () => (await tabs()) > before);
    await web.locator('#tokens .chip .text', { hasText: /^Each$/ }).first().waitFor({ timeout: STEP_MS });
    await waitForPanel();
    await page.mouse.move(5, 5);
    await page.waitForTimeout(300);
    const lit = await decorations();
    await web.locator('#tokens .chip').nth(2).hover();
    await waitFor('the hovered chip lit in the poem editor', async () => (await decorations()) > lit, 5000);
    await page.screenshot({ path: path.join(RESULTS, 'open-playground.png') });
  });

  await check('the panel comes back after "Developer: Reload Window"', async () => {
    await runCommand('Developer: Reload Window');
    await page.waitForTimeout(2000);
    await waitForPanel(90_000); // as long as the workbench's first start may take
    if ((await tokenCount()) === 0) throw new Error('restored panel has no tokens');
  });

  for (const n of SIZES) {
    await check(`a ${n}-token selection opens a usable panel (timed)`, async () => {
      const file = `zz-tokens-${n}.txt`;
      await page.locator('.explorer-folders-view .monaco-list-row', { hasText: file }).click();
      await page.locator('.tabs-container .tab', { hasText: file }).waitFor({ timeout: STEP_MS });
      await page.locator('.monaco-editor .view-line').first().click();
      await page.keyboard.press('Control+A');
      const before = await newestRunId(web);
      const t0 = Date.now();
      await runCommand('LLM 101: Analyze Selection');
      // the tokens section paints as soon as the text is tokenized, before the stages are computed
      const { alone } = await tokensPainted(page, web, before, n, 120_000);
      const tokensAt = Date.now() - t0;
      await web.locator(`canvas[data-name="layerNorm.output"][data-rows="${n}"]`).waitFor({ timeout: 120_000 });
      await web.locator('#app[data-state="ready"]').waitFor({ timeout: STEP_MS });
      const painted = Date.now() - t0;
      if ((await tokenCount()) !== n) throw new Error(`${await tokenCount()} chips`);
      // Long texts send their T×T maps when the section is shown: time that too.
      await web.locator('#attention-causal').scrollIntoViewIfNeeded();
      await web.locator(`canvas[data-name="causal.weights"][data-rows="${n}"]`).waitFor({ timeout: 120_000 });
      console.log(`     ${n} tokens: selection → tokens section ${tokensAt} ms${alone ? ' (before the trace)' : ''}, → painted panel ${painted} ms, → causal maps shown ${Date.now() - t0} ms`);
      if (n > 256) {
        // Per-head maps arrive when their section is shown.
        await web.locator('#attention-heads').scrollIntoViewIfNeeded();
        await web.locator(`#head-grid canvas[data-rows="${n}"]`).first().waitFor({ timeout: 60_000 });
        console.log(`     ${n} tokens: → first head map shown ${Date.now() - t0} ms`);
        await page.screenshot({ path: path.join(RESULTS, `panel-${n}-heads.png`) });
        // so do the concatenated heads and the output projection
        await web.locator('figure.pending[data-group="multiHeadOut"]').scrollIntoViewIfNeeded({ timeout: 2_000 }).catch(() => {});
        await web.locator(`canvas[data-name="multiHead.output"][data-rows="${n}"]`).waitFor({ timeout: STEP_MS });
        await web.locator(`canvas[data-name="multiHead.concat"][data-rows="${n}"]`).waitFor({ timeout: STEP_MS });
        await web.locator('#attention-causal').scrollIntoViewIfNeeded();
        const canvas = web.locator('canvas[data-name="causal.droppedWeights"]');
        const box = await canvas.boundingBox();
        if (!box) throw new Error('no causal map');
        await page.mouse.move(box.x + box.width * 0.3, box.y + box.height * 0.7);
        await page.keyboard.down('Control');
        for (let i = 0; i < 6; i++) await page.mouse.wheel(0, -100); // zoom in around the pointer
        await page.keyboard.up('Control');
        const view = await canvas.getAttribute('data-view');
        if (!view || Number(view.split(',')[2]) >= n) throw new Error(`did not zoom: ${view}`);
        // Long texts' maps arrive as display codes: the tooltip asks the extension for the exact
        // values of the hovered cell, and shows them once they are back.
        await page.mouse.move(box.x + box.width * 0.3 + 3, box.y + box.height * 0.7 + 3);
        const tip = web.locator('#tooltip');
        await tip.filter({ hasText: 'scaled score' }).waitFor({ state: 'visible', timeout: STEP_MS });
        const text = await tip.innerText();
        if (!/raw score (-?\d+\.\d{4}|masked)/.test(text) || !/weight \d\.\d{4}/.test(text)) throw new Error(`tooltip: ${text}`);
        if (!/future token: masked|dropped by dropout|after dropout/.test(text)) throw new Error(`tooltip lacks dropout: ${text}`);
        await page.screenshot({ path: path.join(RESULTS, `panel-${n}-zoomed.png`) });
        await page.mouse.move(5, 5);
        // the token and position embeddings of a long text come when their toggle is picked
        await web.locator('#embeddings').scrollIntoViewIfNeeded();
        await web.locator('#embeddings .toggle button[data-value="token"]').click();
        await web.locator(`canvas[data-name="embeddings.token"][data-rows="${n}"]`).waitFor({ timeout: STEP_MS });
        await web.locator('#embeddings .toggle button[data-value="position"]').click();
        await web.locator(`canvas[data-name="embeddings.position"][data-rows="${n}"]`).waitFor({ timeout: STEP_MS });
        await web.locator('#embeddings .toggle button[data-value="input"]').click();
        // the editor's group active again, so the next file opens there and not beside the panel
        await runCommand('View: Focus First Editor Group');
      }
    });
  }

});
