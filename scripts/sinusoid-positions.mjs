// Rewrites a checkpoint's position embeddings (pos_emb.weight, (context, dim)) as the sinusoids of
// Vaswani et al. (2017), section 3.5: PE[p, 2i] = sin(p / 10000^(2i/dim)), PE[p, 2i+1] = cos(same).
// Why: with these, "the position one step back" is the same linear map (a rotation per pair of
// columns) at every position, so a previous-token head can form at once for all 256 positions;
// from random N(0, 1) rows each position's relation to its neighbour is learned separately, and
// on the copying corpus the loss then sits at ln 100 for thousands of steps longer. The rows stay
// trainable: this is only where they start.
//   node scripts/sinusoid-positions.mjs IN.safetensors OUT.safetensors
import * as fs from 'node:fs';

export function sinusoidPositions(inFile, outFile) {
  const bytes = fs.readFileSync(inFile);
  const headerBytes = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + headerBytes).toString('utf8'));
  const entry = header['pos_emb.weight'];
  if (!entry || entry.dtype !== 'F32') throw new Error(`${inFile} has no F32 pos_emb.weight (the book's GPTModel names)`);
  const [context, dim] = entry.shape;
  const start = 8 + headerBytes + entry.data_offsets[0];
  for (let p = 0; p < context; p++) {
    for (let c = 0; c < dim; c++) {
      const angle = p / 10000 ** ((2 * Math.floor(c / 2)) / dim);
      bytes.writeFloatLE(c % 2 === 0 ? Math.sin(angle) : Math.cos(angle), start + 4 * (p * dim + c));
    }
  }
  fs.writeFileSync(outFile, bytes);
  return { context, dim };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [inFile, outFile] = process.argv.slice(2);
  if (!inFile || !outFile) {
    console.error('usage: node scripts/sinusoid-positions.mjs IN.safetensors OUT.safetensors');
    process.exit(2);
  }
  const { context, dim } = sinusoidPositions(inFile, outFile);
  console.log(`${outFile}: pos_emb.weight (${context}, ${dim}) as sinusoids`);
}
