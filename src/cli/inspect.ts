// `llm101 inspect`: the experiments of the panel (logit lens, head scores, ablation, direct logit
// attribution, activation patching) on one text, as JSON for scripts and tests.
import { DEFAULT_CONFIG } from '../engine/config';
import { ABLATION_MODES, ablate, type AblationMode, type AblationResult, type HeadRef } from '../engine/experiments/ablation';
import { attribute, type Attribution } from '../engine/experiments/attribution';
import { headScores, inductionProbe, type HeadScore } from '../engine/experiments/headScores';
import { logitLens } from '../engine/experiments/lens';
import { activationPatching, type Patching } from '../engine/experiments/patching';
import { checkPosition, oneTokenId, runWithCache } from '../engine/experiments/run';
import { packGptWeights, type PackedGpt } from '../engine/layers/gptModel';
import { UsageError, optionalInteger, type Values } from './args';
import { modelRequest } from './analyze';
import { type Command, COMMON_OPTIONS, INPUT_HELP, INPUT_OPTIONS, MODEL_HELP, MODEL_OPTIONS, TOKENIZER_HELP, TOKENIZER_OPTIONS, readInput } from './command';
import { show } from './format';

/** Probe length when neither --probe-ids nor --probe-length is given: 2 × 20 tokens. */
const DEFAULT_PROBE_LENGTH = 20;

export const inspect: Command = {
  summary: 'ask the GPT why: logit lens, head roles, ablation, attribution, patching (JSON)',
  usage: 'llm101 inspect (--text STR | --file PATH | -) (--weights FILE|DIR | --layers N ...) [--lens] [--head-scores] [--ablate L.H,...] [--attribute TOKEN] [--corrupt TEXT --answer TOKEN --wrong TOKEN] [--position P] [--json]',
  help: [
    ...INPUT_HELP,
    ...TOKENIZER_HELP,
    ...MODEL_HELP,
    '  --position P          the position (0-based) ablation and attribution look at (default: the last token)',
    '  --lens                "lens": [layers+1][T] of the top 5 [{id, text, p}] of softmax(W_out·LN_f(x_l));',
    '                        row 0 reads the embeddings, the last row is the model\'s output',
    '  --head-scores         "headScores": [L][H] {previousToken, firstToken, selfToken, induction}; induction',
    '                        on N random ids repeated twice',
    `  --probe-ids a,b,...   the probe's first copy as token ids; or --probe-length N (default ${DEFAULT_PROBE_LENGTH})`,
    '  --probe-length N      ids drawn as torch.randint(0, vocab, (N,)) after manual_seed(--seed)',
    '  --ablate L.H[,L.H...] knock heads out (layer.head, counted from 1): "ablation": {position, before, after',
    '                        (top 10 [{id, p}]), kl (KL(before || after) at the position), lossBefore, lossAfter}',
    `  --ablation MODE       ${ABLATION_MODES.join(' | ')}: a head's output set to 0, or to its mean over the text (default zero)`,
    '  --attribute TOKEN     "attribution" of that one token\'s logit at the position: {position, id, logit,',
    '                        embed, heads [L][H], attnBias [L], mlps [L], finalNormBias}; or --attribute-id ID',
    '  --corrupt TEXT        activation patching: a text of the same token count; with --answer and --wrong',
    '                        (one token each): "patching": {clean, corrupt, grid [L][T]}, m = logit(answer) −',
    '                        logit(wrong) at the last position, grid = (m_patched − m_corrupt) / (m_clean − m_corrupt)',
    '  --json                print the JSON (without it: a summary, the top of each list)',
  ],
  options: {
    ...INPUT_OPTIONS,
    ...TOKENIZER_OPTIONS,
    ...MODEL_OPTIONS,
    position: { type: 'string' },
    lens: { type: 'boolean' },
    'head-scores': { type: 'boolean' },
    'probe-ids': { type: 'string' },
    'probe-length': { type: 'string' },
    ablate: { type: 'string' },
    ablation: { type: 'string' },
    attribute: { type: 'string' },
    'attribute-id': { type: 'string' },
    corrupt: { type: 'string' },
    answer: { type: 'string' },
    wrong: { type: 'string' },
    ...COMMON_OPTIONS,
  },
  async run(values, io, positionals) {
    const asked = checkFlags(values);
    const ablated = typeof values.ablate === 'string' ? parseHeads(values.ablate) : undefined;
    const text = await readInput(values, io, positionals, 'inspect');
    const { request, analyzer } = modelRequest(values, text);
    const model = analyzer.model(request);
    const tokenizer = analyzer.tokenizer(request);
    const ids = tokenizer.encode(text).map((t) => t.id);
    if (ids.length === 0) throw new UsageError(`the ${tokenizer.kind} tokenizer finds no tokens in the text; give it some words`);
    const position = optionalInteger(values, 'position') ?? ids.length - 1;
    checkPosition(position, ids.length);
    const tokenText = (id: number) => tokenizer.decode([id]);

    let packed: PackedGpt | undefined;
    try {
      packed = packGptWeights(model);
    } catch {
      packed = undefined; // the kernel's memory is too small for a packed copy: the same numbers, unpacked
    }
    try {
      const cache = runWithCache(model, ids, { z: true, patterns: asked.headScores, outputs: asked.attribution }, { ...(packed && { packed }) });
      const found: Inspection = { tokens: ids.map((id) => ({ id, text: tokenText(id) })), position };
      if (asked.lens) {
        found.lens = logitLens(model, cache, { ...(packed && { packed }) }).top.map((row) => row.map((cell) => cell.map(({ id, p }) => ({ id, text: tokenText(id), p }))));
      }
      if (asked.headScores) found.headScores = headScores(model, cache, probeIds(values, model.config.vocabSize), packed);
      if (ablated) {
        const mode = (values.ablation ?? 'zero') as string;
        if (!(ABLATION_MODES as readonly string[]).includes(mode)) throw new UsageError(`--ablation takes ${ABLATION_MODES.join(' or ')}, got ${show(mode)}`);
        found.ablation = { ...ablate(model, cache, ablated, mode as AblationMode, position, packed), heads: ablated, mode: mode as AblationMode };
      }
      if (asked.attribution) {
        const id = optionalInteger(values, 'attribute-id') ?? oneTokenId(tokenizer, values.attribute as string, '--attribute');
        found.attribution = attribute(model, cache, position, id);
      }
      if (typeof values.corrupt === 'string') {
        const corruptIds = tokenizer.encode(values.corrupt).map((t) => t.id);
        const answer = oneTokenId(tokenizer, values.answer as string, '--answer');
        const wrong = oneTokenId(tokenizer, values.wrong as string, '--wrong');
        found.patching = activationPatching(model, ids, corruptIds, answer, wrong, { ...(packed && { packed }) });
      }
      if (values.json) {
        const { position: _position, ...json } = found;
        if (json.ablation) {
          const { heads: _heads, mode: _mode, ...ablation } = json.ablation;
          io.stdout.write(`${JSON.stringify({ ...json, ablation })}\n`);
        } else {
          io.stdout.write(`${JSON.stringify(json)}\n`);
        }
      } else {
        io.stdout.write(summary(found, tokenText));
      }
    } finally {
      packed?.release();
    }
  },
};

