// The pipeline the extension's worker runs: settings + text -> trace, its caches and limits.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Analyzer, type AnalyzeRequest, type TraceStart } from '../../src/engine/pipeline';
import { blockTraceConfig } from '../../src/engine/trace';
import { LAZY_ABOVE, cellWindow, panelGroup, panelStart, toPanelTrace, tooltipCodes } from '../../src/worker/panelTrace';
import { bpeCacheKey, clearBpeCache } from '../../src/engine/tokenizer';
import { DEFAULT_CONFIG } from '../../src/engine/config';
import { parseHostMessage } from '../../src/shared/protocol';
import { CODE_DROPPED, CODE_MASKED, codeAt, isMapCodes } from '../../src/shared/codes';

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'llm101-pipeline-'));
const corpusPath = path.join(scratch, 'corpus.txt');
fs.writeFileSync(corpusPath, 'the sea and the tide and the sea again\n'.repeat(20));

const request = (text: string, extra: Partial<AnalyzeRequest> = {}): AnalyzeRequest => ({
  ...DEFAULT_CONFIG, text, corpusPath, bpeVocabSize: 300, ...extra,
});

test('a trace for the text with the settings given, unknown words counted', () => {
  const result = new Analyzer().analyze(request('the sea and the moon', { heads: 4 }));
  assert.equal(result.kind, 'trace');
  if (result.kind !== 'trace') return;
  assert.equal(result.trace.tokens.length, 5);
  assert.equal(result.trace.multiHead.heads.length, 4);
  assert.equal(result.unknownCount, 1, '"moon" is not in the corpus');
});

test('more tokens than maxTokens: a message and the offset where the first maxTokens end', () => {
  const text = 'the sea and the tide and the sea';
  const result = new Analyzer().analyze(request(text, { maxTokens: 3 }));
  assert.equal(result.kind, 'tooManyTokens');
  if (result.kind !== 'tooManyTokens') return;
  assert.equal(result.count, 8);
  assert.equal(text.slice(0, result.cutAt), 'the sea and');
  assert.match(result.message, /8 tokens, more than the 3 analyzed without asking/);
});

test('trained BPE models are kept on disk and loaded instead of trained again', () => {
  const cacheDir = path.join(scratch, 'bpe-cache');
  const first = new Analyzer(cacheDir).tokenize({ text: 'the sea', tokenizer: 'bpe', bpeVocabSize: 300, corpusPath });
  const files = fs.readdirSync(cacheDir);
  assert.equal(files.length, 1, 'one model file written');
  // Replace the stored model with one that has no merges: a loaded model must show it.
  const corpus = fs.readFileSync(corpusPath, 'utf8');
  const file = path.join(cacheDir, `bpe-${bpeCacheKey(corpus, 300).slice(0, 32)}.json`);
  assert.ok(fs.existsSync(file));
  const stored = JSON.parse(fs.readFileSync(file, 'utf8'));
  fs.writeFileSync(file, JSON.stringify({ ...stored, merges: [] }));
  clearBpeCache();
  const second = new Analyzer(cacheDir).tokenize({ text: 'the sea', tokenizer: 'bpe', bpeVocabSize: 300, corpusPath });
  assert.ok(first.tokens.length < 7, `trained model merges: ${first.tokens.length} tokens`);
  assert.equal(second.tokens.length, 7, 'bytes only: the model came from the file');
  fs.writeFileSync(file, '{ not json');
  clearBpeCache();
  const third = new Analyzer(cacheDir).tokenize({ text: 'the sea', tokenizer: 'bpe', bpeVocabSize: 300, corpusPath });
  assert.deepEqual(third.tokens.map((t) => t.id), first.tokens.map((t) => t.id), 'a broken file means training again');
});

/** An analysis with its progress and its start in the order they came ('start' where onStart was called). */
function analyzeInOrder(analyzer: Analyzer, req: AnalyzeRequest) {
  const order: string[] = [];
  let start: TraceStart | undefined;
  const result = analyzer.analyze(req, {
    onProgress: (stage) => order.push(stage),
    onStart: (s) => {
      start = s;
      order.push('start');
    },
  });
  if (result.kind !== 'trace' || !start) return assert.fail(`no start: ${result.kind}`);
  return { result, start, order: order.slice(order.indexOf('start')) };
}

test('the tokens come first: onStart before any stage, with the trace\'s tokens and config; its message validates', () => {
  const text = 'the sea reads the shore';
  const { result, start, order } = analyzeInOrder(new Analyzer(), request(text, { heads: 2, dim: 8 }));
  // a new analyzer draws the seeded weights, after the tokens have gone out
  assert.deepEqual(order, ['start', 'drawing the seeded weights', 'tokens', 'embeddings', 'simple', 'selfAttention', 'causal', 'multiHead', 'layerNorm']);
  assert.deepEqual(start.tokens, result.trace.tokens);
  assert.deepEqual(start.config, result.trace.config);
  assert.equal(start.unknownCount, result.unknownCount);
  const panel = toPanelTrace(result);
  const first = panelStart(start);
  for (const key of Object.keys(first) as (keyof typeof first)[]) assert.deepEqual(first[key], panel[key], `${key}: as the trace that follows has it`);
  assert.ok(parseHostMessage({ type: 'traceStart', runId: 1, title: 't', source: text, start: first }));
  assert.equal(parseHostMessage({ type: 'traceStart', runId: 1, title: 't', source: text, start: { ...first, tokens: 'x' } }), undefined);
});

