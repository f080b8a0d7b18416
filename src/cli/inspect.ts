// `llm101 inspect`: the experiments of the panel (logit lens, head scores, ablation, direct logit
// attribution, activation patching) on one text, as JSON for scripts and tests.
import { DEFAULT_CONFIG } from '../engine/config';
import { ABLATION_MODES, ablate, type AblationMode, type HeadRef } from '../engine/experiments/ablation';
import { attribute } from '../engine/experiments/attribution';
import { headScores, inductionProbe } from '../engine/experiments/headScores';
import { logitLens } from '../engine/experiments/lens';
import { activationPatching } from '../engine/experiments/patching';
import { checkPosition, runWithCache } from '../engine/experiments/run';
import { packGptWeights, type PackedGpt } from '../engine/layers/gptModel';
import type { Tokenizer } from '../engine/types';
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
    '  --json                print the JSON (the default prints the same on one line per section)',
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
      const json: Record<string, unknown> = { tokens: ids.map((id) => ({ id, text: tokenText(id) })) };
      if (asked.lens) {
        json.lens = logitLens(model, cache, { ...(packed && { packed }) }).top.map((row) => row.map((cell) => cell.map(({ id, p }) => ({ id, text: tokenText(id), p }))));
      }
      if (asked.headScores) json.headScores = headScores(model, cache, probeIds(values, model.config.vocabSize), packed);
      if (ablated) {
        const mode = (values.ablation ?? 'zero') as string;
        if (!(ABLATION_MODES as readonly string[]).includes(mode)) throw new UsageError(`--ablation takes ${ABLATION_MODES.join(' or ')}, got ${show(mode)}`);
        json.ablation = ablate(model, cache, ablated, mode as AblationMode, position, packed);
      }
      if (asked.attribution) {
        const id = optionalInteger(values, 'attribute-id') ?? oneToken(tokenizer, values.attribute as string, '--attribute');
        json.attribution = attribute(model, cache, position, id);
      }
      if (typeof values.corrupt === 'string') {
        const corruptIds = tokenizer.encode(values.corrupt).map((t) => t.id);
        const answer = oneToken(tokenizer, values.answer as string, '--answer');
        const wrong = oneToken(tokenizer, values.wrong as string, '--wrong');
        json.patching = activationPatching(model, ids, corruptIds, answer, wrong, { ...(packed && { packed }) });
      }
      io.stdout.write(values.json ? `${JSON.stringify(json)}\n` : Object.entries(json).map(([key, value]) => `${key}: ${JSON.stringify(value)}\n`).join(''));
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

/** The id of a text that must be exactly one token of the model's tokenizer. */
function oneToken(tokenizer: Tokenizer, text: string, flag: string): number {
  const tokens = tokenizer.encode(text);
  if (tokens.length !== 1) {
    throw new UsageError(
      `${flag} ${show(text)} is ${tokens.length} tokens${tokens.length > 0 ? ` (${tokens.map((t) => show(t.text)).join(', ')})` : ''} for the ${tokenizer.kind} tokenizer; give one token`,
    );
  }
  return tokens[0]!.id;
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
