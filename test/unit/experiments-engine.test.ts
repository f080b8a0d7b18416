// The experiments through the engine process as the extension host drives them (EngineClient
// forking dist/engine.js): torch's numbers on a kept trace, progress from the scan, Cancel that
// stops patching without ending the process, and a bad query answered with the fix.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { CancelledError, DEFAULT_CONFIG, EngineError } from '../../src/engine/config';
import { EngineClient } from '../../src/host/engineClient';
import { assertClose } from './assertClose';
import { EXPERIMENT_FIXTURES, type ExperimentCase } from './experiments-fixtures';
import { readJson } from './gpt-fixtures';

const root = path.resolve(__dirname, '..', '..');
const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'llm101-experiments-engine-'));
const engine = new EngineClient(path.join(root, 'dist'), cache);
after(() => {
  engine.dispose();
  fs.rmSync(cache, { recursive: true, force: true });
});
const fixture = readJson<ExperimentCase>(path.join(EXPERIMENT_FIXTURES, 'case.json'));

/** A trace of `text` on the fixture's model, or (`seeded`) on a seeded model of the same tokenizer with `seeded`'s sizes (4 heads either way). */
async function analyzed(text: string, seeded?: { dim: number; layers: number }): Promise<number> {
  const reply = await engine.analyze({
    ...DEFAULT_CONFIG, text, heads: 4, tokenizer: 'bpe', bpeVocabSize: 256, tokenizerExplicit: true, corpusPath: path.join(root, 'media', 'corpus'),
    ...(seeded ?? { weightsPath: path.join(EXPERIMENT_FIXTURES, 'model') }),
  });
  assert.equal(reply.kind, 'trace');
  return reply.kind === 'trace' ? reply.traceId : -1;
}

test('the engine process answers the scan with progress, and the lens, on the kept trace', async () => {
  assert.ok(fs.existsSync(path.join(root, 'dist', 'engine.js')), 'dist/engine.js is built (node esbuild.mjs)');
  const traceId = await analyzed(fixture.text);
  const progress: number[] = [];
  const scan = await engine.experiment(traceId, { kind: 'scan', mode: 'mean' }, (done, total) => progress.push(done / total));
  assert.ok(scan.kind === 'scan');
  assertClose(scan.grid, fixture.scan.mean, { atol: 1e-4, label: 'scan through the engine process' });
  assert.equal(progress.length, 12);
  const lens = await engine.experiment(traceId, { kind: 'lens' });
  assert.ok(lens.kind === 'lens');
  assert.deepEqual(lens.view.top.at(-1)!.at(-1)!.map((c) => c.id), fixture.lens.top.at(-1)!.at(-1)!.map((c) => c.id));
});

test('Cancel stops patching at its next run and the process goes on; a head that does not exist is answered with the fix', async () => {
  const { cleanText, corruptText, answer, wrong } = fixture.patching;
  // the cancelled one on a seeded model big enough (4 blocks of dim 256, the fixture's text twelve
  // times) that its runs go on after the first progress: on the fixture's tiny model all of them
  // could end before the cancel reached the engine process
  const long = await analyzed(Array(12).fill(cleanText).join(' '), { dim: 256, layers: 4 });
  let cancelled = false;
  const corruptLong = [...Array(11).fill(cleanText), corruptText].join(' ');
  const patching = engine.experiment(long, { kind: 'patch', corrupt: corruptLong, answer, wrong }, () => {
    if (!cancelled) engine.cancelExperiment();
    cancelled = true;
  });
  await assert.rejects(patching, CancelledError);
  const traceId = await analyzed(cleanText);
  await assert.rejects(engine.experiment(traceId, { kind: 'ablate', heads: [{ layer: 0, head: 4 }], mode: 'zero', position: 0 }),
    (err: Error) => err instanceof EngineError && err.message === 'head 5 does not exist: each layer has heads 1 to 4');
  const done = await engine.experiment(traceId, { kind: 'patch', corrupt: corruptText, answer, wrong });
  assert.ok(done.kind === 'patch');
  assertClose(done.view.grid, fixture.patching.grid, { atol: 1e-4, label: 'patching after a cancelled one' });
});
