// Times the panel at scale in the real workbench and reports the extension host's peak memory:
// for each size, a text of exactly N word tokens is selected, "Analyze Selection" run, and the
// time printed from Enter to the tokens section (painted before the stages are computed; when the
// panel is already open, also by the page's own clock: the frame after its last chip), to the
// painted panel, to the causal maps shown, and (over 256 tokens,
// where heads arrive when their section is shown) to the first and to every head map. Meanwhile the
// resident memory of every process in code-server's process group is sampled every 100 ms; the
// peaks are printed per process (engine.js is the engine process, extensionHost the extension
// host). Numbers are printed, never asserted: `npm test`'s e2e suite prints the default-size ones.
//
//   node scripts/panel-timings.mjs [--sizes 128,512,2048] [--settings '{"llm101.dim": 768, "llm101.heads": 12}']
// (seeded weights unless the settings name a llm101.weightsPath)
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { launchBrowser, startCodeServer, workbenchUrl } from './vscode-headless.mjs';
import { newestRunId, tokensPainted } from '../test/e2e/harness.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const EXTENSION_ID = 'llm101.llm101-playground';
const { values: args } = parseArgs({ options: { sizes: { type: 'string', default: '128,512,2048' }, settings: { type: 'string', default: '{}' } } });
const sizes = args.sizes.split(',').map(Number);
// seeded weights sized by the settings (the bundled default model reads a window of 256 tokens)
const settings = { 'llm101.weightsPath': 'seeded', ...JSON.parse(args.settings) };
const heads = settings['llm101.heads'] ?? 7;

// the same kind of text as the e2e suite: N words the word tokenizer takes as N known tokens
const WORDS = ['sea', 'light', 'page', 'tide', 'window', 'kitchen', 'word', 'night', 'the', 'a'];
const workspace = fs.mkdtempSync(path.join(process.env.TMPDIR ?? '/tmp', 'llm101-timings-'));
fs.cpSync(path.join(ROOT, 'samples'), workspace, { recursive: true });
for (const n of sizes) {
  const text = Array.from({ length: n }, (_, i) => WORDS[(i * 7 + (i >> 3)) % WORDS.length]).join(' ');
  fs.writeFileSync(path.join(workspace, `tokens-${n}.txt`), `${text}\n`);
}
fs.mkdirSync(path.join(workspace, '.vscode'));
fs.writeFileSync(path.join(workspace, '.vscode', 'settings.json'), JSON.stringify({ 'editor.minimap.enabled': false, ...settings }));

/** Peak resident MB of each process whose process group is `group`, keyed by pid. */
function sampler(group) {
  const peaks = new Map();
  const pageMb = 4096 / 2 ** 20;
  const sample = () => {
    for (const pid of fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
      try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from the 3rd on
        if (Number(fields[2]) !== group) continue; // pgrp
        const rssMb = Number(fields[21]) * pageMb;
        const known = peaks.get(pid);
        if (!known) {
          // VS Code's forked processes say what they are with --type=… (extensionHost, ptyHost, …)
          const command = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
          const kind = /--type=(\S+)/.exec(command)?.[1] ?? (command.split(' ')[1] ? path.basename(command.split(' ')[1]) : fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim());
          peaks.set(pid, { kind, peakMb: rssMb });
        } else if (rssMb > known.peakMb) known.peakMb = rssMb;
      } catch {
        // the process ended between the listing and the read
      }
    }
  };
  const timer = setInterval(sample, 100);
  return { peaks, stop: () => clearInterval(timer) };
}

/** The panel's document (the frame with #app), once the panel is open. */
async function appFrame(page) {
  for (const frame of page.frames()) {
    try {
      if (await frame.locator('#app').count()) return frame;
    } catch {
      // a frame going away
    }
  }
  return undefined;
}