/** Which experiments the flags ask for; a UsageError for none, or a flag without its partner. */
function checkFlags(values: Values): { lens: boolean; headScores: boolean; attribution: boolean } {
  const attribution = values.attribute !== undefined || values['attribute-id'] !== undefined;
  if (values.attribute !== undefined && values['attribute-id'] !== undefined) throw new UsageError('give --attribute TOKEN or --attribute-id ID, not both');
  const patching = values.corrupt !== undefined;
  if (patching !== (values.answer !== undefined) || patching !== (values.wrong !== undefined)) {
    throw new UsageError('activation patching needs all three of --corrupt TEXT, --answer TOKEN and --wrong TOKEN');
  }
  const headScores = values['head-scores'] === true;
  if (!headScores && (values['probe-ids'] !== undefined || values['probe-length'] !== undefined)) throw new UsageError('--probe-ids and --probe-length set the induction probe of --head-scores; add --head-scores');
  if (values['probe-ids'] !== undefined && values['probe-length'] !== undefined) throw new UsageError('give --probe-ids or --probe-length, not both');
  if (values.ablation !== undefined && values.ablate === undefined) throw new UsageError('--ablation chooses how --ablate knocks heads out; add --ablate L.H');
  const lens = values.lens === true;
  if (!lens && !headScores && !attribution && !patching && values.ablate === undefined) {
    throw new UsageError('choose what to inspect: --lens, --head-scores, --ablate L.H, --attribute TOKEN or --corrupt TEXT --answer A --wrong B (run "llm101 inspect --help")');
  }
  return { lens, headScores, attribution };
}

/** "1.3,2.1" (1-based, as the panel labels heads) -> [{layer 0, head 2}, {layer 1, head 0}]. */
function parseHeads(raw: string): HeadRef[] {
  return raw.split(',').map((part) => {
    const match = /^\s*(\d+)\.(\d+)\s*$/.exec(part);
    if (!match || Number(match[1]) < 1 || Number(match[2]) < 1) {
      throw new UsageError(`--ablate takes layer.head pairs counted from 1, e.g. --ablate 1.3,2.1; got ${show(part)}`);
    }
    return { layer: Number(match[1]) - 1, head: Number(match[2]) - 1 };
  });
}

function probeIds(values: Values, vocabSize: number): number[] {
  if (typeof values['probe-ids'] === 'string') {
    const half = values['probe-ids'].split(',').map((part) => {
      const id = Number(part);
      if (part.trim() === '' || !Number.isSafeInteger(id) || id < 0 || id >= vocabSize) {
        throw new UsageError(`--probe-ids takes token ids 0 to ${vocabSize - 1} separated by commas, got ${show(part)}`);
      }
      return id;
    });
    if (half.length < 2) throw new UsageError('--probe-ids needs at least 2 ids (the probe repeats them once)');
    return [...half, ...half];
  }
  return inductionProbe(optionalInteger(values, 'probe-length') ?? DEFAULT_PROBE_LENGTH, optionalInteger(values, 'seed') ?? DEFAULT_CONFIG.seed, vocabSize);
}

