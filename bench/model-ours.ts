// Our side of bench/model.mjs: benchModel (src/engine/gpt/bench.ts) on the seeded GPT-2-small-sized
// model in its own process, one JSON line out; each forward's last-row logits go to --logits as
// raw float32, one row per context length in order. Run from the repository root:
//   node --import tsx bench/model-ours.ts --seqs 128,1024 [--reps 3] [--prompt 128] [--new 32] [--seed 123] [--logits FILE]
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { benchModel } from '../src/engine/gpt/bench';

const { values } = parseArgs({
  options: {
    seqs: { type: 'string', default: '128,1024' },
    reps: { type: 'string', default: '3' },
    prompt: { type: 'string', default: '128' },
    new: { type: 'string', default: '32' },
    seed: { type: 'string', default: '123' },
    logits: { type: 'string' },
  },
});
const result = benchModel({
  seqs: values.seqs.split(',').map(Number),
  reps: Number(values.reps),
  promptTokens: Number(values.prompt),
  newTokens: Number(values.new),
  seed: Number(values.seed),
  keepLogits: values.logits !== undefined,
});
if (values.logits) {
  const rows = result.forward.map((f) => f.lastLogits!);
  fs.writeFileSync(values.logits, Buffer.concat(rows.map((row) => Buffer.from(row.buffer, row.byteOffset, row.byteLength))));
}
const forward = result.forward.map(({ lastLogits: _, ...timing }) => timing);
console.log(JSON.stringify({ ...result, forward }));