test('the tokens go out before seeded weights are drawn, with the config the trace then has; a cached model draws nothing', () => {
  const analyzer = new Analyzer();
  const sizes = { heads: 4, dim: 32, layers: 3 };
  const { result, start, order } = analyzeInOrder(analyzer, request('the sea reads the shore', sizes));
  assert.deepEqual(start.config, result.trace.config);
  assert.deepEqual(blockTraceConfig(analyzer.model(request('x', sizes)).config, { tokenizer: 'word', dropout: start.config.dropout, seed: start.config.seed }), start.config);
  assert.deepEqual(order.slice(0, 3), ['start', 'drawing the seeded weights', 'tokens'], order.join(', '));
  assert.deepEqual(analyzeInOrder(analyzer, request('the shore reads the sea', sizes)).order.slice(0, 2), ['start', 'tokens']);
  // settings that cannot work get no start
  let started = false;
  assert.throws(() => analyzer.analyze(request('sea', { heads: 3, dim: 32 }), { onStart: () => (started = true) }), /heads \(3\) must divide/);
  assert.equal(started, false);
});

test('long texts: the panel trace leaves T×T stages to be requested, maps as display codes', () => {
  const text = Array.from({ length: LAZY_ABOVE + 1 }, () => 'sea').join(' ');
  const result = new Analyzer().analyze(request(text, { heads: 2, dim: 8 }));
  assert.equal(result.kind, 'trace');
  if (result.kind !== 'trace') return;
  const panel = toPanelTrace(result);
  assert.equal(panel.embeddings.token, null, 'the token and position maps come when their toggle is picked');
  assert.equal(panel.embeddings.position, null);
  const sent = panelGroup(result.trace, 'embeddings');
  assert.ok(sent?.group === 'embeddings' && isMapCodes(sent.data.token) && isMapCodes(sent.data.position));
  assert.deepEqual([sent.data.token.rows, sent.data.token.cols], [result.trace.tokens.length, 8]);
  assert.equal(parseHostMessage({ type: 'group', runId: 1, ...sent })?.type, 'group');
  assert.equal(panel.simple, null);
  assert.equal(panel.causal, null);
  assert.deepEqual(panel.multiHead.heads, [null, null]);
  const coded = toPanelTrace(result, { mapsAsCodes: true });
  assert.ok(isMapCodes(coded.layerNorm.output), 'the panel gets (T, d) maps as codes');
  assert.deepEqual([coded.multiHead.concat, coded.multiHead.output], [null, null], "the panel's concat and output come when shown");
  assert.ok(panel.multiHead.concat && 'data' in panel.multiHead.concat, 'the report keeps them');
  const outGroup = panelGroup(result.trace, 'multiHeadOut');
  assert.ok(outGroup?.group === 'multiHeadOut' && isMapCodes(outGroup.data.concat) && isMapCodes(outGroup.data.output));
  assert.deepEqual([outGroup.data.output.rows, outGroup.data.output.cols], [result.trace.tokens.length, 8]);
  assert.ok(parseHostMessage({ type: 'group', runId: 1, ...outGroup }), 'its message validates');
  assert.ok(parseHostMessage({ type: 'trace', runId: 1, title: 't', source: text, trace: coded, elapsedMs: 1 }), 'and its validator takes them');
  assert.ok(panel.layerNorm.output && 'data' in panel.layerNorm.output, 'the report keeps them exact');
  const causalGroup = panelGroup(result.trace, 'causal');
  assert.equal(causalGroup?.group, 'causal');
  const causal = causalGroup?.data as Record<string, unknown>;
  assert.ok(isMapCodes(causal.weights) && causal.weights.lower);
  assert.equal(causal.maskedScores, undefined, 'scores stay on the host (asked per cell)');
  assert.ok(parseHostMessage({ type: 'group', runId: 1, ...causalGroup }));
  const headGroup = panelGroup(result.trace, 'head:1');
  assert.equal(headGroup?.group, 'head:1');
  const head = headGroup?.data as Record<string, unknown>;
  assert.deepEqual(Object.keys(head), ['droppedWeights']);
  // Every cell dropout zeroed is marked, and only those.
  const { weights, droppedWeights } = result.trace.multiHead.heads[1]!;
  const T = weights.rows;
  let dropped = 0;
  for (let r = 0; r < T; r++) {
    for (let c = 0; c <= r; c++) {
      const zeroed = weights.data[r * T + c]! > 0 && droppedWeights.data[r * T + c] === 0;
      if (zeroed) dropped++;
      assert.equal(codeAt(head.droppedWeights as never, r, c) === CODE_DROPPED, zeroed, `(${r}, ${c})`);
    }
  }
  assert.ok(dropped > 0, 'dropout 0.4 zeroes some weights');
  assert.equal(panelGroup(result.trace, 'head:2'), undefined);
  // What the report embeds for the tooltips the host would answer: every map they read beyond the group.
  assert.deepEqual(Object.keys(tooltipCodes(result.trace, 'causal')), ['causal.maskedScores']);
  const tips = tooltipCodes(result.trace, 'head:1');
  assert.deepEqual(Object.keys(tips), ['multiHead.heads.1.scores', 'multiHead.heads.1.weights']);
  const tipScores = tips['multiHead.heads.1.scores']!;
  assert.ok(isMapCodes(tipScores) && tipScores.lower && tipScores.scale.kind === 'diverging');
  assert.equal(codeAt(tipScores, 0, 1), CODE_MASKED);
  assert.equal(tips['multiHead.heads.1.weights']!.scale.kind, 'log', 'on the scale the weights are drawn with');
  assert.deepEqual(tooltipCodes(result.trace, 'simple'), {}, 'its group has every map its tooltip reads');
  assert.deepEqual(tooltipCodes(result.trace, 'head:2'), {});
  const short = new Analyzer().analyze(request('the sea'));
  assert.ok(short.kind === 'trace' && toPanelTrace(short).causal !== null);
});