interface Inspection {
  tokens: { id: number; text: string }[];
  position: number;
  lens?: { id: number; text: string; p: number }[][][];
  headScores?: HeadScore[][];
  ablation?: AblationResult & { heads: HeadRef[]; mode: AblationMode };
  attribution?: Attribution;
  patching?: Patching;
}

const fixed = (x: number | null, digits = 3) => (x === null ? '–' : x.toFixed(digits));
const signed = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(3)}`;

/** What --json prints, as lines a person reads: the top of each list and what the numbers mean. */
function summary(found: Inspection, tokenText: (id: number) => string): string {
  const { tokens, position } = found;
  const at = `position ${position} ${show(tokens[position]!.text)}`;
  const lines = [`${tokens.length} tokens; ${at} is the one the lens, ablation and attribution look at (--position)`];
  if (found.lens) {
    lines.push('', `Logit lens at ${at}: the top next token if the stream stopped there (softmax(W_out · LN_f(x_l)))`);
    found.lens.forEach((row, l) => {
      const cell = row[position]!;
      const name = l === 0 ? 'embeddings' : l === found.lens!.length - 1 ? `after block ${l} (output)` : `after block ${l}`;
      lines.push(`  ${name.padEnd(26)} ${cell.slice(0, 3).map((c) => `${show(c.text)} ${c.p.toFixed(3)}`).join('   ')}`);
    });
  }
  if (found.headScores) {
    lines.push('', 'Head scores (mean attention: to the previous token, to the first, to itself, and induction on a repeated probe)', '  head   previous  first    self   induction');
    found.headScores.forEach((row, l) => row.forEach((score, h) => {
      lines.push(`  ${`${l + 1}.${h + 1}`.padEnd(6)} ${fixed(score.previousToken).padStart(8)} ${fixed(score.firstToken).padStart(7)} ${fixed(score.selfToken).padStart(7)} ${fixed(score.induction).padStart(11)}`);
    }));
  }
  if (found.ablation) {
    const a = found.ablation;
    const heads = a.heads.map(({ layer, head }) => `${layer + 1}.${head + 1}`).join(', ');
    lines.push('', `Ablation (${a.mode}) of head${a.heads.length > 1 ? 's' : ''} ${heads}: KL(before ‖ after) at ${at} ${a.kl.toFixed(4)}; the text's loss ${fixed(a.lossBefore)} → ${fixed(a.lossAfter)}`);
    lines.push(`  before: ${a.before.slice(0, 5).map((b) => `${show(tokenText(b.id))} ${b.p.toFixed(3)}`).join('   ')}`);
    lines.push(`  after:  ${a.after.slice(0, 5).map((b) => `${show(tokenText(b.id))} ${b.p.toFixed(3)}`).join('   ')}`);
  }
  if (found.attribution) {
    const a = found.attribution;
    const parts = [
      { name: 'embeddings', value: a.embed },
      { name: 'final norm bias', value: a.finalNormBias },
      ...a.heads.flatMap((row, l) => row.map((value, h) => ({ name: `head ${l + 1}.${h + 1}`, value }))),
      ...a.attnBias.map((value, l) => ({ name: `attention bias ${l + 1}`, value })),
      ...a.mlps.map((value, l) => ({ name: `MLP ${l + 1}`, value })),
    ];
    const sum = parts.reduce((total, part) => total + part.value, 0);
    const largest = [...parts].sort((x, y) => Math.abs(y.value) - Math.abs(x.value)).slice(0, 6);
    lines.push('', `Direct logit attribution of ${show(tokenText(a.id))} at ${at}: logit ${a.logit.toFixed(3)}, the ${parts.length} parts sum to ${sum.toFixed(3)}`);
    lines.push(`  largest: ${largest.map((part) => `${part.name} ${signed(part.value)}`).join(', ')}`);
  }
  if (found.patching) {
    const { clean, corrupt, grid } = found.patching;
    let best = { layer: 0, t: 0, value: -Infinity };
    grid.forEach((row, layer) => row.forEach((value, t) => { if (value > best.value) best = { layer, t, value }; }));
    lines.push('', `Activation patching: logit(answer) − logit(wrong) is ${clean.toFixed(3)} on the clean text, ${corrupt.toFixed(3)} on the corrupted one`);
    lines.push(`  the clean stream entering block ${best.layer + 1} at position ${best.t} ${show(tokens[best.t]!.text)} restores the most: ${best.value.toFixed(3)} of the difference`);
  }
  lines.push('', 'Every number, and the whole grids: --json');
  return `${lines.join('\n')}\n`;
}