const server = await startCodeServer();
const memory = sampler(server.pid);
const browser = await launchBrowser();
try {
  const page = await (await browser.newContext({ viewport: { width: 1600, height: 1000 } })).newPage();
  await page.goto(workbenchUrl(server, { folder: workspace, devPaths: [ROOT] }), { waitUntil: 'domcontentloaded' });
  const panel = page.frameLocator(`iframe.webview[src*="extensionId=${EXTENSION_ID}"]`).frameLocator('#active-frame');
  await page.locator('.explorer-folders-view .monaco-list-row').first().waitFor({ timeout: 90_000 });
  // n words are n tokens for the word tokenizer; BPE tokenizers (gpt2) also count the final newline
  const rowsOf = (n) => `:is([data-rows="${n}"], [data-rows="${n + 1}"])`;
  const seconds = (since) => `${((Date.now() - since) / 1000).toFixed(1)} s`;
  for (const n of sizes) {
    const file = `tokens-${n}.txt`;
    await page.locator('.explorer-folders-view .monaco-list-row', { hasText: file }).click();
    await page.locator('.tabs-container .tab', { hasText: file }).waitFor({ timeout: 30_000 });
    await page.locator('.monaco-editor .view-line').first().click();
    await page.keyboard.press('Control+A');
    await page.waitForTimeout(1500); // the status bar's token count settles
    await page.keyboard.press('F1');
    await page.locator('.quick-input-widget input').waitFor({ timeout: 30_000 });
    await page.keyboard.type('LLM 101: Analyze Selection');
    await page.locator('.quick-input-widget .monaco-list-row.focused', { hasText: 'Analyze Selection' }).waitFor({ timeout: 30_000 });
    const before = await newestRunId(panel);
    // Polling the panel from here takes round trips into its frame that a busy machine delays by
    // seconds, so the page also notes when the last chip was added and the frame after (when the
    // panel is already open: the first run opens it)
    const app = await appFrame(page);
    await app?.evaluate((n) => {
      delete window.llm101TokensPaintedAt;
      const observer = new MutationObserver(() => {
        if (!document.querySelector(`#tokens .chip[data-index="${n - 1}"]`)) return;
        observer.disconnect();
        requestAnimationFrame(() => (window.llm101TokensPaintedAt = Date.now()));
      });
      observer.observe(document.body, { childList: true, subtree: true });
    }, n);
    const started = Date.now();
    await page.keyboard.press('Enter');
    const { alone } = await tokensPainted(page, panel, before, n, 600_000);
    const inPage = await app?.evaluate(() => window.llm101TokensPaintedAt).catch(() => undefined);
    const first = `${seconds(started)}${inPage ? ` (${((inPage - started) / 1000).toFixed(2)} s by the page's clock)` : ''}${alone ? '' : ' (with the whole trace)'}`;
    try {
      await panel.locator(`canvas[data-name="layerNorm.output"]${rowsOf(n)}`).waitFor({ timeout: 600_000 });
    } catch (err) {
      // show what the panel shows instead (an error message, say) before giving up
      fs.mkdirSync(path.join(ROOT, 'test-results'), { recursive: true });
      await page.screenshot({ path: path.join(ROOT, 'test-results', `timings-${n}-failed.png`) });
      console.log(`${n} tokens: no painted panel: ${(await panel.locator('body').innerText().catch(() => '')).slice(0, 500)}`);
      throw err;
    }
    await panel.locator('#app[data-state="ready"]').waitFor({ timeout: 60_000 });
    const painted = seconds(started);
    await panel.locator('#attention-causal').scrollIntoViewIfNeeded();
    await panel.locator(`canvas[data-name="causal.weights"]${rowsOf(n)}`).waitFor({ timeout: 600_000 });
    const causal = seconds(started);
    let headTimes = '';
    if (n > 256) {
      await panel.locator('#attention-heads').scrollIntoViewIfNeeded();
      const shown = panel.locator(`#head-grid canvas${rowsOf(n)}`);
      await shown.first().waitFor({ timeout: 600_000 });
      const firstHead = seconds(started);
      const deadline = Date.now() + Number(process.env.LLM101_HEADS_WAIT_MS ?? 600_000);
      while ((await shown.count()) < heads && Date.now() < deadline) {
        await panel.locator('#head-grid figure').last().scrollIntoViewIfNeeded({ timeout: 2000 }).catch(() => {});
        await page.waitForTimeout(100);
      }
      const missing = await panel.locator('#head-grid figure.pending[data-group]').evaluateAll((els) => els.map((e) => `${e.dataset.group}${e.dataset.requested ? ' (asked)' : ''}`));
      if (missing.length) console.log(`${n} tokens: heads never shown: ${missing.join(', ')}`);
      headTimes = `, first head map ${firstHead}, all ${await shown.count()} of ${heads} ${seconds(started)}`;
    }
    // the model's layer × head grid: asked for when #blocks is shown, recomputed from the residual stream
    let blocks = '';
    if (await panel.locator('#blocks').count()) {
      await panel.locator('#blocks').scrollIntoViewIfNeeded();
      const shownAt = Date.now();
      await panel.locator('#block-grid').waitFor({ timeout: 600_000 });
      blocks = `, layer × head grid ${((Date.now() - shownAt) / 1000).toFixed(1)} s after #blocks was shown`;
    }
    console.log(`${n} tokens: tokens section ${first}, panel painted ${painted}, causal maps ${causal}${headTimes}${blocks}`);
  }
} finally {
  memory.stop();
  await browser.close().catch(() => {});
  await server.stop();
  fs.rmSync(workspace, { recursive: true, force: true });
}
const top = [...memory.peaks.values()].sort((a, b) => b.peakMb - a.peakMb).slice(0, 3);
console.log(`settings ${JSON.stringify(settings)}; peak resident memory in code-server's processes:`);
for (const { kind, peakMb } of top) console.log(`  ${peakMb.toFixed(0).padStart(6)} MB  ${kind}`);