test('cellWindow: exact values of a window of several matrices, clipped at the edges', () => {
  const result = new Analyzer().analyze(request('the sea and the tide and the sea again', { heads: 2, dim: 8 }));
  assert.ok(result.kind === 'trace');
  if (result.kind !== 'trace') return;
  const { trace } = result;
  const T = trace.tokens.length;
  const window = cellWindow(trace, ['causal.maskedScores', 'multiHead.heads.1.weights'], 2, 3, 32, 32);
  assert.ok(window);
  assert.deepEqual([window.r0, window.c0, window.rows, window.cols], [2, 3, T - 2, T - 3]);
  const [scores, weights] = window.values;
  assert.equal(scores![0], trace.causal.maskedScores.data[2 * T + 3], '-Infinity above the diagonal comes back as is');
  assert.equal(weights![window.cols + 1], trace.multiHead.heads[1]!.weights.data[3 * T + 4]);
  assert.equal(cellWindow(trace, ['causal.nothing'], 0, 0, 4, 4), undefined, 'no such matrix');
  assert.equal(cellWindow(trace, ['causal.weights', 'causal.context'], 0, 0, 4, 4), undefined, 'shapes differ');
  assert.equal(cellWindow(trace, ['causal.weights'], T, 0, 4, 4), undefined, 'outside');
});

test('editing one poem inside a corpus folder changes the vocabulary (the cache is keyed on the files)', () => {
  const folder = fs.mkdtempSync(path.join(scratch, 'poems-'));
  const poem = path.join(folder, 'a.txt');
  fs.writeFileSync(poem, 'the sea and the tide');
  fs.writeFileSync(path.join(folder, 'b.txt'), 'a lamp in the window');
  const analyzer = new Analyzer();
  const before = analyzer.analyze(request('the moon', { corpusPath: folder }));
  assert.ok(before.kind === 'trace' && before.unknownCount === 1, '"moon" is unknown at first');
  // the folder's own modification time is set back: only the file inside changed
  const folderTime = fs.statSync(folder).mtime;
  fs.writeFileSync(poem, 'the sea and the tide and the moon');
  fs.utimesSync(folder, folderTime, folderTime);
  const after = analyzer.analyze(request('the moon', { corpusPath: folder }));
  assert.ok(after.kind === 'trace');
  assert.equal(after.unknownCount, 0, 'the edited poem is read again');
  assert.equal(after.trace.config.vocabSize, before.trace.config.vocabSize + 1);
});

test('the word tokenizer builds its vocabulary without the BPE size or BPE progress', () => {
  const stages: string[] = [];
  const onProgress = (stage: string) => stages.push(stage);
  const analyzer = new Analyzer();
  const first = analyzer.analyze(request('the sea', { bpeVocabSize: 300 }), { onProgress });
  assert.ok(stages.includes('building the vocabulary'));
  assert.ok(!stages.some((s) => s.includes('BPE')), stages.join(', '));
  stages.length = 0;
  // another BPE size changes nothing for the word tokenizer: no rebuild
  const second = analyzer.analyze(request('the sea', { bpeVocabSize: 4000 }), { onProgress });
  assert.ok(!stages.includes('building the vocabulary'), stages.join(', '));
  assert.ok(first.kind === 'trace' && second.kind === 'trace' && first.trace.config.vocabSize === second.trace.config.vocabSize);
});

test('settings are checked before any work: a bad value never trains a tokenizer', () => {
  const stages: string[] = [];
  assert.throws(() => new Analyzer().analyze(request('the sea', { tokenizer: 'bpe', heads: 5 }), { onProgress: (s) => stages.push(s) }), /heads \(5\) must divide dim \(28\)/);
  assert.deepEqual(stages, []);
});
