#!/usr/bin/env node
// End-to-end: training a small GPT in the real VS Code workbench (code-server + Chromium through
// playwright-core), as a learner would: "LLM 101: Train Model" from the palette on the bundled
// poems with the tiny preset, the training panel's falling loss curve, samples and timelapse;
// a longer run paused, resumed and stopped (its checkpoint kept); "Analyze with this model" then
// shows that checkpoint in the playground's model sections. Screenshots of the training panel in
// dark, light and high-contrast themes go to test-results/training-*.png. Ends with "N passed, N failed".
import fs from 'node:fs';
import path from 'node:path';
import { RESULTS, checks, frameWith as frameIn, inWorkbench, runCommand as palette, sampleWorkspace, setPanelWidth, waitUntil } from './harness.mjs';

const STEP_MS = 30_000;
/** The tiny preset trains 150 steps: seconds on a laptop, longer on a busy 2-core runner. */
const TINY_MS = 180_000;

const { workspace, poemFile, writeSettings } = sampleWorkspace('train-ws');
const suite = checks();
const { check } = suite;

await inWorkbench({
  suite, workspace, shots: 'training-FAIL', openMs: 180_000, cleanup: () => fs.rmSync(workspace, { recursive: true, force: true }),
}, async ({ page }) => {
  const runCommand = (title) => palette(page, title, STEP_MS);
  /** Picks the quick pick item labelled `label` (typing filters the list to it). */
  const pick = async (label) => {
    await page.locator('.quick-input-widget .monaco-list-row', { hasText: label }).first().waitFor({ timeout: STEP_MS });
    await page.keyboard.type(label);
    await page.locator('.quick-input-widget .monaco-list-row.focused', { hasText: label }).waitFor({ timeout: STEP_MS });
    await page.keyboard.press('Enter');
  };
  /** Train Model on the bundled poems with a preset, keeping the suggested name. */
  const train = async (preset) => {
    await runCommand('LLM 101: Train Model');
    await pick('Bundled poems');
    await pick(preset);
    await page.locator('.quick-input-widget .quick-input-title', { hasText: 'name the model' }).waitFor({ timeout: STEP_MS });
    const name = await page.locator('.quick-input-widget input').inputValue();
    await page.keyboard.press('Enter');
    return name;
  };
  /** The webview frame whose document has `selector` (#training: the training panel, #app: the playground). */
  const frameWith = (selector, timeout = STEP_MS) => frameIn(page, selector, timeout);
  const waitFor = (what, test, timeout) => waitUntil(page, what, test, timeout, 250);
  /** Each section of the training panel scrolled to the top, at the panel's width, clipped to the panel. */
  const shoot = async (training, theme, ids = ['top', 'loss', 'samples', 'timelapse']) => {
    await runCommand('Notifications: Clear All Notifications');
    await page.waitForTimeout(300);
    const frameEl = await training.frameElement();
    const outer = await (await frameEl.ownerFrame())?.frameElement();
    const box = await (outer ?? frameEl).boundingBox();
    for (const id of ids) {
      await training.evaluate((id) => {
        if (id === 'top') window.scrollTo(0, 0);
        else document.getElementById(id)?.scrollIntoView({ block: 'start' });
      }, id);
      await page.waitForTimeout(400);
      await page.screenshot({ path: path.join(RESULTS, `training-${id}-${theme}.png`), ...(box && { clip: box }) });
    }
    await training.evaluate(() => window.scrollTo(0, 0));
  };

  let training;
  let tinyName = '';

  await check('workbench opens the sample poems and a poem is selected in an editor', async () => {
    await page.locator('.explorer-folders-view .monaco-list-row', { hasText: poemFile }).waitFor({ timeout: 90_000 });
    await page.locator('.explorer-folders-view .monaco-list-row', { hasText: poemFile }).click();
    await page.locator('.monaco-editor .view-line').nth(2).waitFor({ timeout: STEP_MS });
    await page.locator('.monaco-editor .view-line').nth(2).click();
    await page.keyboard.press('Home');
    await page.keyboard.press('Shift+End');
  });

  await check('"LLM 101: Train Model" from the palette (bundled poems, Tiny) opens the training panel', async () => {
    tinyName = await train('Tiny');
    training = await frameWith('#training[data-run-id]', 60_000);
    const header = await training.locator('.run-header').innerText();
    if (!header.includes(tinyName) || !/bundled poems/.test(header) || !/Tiny/.test(header)) throw new Error(`header: ${header}`);
    const width = await training.evaluate(() => document.documentElement.clientWidth);
    console.log(`     training panel: ${width} px wide`);
  });

  await check('the tiny run ends done; the header names the model size and the checkpoint', async () => {
    await training.locator('#training[data-state="done"]').waitFor({ timeout: TINY_MS });
    const model = await training.locator('#train-model').innerText();
    if (!/1 layer · dim 32 · 2 heads · context 32/.test(model) || !/parameters/.test(model)) throw new Error(`model line: ${model}`);
    const data = await training.locator('#train-data').innerText();
    if (!/to train on, [\d,]+ held out for validation/.test(data)) throw new Error(`data line: ${data}`);
    const out = await training.locator('#train-out code').innerText();
    if (!out.endsWith(`${tinyName}.safetensors`)) throw new Error(`checkpoint: ${out}`);
  });

  await check('#loss-chart drew every step, evaluations, and the loss fell', async () => {
    const d = await training.locator('#loss-chart').evaluate((c) => ({ ...c.dataset, width: c.clientWidth, height: c.clientHeight }));
    const first = Number(d.firstLoss);
    const last = Number(d.lastLoss);
    console.log(`     loss ${first} → ${last} over ${d.points} steps, ${d.evals} evaluations, uniform guess ${d.uniform}`);
    if (Number(d.points) !== 150) throw new Error(`${d.points} steps drawn`);
    if (!fs.existsSync(path.join(workspace, '.llm101', 'models', `${tinyName}.best.safetensors`))) throw new Error('no best validation checkpoint beside the checkpoint');
    if (Number(d.evals) < 3) throw new Error(`${d.evals} evaluations`);
    if (!(last < first - 1)) throw new Error(`the loss did not fall: ${first} → ${last}`);
    if (d.width < 300 || d.height < 200) throw new Error(`chart ${d.width}×${d.height}`);
    const note = await training.locator('#loss-note').innerText();
    if (!/Train loss [\d.]+ at step 0 → [\d.]+ at step 150/.test(note)) throw new Error(`loss note: ${note}`);
    const status = await training.locator('#train-status').innerText();
    if (!/step 150 \/ 150/.test(status) || !/tokens\/s/.test(status) || !/elapsed/.test(status) || !/done/.test(status)) throw new Error(`status: ${status}`);
    const end = await training.locator('#train-end').innerText();
    if (!/^Done: 150 steps/.test(end) || !end.includes(`${tinyName}.safetensors`)) throw new Error(`end: ${end}`);
    // the early-stopping hint, when the validation loss rose: it names the step whose checkpoint is kept
    const over = await training.locator('#loss-note').getAttribute('data-overfitting-step');
    const best = await training.locator('#train-status').getAttribute('data-best-step');
    console.log(`     best validation checkpoint at step ${best}; overfitting hint ${over ? `at step ${over}` : 'not shown'}`);
    if (over && !note.includes(`lowest (`) ) throw new Error(`hint: ${note}`);
    if (over && !note.includes(`the checkpoint of step ${best}`)) throw new Error(`the hint does not name the kept step ${best}: ${note}`);
  });

  await check('samples grow from step 0, the prompt styled apart from the continuation', async () => {
    const steps = await training.locator('#sample-list li').evaluateAll((els) => els.map((e) => Number(e.dataset.step)));
    if (steps.length < 3 || steps.at(-1) !== 0) throw new Error(`sample steps ${steps.join(', ')}`);
    const prompts = await training.locator('#sample-list li .prompt').count();
    if (prompts !== steps.length) throw new Error(`${prompts} of ${steps.length} samples show the prompt`);
    const first = await training.locator('#sample-list li .continuation').last().innerText();
    if (!first.trim()) throw new Error('the step-0 sample has no continuation');
  });

  await check('the timelapse slider moves over the saved steps, the map follows with queries and keys named', async () => {
    const tl = training.locator('.timelapse');
    const frames = Number(await tl.getAttribute('data-frames'));
    if (frames < 5) throw new Error(`${frames} frames`);
    const slider = training.locator('#timelapse-slider');
    await slider.scrollIntoViewIfNeeded();
    await slider.evaluate((s) => { s.value = '0'; s.dispatchEvent(new Event('input')); });
    const label0 = await training.locator('#timelapse-step').innerText();
    if (label0 !== 'step 0') throw new Error(`slider at 0 says ${label0}`);
    await slider.focus();
    await page.keyboard.press('ArrowRight');
    const label1 = await training.locator('#timelapse-step').innerText();
    if (!/^step [1-9]\d*$/.test(label1)) throw new Error(`after one step right: ${label1}`);
    const canvas = training.locator('#timelapse-map canvas');
    const axes = await canvas.evaluate((c) => [c.dataset.rowAxis, c.dataset.colAxis, Number(c.dataset.rows)]);
    if (axes[0] !== 'queries' || axes[1] !== 'keys' || !(axes[2] >= 4)) throw new Error(`map axes ${JSON.stringify(axes)}`);
    const legend = await training.locator('#timelapse-map .legend').innerText();
    if (!/attention weight \(0–1\)/.test(legend)) throw new Error(`colour bar: ${legend}`);
    // The maps change as the model learns: step 0 and the last frame are painted differently.
    const pixels = () => canvas.evaluate((c) => {
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let h = 0;
      for (let i = 0; i < d.length; i += 4) h = (h * 31 + d[i] + d[i + 1] * 7 + d[i + 2] * 13) | 0;
      return h;
    });
    await slider.evaluate((s) => { s.value = '0'; s.dispatchEvent(new Event('input')); });
    const before = await pixels();
    await slider.evaluate((s) => { s.value = s.max; s.dispatchEvent(new Event('input')); });
    if ((await pixels()) === before) throw new Error('the first and the last frame look the same');
    const heads = await training.locator('#timelapse-head button').count();
    if (heads !== 2) throw new Error(`${heads} head buttons (the tiny preset has 2 heads)`);
    await training.locator('#timelapse-head button[data-value="1"]').click();
    const title = await training.locator('#timelapse-map figcaption .title').innerText();
    if (!/layer 1, head 2 at step \d+/.test(title)) throw new Error(`map title: ${title}`);
  });

  await check('after a section is scrolled to, its heading is below the sticky status bar', async () => {
    for (const id of ['loss', 'samples', 'timelapse']) {
      const { heading, bar } = await training.locator(`#${id}`).evaluate((el) => {
        el.scrollIntoView({ block: 'start' });
        return { heading: el.querySelector('h2').getBoundingClientRect().top, bar: document.getElementById('train-bar').getBoundingClientRect().bottom };
      });
      if (heading < bar) throw new Error(`${id}: heading at ${heading.toFixed(0)} px, under the bar ending at ${bar.toFixed(0)} px`);
    }
  });

  if (training) await shoot(training, 'dark');

  await check('the training panel at 360 and 1,000 px: the loss chart and the timelapse fit the panel', async () => {
    const before = page.viewportSize();
    try {
      for (const width of [360, 1000]) {
        const reached = await setPanelWidth(page, () => training.evaluate(() => document.documentElement.clientWidth), width);
        const fit = await training.evaluate(() => {
          const page = document.documentElement.clientWidth;
          const over = [...document.querySelectorAll('#loss-chart, #timelapse canvas, #train-bar')].filter((e) => e.getBoundingClientRect().right > page + 1);
          return { page, over: over.map((e) => e.id || e.tagName), scrolls: document.documentElement.scrollWidth > page + 1 };
        });
        if (fit.over.length || fit.scrolls) throw new Error(`at ${reached} px: ${fit.over.join(', ') || 'the page'} wider than the panel`);
        await shoot(training, `${width}-dark`, ['top', 'loss', 'timelapse']);
        console.log(`     training panel at ${reached} px`);
      }
    } finally {
      await page.setViewportSize(before);
      await page.waitForTimeout(600);
    }
  });

  let smallName = '';
  await check('a longer run pauses within one step and resumes from the panel; Stop stays available meanwhile', async () => {
    // the tiny run's id, read before the new run starts (the panel is reused and soon shows the new one)
    const tinyRun = await training.locator('#training').getAttribute('data-run-id');
    smallName = await train('Small');
    training = await frameWith(`#training[data-run-id]:not([data-run-id="${tinyRun}"])`, 60_000);
    const status = training.locator('#train-status');
    await waitFor('step 10 of the small run', async () => Number(await status.getAttribute('data-step')) >= 10, 120_000);
    const clicked = Date.now();
    await training.locator('#train-pause').click();
    if (await training.locator('#train-stop').isDisabled()) throw new Error('Stop is disabled while the pause is on its way');
    await training.locator('#train-status[data-state="paused"]').waitFor({ timeout: STEP_MS });
    const pauseMs = Date.now() - clicked;
    const at = Number(await status.getAttribute('data-paused-at'));
    const asked = Number(await status.getAttribute('data-pause-asked-at'));
    console.log(`     Pause: asked after step ${asked}, took effect after step ${at}; shown ${pauseMs} ms after the click`);
    if (!(at - asked <= 1 && at >= asked)) throw new Error(`the pause arrived after step ${asked} but took effect after step ${at}`);
    if (Number(await status.getAttribute('data-step')) !== at) throw new Error(`paused after step ${at}, the status shows ${await status.getAttribute('data-step')}`);
    if (!/Resume/.test(await training.locator('#train-pause').innerText())) throw new Error('the button does not offer Resume');
    if (await training.locator('#train-stop').isDisabled()) throw new Error('Stop is disabled while paused');
    await shoot(training, 'paused-dark', ['top']);
    await training.locator('#train-pause').click();
    // the run says where it resumed: the step it paused at, so no step ran while paused
    await waitFor('the resume', async () => (await status.getAttribute('data-resumed-at')) !== null, STEP_MS);
    const resumed = Number(await status.getAttribute('data-resumed-at'));
    if (resumed !== at) throw new Error(`paused after step ${at}, resumed after step ${resumed}`);
    await waitFor('steps after Resume', async () => Number(await status.getAttribute('data-step')) > at + 2, STEP_MS);
  });

  let stoppedFile = '';
  await check('Stop during the run takes effect within one step and keeps the checkpoint at the last completed step, and the end message names it', async () => {
    const hint = await training.locator('#train-stop-hint').innerText();
    if (!/keeps the checkpoint at the last completed step/.test(hint)) throw new Error(`stop hint: ${hint}`);
    const clicked = Date.now();
    await training.locator('#train-stop').click();
    await training.locator('#training[data-state="stopped"]').waitFor({ timeout: 60_000 });
    const end = await training.locator('#train-end').innerText();
    const m = /the checkpoint at step ([\d,]+), the last completed step, is saved: (.+?\.safetensors)/.exec(end);
    if (!m) throw new Error(`end message: ${end}`);
    stoppedFile = m[2];
    if (!stoppedFile.endsWith(`${smallName}.safetensors`) || !fs.existsSync(stoppedFile)) throw new Error(`no checkpoint at ${stoppedFile}`);
    const steps = Number(await training.locator('#train-status').getAttribute('data-step'));
    if (Number(m[1].replace(/,/g, '')) !== steps || steps >= 2000) throw new Error(`stopped at ${m[1]}, status says ${steps}`);
    const asked = Number(await training.locator('#train-end').getAttribute('data-stop-asked-at'));
    if (!(steps - asked <= 1 && steps >= asked)) throw new Error(`Stop arrived after step ${asked} but the run stopped after step ${steps}`);
    console.log(`     Stop: asked after step ${asked}, stopped after step ${steps}; ended (evaluated, sampled, saved) ${Date.now() - clicked} ms after the click: ${path.relative(workspace, stoppedFile)} (${(fs.statSync(stoppedFile).size / 1024).toFixed(0)} KiB)`);
    const best = await training.locator('#train-best').innerText();
    if (!/keeps the best validation checkpoint: .*\.best\.safetensors/.test(best)) throw new Error(`best line: ${best}`);
  });

  if (training) await shoot(training, 'stopped-dark');

  for (const [theme, settingsTheme, selector] of [['light', 'Default Light Modern', '.monaco-workbench.vs:not(.vs-dark)'], ['hc', 'Default High Contrast', '.monaco-workbench.hc-black']]) {
    await check(`${theme} theme: the training panel follows (screenshots)`, async () => {
      writeSettings({ 'workbench.colorTheme': settingsTheme });
      await page.locator(selector).waitFor({ timeout: STEP_MS });
      await runCommand('LLM 101: Show Training');
      training = await frameWith('#training[data-run-id]');
      await page.waitForTimeout(800);
      const bg = await training.locator('body').evaluate((b) => getComputedStyle(b).backgroundColor);
      console.log(`     ${theme}: panel background ${bg}`);
      await shoot(training, theme);
    });
  }
  writeSettings({ 'workbench.colorTheme': 'Default Dark Modern' });
  await page.locator('.monaco-workbench.vs-dark').waitFor({ timeout: STEP_MS }).catch(() => {});

  await check('"Analyze with this model" shows the stopped run\'s checkpoint in the playground\'s model sections', async () => {
    await training.locator('#train-analyze').click();
    const playground = await frameWith('#app[data-state="ready"] .weights-note', 90_000);
    const note = playground.locator('.weights-note', { hasText: `${smallName}.safetensors` }).first();
    await note.waitFor({ timeout: 90_000 });
    const text = await note.innerText();
    if (!/Weights from .*\.safetensors/.test(text)) throw new Error(`model note: ${text}`);
  });

  await check('Train Model → Copying task: its own recipe (1 head a block) on the generated corpus; the timelapse scores each head on the 24-word probe; Stop ends it', async () => {
    const before = await training.locator('#training').getAttribute('data-run-id');
    await runCommand('LLM 101: Train Model');
    await pick('Copying task');
    await page.locator('.quick-input-widget .quick-input-title', { hasText: 'name the model' }).waitFor({ timeout: STEP_MS });
    const name = await page.locator('.quick-input-widget input').inputValue();
    if (name !== 'copying-task') throw new Error(`suggested name ${name}`);
    await page.keyboard.press('Enter');
    training = await frameWith(`#training[data-run-id]:not([data-run-id="${before}"])`, 60_000);
    const header = await training.locator('.run-header').innerText();
    if (!/the copying task \(generated\)/.test(header) || !/Copying task/.test(header)) throw new Error(`header: ${header}`);
    await training.locator('#timelapse-roles:not([hidden])').waitFor({ timeout: 120_000 });
    const model = await training.locator('#train-model').innerText();
    if (!/2 layers · dim 64 · 1 head · context 64/.test(model)) throw new Error(`model line: ${model}`);
    const rows = Number(await training.locator('#timelapse-map canvas').getAttribute('data-rows'));
    if (rows !== 24) throw new Error(`the probe map has ${rows} rows, not 24 (12 words written twice)`);
    await training.locator('#timelapse-layer button[data-value="1"]').click();
    const roles = await training.locator('#timelapse-roles').innerText();
    if (!/^Scores on the probe: previous-token \d\.\d\d .*; induction \d\.\d\d \(in the probe's second copy.*11 back\)\. At step \d+ /.test(roles)) throw new Error(`roles: ${roles}`);
    console.log(`     ${roles}`);
    await training.locator('#train-stop').click();
    await training.locator('#training[data-state="stopped"]').waitFor({ timeout: 60_000 });
  });
});
