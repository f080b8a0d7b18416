// The playground panel as the end-to-end suites see it: its sections, maps, bars and tooltip,
// screenshots of each section (at the panel's width, or at 360, 600 and 1,000 px), and the check
// of the model's sections. `web` is the panel's frame, `outer` the selector of its iframe.
import path from 'node:path';
import { RESULTS, setPanelWidth, waitUntil } from './harness.mjs';

export function panelTools({ page, web, outer, STEP_MS }) {
  const tokenCount = () => web.locator('#tokens .chip').count();
  const stages = ['tokens', 'embeddings', 'attention-simple', 'attention-self', 'attention-causal', 'attention-heads', 'layernorm'];
  const modelSections = ['feed-forward', 'blocks', 'next-token', 'logit-lens', 'attribution', 'patching'];
  const sections = [...stages, ...modelSections];
  // Every section at the default panel width (about 600 px beside the editor), its heading
  // scrolled to the top as a reveal would (so the sticky bar must not hide it).
  const shootSections = async (theme, ids = sections, prefix = 'panel') => {
    for (const id of ids) {
      await web.locator(`#${id}`).scrollIntoViewIfNeeded();
      await web.locator(`#${id}`).evaluate((el) => el.scrollIntoView({ block: 'start' }));
      await page.waitForTimeout(id === 'blocks' ? 800 : 300); // the thumbnails are asked for when shown
      await page.screenshot({ path: path.join(RESULTS, `${prefix}-${id}-${theme}.png`) });
    }
  };
  /** The next-token chart's bars: how many, their probabilities, the position they follow. */
  const nextTokenBars = async () => {
    const bars = web.locator('#next-token-bars');
    return {
      count: Number(await bars.getAttribute('data-bars')),
      probabilities: (await bars.getAttribute('data-probabilities')).split(',').filter(Boolean).map(Number),
      position: Number(await bars.getAttribute('data-position')),
    };
  };
  const waitFor = (what, ok, ms = STEP_MS) => waitUntil(page, what, ok, ms);
  /** The text of editor line n as a person reads it (Monaco draws spaces as no-break spaces). */
  const lineText = async (n) => (await page.locator('.monaco-editor .view-line').nth(n).innerText()).replace(/\u00a0/g, ' ');
  /**
   * The model sections for a model of `layers` × `heads` and width `dim`: weights note, GELU
   * chart, hidden map with named axes, the layer × head grid asked for when shown, a thumbnail
   * opened large with its hover, the residual norms, k bars summing to at most 1.
   */
  const checkModelSections = async ({ layers, heads, dim, source }) => {
    const ids = await web.locator('main > section').evaluateAll((els) => els.map((e) => e.id));
    if (JSON.stringify(ids) !== JSON.stringify(sections)) throw new Error(`sections ${ids.join(', ')}`);
    const notes = await web.locator('#feed-forward .weights-note, #blocks .weights-note, #next-token .weights-note').allInnerTexts();
    if (notes.length !== 3 || !notes.every((t) => source.test(t))) throw new Error(`weights notes: ${notes.join(' | ')}`);
    const n = await tokenCount();
    const hidden = web.locator('canvas[data-name="model.feedForward.hidden"]');
    const [rows, cols, colAxis, rowAxis] = await hidden.evaluate((c) => [Number(c.dataset.rows), Number(c.dataset.cols), c.dataset.colAxis, c.dataset.rowAxis]);
    if (rows !== n || cols !== 4 * dim || rowAxis !== 'tokens' || colAxis !== `hidden units (4·dim = ${4 * dim})`) throw new Error(`hidden map ${rows}×${cols} (${rowAxis} × ${colAxis})`);
    await web.locator('#gelu-chart canvas').waitFor({ timeout: STEP_MS });
    await web.locator('#residual-chart canvas').waitFor({ timeout: STEP_MS });
    // The grid is asked for when its section comes into view.
    await web.locator('#blocks').evaluate((el) => el.scrollIntoView({ block: 'start' }));
    await web.locator('#block-grid').waitFor({ timeout: STEP_MS });
    const grid = await web.locator('#block-grid').evaluate((g) => ({ layers: Number(g.dataset.layers), heads: Number(g.dataset.heads), thumbs: g.querySelectorAll('button.thumb').length, rowLabels: [...g.querySelectorAll('.row-label')].map((e) => e.getAttribute('aria-label')), colLabels: [...g.querySelectorAll('.col-label')].map((e) => e.getAttribute('aria-label')) }));
    if (grid.layers !== layers || grid.heads !== heads || grid.thumbs !== layers * heads) throw new Error(`grid ${JSON.stringify(grid)}`);
    if (grid.rowLabels[layers - 1] !== `layer ${layers}` || grid.colLabels[heads - 1] !== `head ${heads}`) throw new Error(`grid labels ${JSON.stringify(grid)}`);
    const normMap = await web.locator('canvas[data-name="model.residualNorms"]').evaluate((c) => [Number(c.dataset.rows), Number(c.dataset.cols), c.dataset.rowAxis, c.dataset.colAxis]);
    if (normMap[0] !== layers || normMap[1] !== n) throw new Error(`residual norms map ${JSON.stringify(normMap)}`);
    // The last layer's last head, opened large: queries × keys, and the hover names both tokens.
    await web.locator(`button.thumb[data-layer="${layers - 1}"][data-head="${heads - 1}"]`).click();
    const big = `blocks.${layers - 1}.heads.${heads - 1}`;
    await web.locator(`canvas[data-name="${big}"]`).waitFor({ timeout: STEP_MS });
    const axes = await web.locator(`canvas[data-name="${big}"]`).evaluate((c) => [Number(c.dataset.rows), c.dataset.rowAxis, c.dataset.colAxis]);
    if (axes[0] !== n || axes[1] !== 'queries' || axes[2] !== 'keys') throw new Error(`opened map ${JSON.stringify(axes)}`);
    await hoverCell(big, n - 1, 1);
    const tip = await web.locator('#tooltip').filter({ hasText: `query ${n - 1}` }).innerText({ timeout: 5000 });
    if (!/key 1/.test(tip) || !/weight \d\.\d{4}/.test(tip)) throw new Error(`tooltip: ${tip}`);
    await page.mouse.move(5, 5);
    // The next token after the last position: k bars whose probabilities sum to at most 1.
    await web.locator('#next-token').evaluate((el) => el.scrollIntoView({ block: 'start' }));
    await web.locator('#next-token-bars[data-bars]').waitFor({ timeout: STEP_MS });
    const top = await nextTokenBars();
    const sum = top.probabilities.reduce((a, b) => a + b, 0);
    if (top.count !== 10 || top.probabilities.length !== 10 || !(sum <= 1 + 1e-6) || top.position !== n - 1) throw new Error(`bars ${JSON.stringify(top)} sum ${sum}`);
    return { n };
  };
  /** Editor decorations (token boundaries, highlighted tokens) drawn in the visible editors. */
  const decorations = () => page.locator('.monaco-editor .view-overlays > div > div[class*="ced-"]').count();
  /** Moves the pointer over cell (row, col) of the map named `name` in the panel. */
  const hoverCell = async (name, row, col) => {
    const canvas = web.locator(`canvas[data-name="${name}"]`);
    await canvas.scrollIntoViewIfNeeded();
    const box = await canvas.boundingBox();
    const [left, top, cw, ch] = (await canvas.getAttribute('data-grid')).split(',').map(Number);
    if (!box) throw new Error(`no ${name} map`);
    await page.mouse.move(box.x + left + (col + 0.5) * cw, box.y + top + (row + 0.5) * ch);
  };
  /** `ms`: how long the panel may take to appear (a reloaded window starts the workbench again). */
  const waitForPanel = async (ms = STEP_MS) => {
    await page.locator(outer).waitFor({ timeout: ms });
    await web.locator('#app[data-state="ready"]').waitFor({ timeout: ms });
  };
  /** Elements of `selector` (in the panel) that overlap a neighbour or do not show their whole text. */
  const crowded = (selector) => web.locator(selector).evaluateAll((els) => {
    const boxes = els.filter((e) => e.offsetParent).map((e) => ({ e, r: e.getBoundingClientRect() }));
    const bad = [];
    boxes.forEach(({ e, r }, i) => {
      if (e.scrollWidth > e.clientWidth + 1) bad.push(`${e.id || e.textContent.trim()} clipped (${e.scrollWidth} > ${e.clientWidth})`);
      for (const { e: f, r: q } of boxes.slice(i + 1)) {
        if (r.left < q.right - 1 && q.left < r.right - 1 && r.top < q.bottom - 1 && q.top < r.bottom - 1) bad.push(`${e.id || e.textContent.trim()} overlaps ${f.id || f.textContent.trim()}`);
      }
    });
    return bad;
  });
  /** Spread of the luminance (0–255) over a map's cells: a grey square has almost none. */
  const luminanceSpread = (name) => web.locator(`canvas[data-name="${name}"]`).evaluate((c) => {
    const [left, top, cw, ch] = c.dataset.grid.split(',').map(Number);
    const dpr = c.width / c.clientWidth;
    const w = Math.floor(cw * Number(c.dataset.cols) * dpr);
    const h = Math.floor(ch * Number(c.dataset.rows) * dpr);
    const d = c.getContext('2d').getImageData(Math.ceil(left * dpr), Math.ceil(top * dpr), w - 2, h - 2).data;
    let n = 0, sum = 0, sq = 0;
    for (let i = 0; i < d.length; i += 4 * 7) {
      const y = 0.2126 * d[i] + 0.7152 * d[i + 1] + 0.0722 * d[i + 2];
      n++; sum += y; sq += y * y;
    }
    return Math.sqrt(sq / n - (sum / n) ** 2);
  });
  /**
   * At 360, 600 and 1,000 px: the knob bar and the layer × head grid's labels neither overlap nor
   * clip, the layer-norm map is not a grey square, and every section is shot (only the panel).
   */
  const shootWidths = async (theme, ids = sections) => {
    const before = page.viewportSize();
    const problems = [];
    try {
      for (const width of [360, 600, 1000]) {
        const reached = await setPanelWidth(page, () => web.locator('html').evaluate((h) => h.clientWidth), width);
        for (const selector of ['#knobs > *', '#knobs .knob > span:first-child', '#block-grid .col-label', '#block-grid .row-label']) {
          for (const p of await crowded(selector)) problems.push(`${width} px: ${p}`);
        }
        const spread = await luminanceSpread('layerNorm.output');
        if (spread < 15) problems.push(`${width} px: the layer-norm map is nearly one colour (luminance spread ${spread.toFixed(1)})`);
        for (const id of ids) {
          await web.locator(`#${id}`).evaluate((el) => el.scrollIntoView({ block: 'start' }));
          await page.waitForTimeout(250);
          await page.locator(outer).screenshot({ path: path.join(RESULTS, `width-${width}-${id}-${theme}.png`) });
        }
        console.log(`     ${theme}: panel ${reached} px, layer-norm luminance spread ${spread.toFixed(1)}`);
      }
    } finally {
      await page.setViewportSize(before);
      await page.waitForTimeout(600);
    }
    if (problems.length) throw new Error(problems.slice(0, 6).join(' | '));
  };
  return { tokenCount, stages, modelSections, sections, shootSections, nextTokenBars, waitFor, lineText, checkModelSections, decorations, hoverCell, waitForPanel, shootWidths };
}
