// `llm101 export --pytorch DIR --weights FILE`: a small PyTorch project beside the checkpoint, for
// users who outgrow the editor. DIR gets
//   model.safetensors  the checkpoint in the book's GPTModel names, F32, with its config, tokenizer,
//                      step and losses in __metadata__ (a GPT-2 checkpoint is rewritten so)
//   model.py           the reference GPTModel (python/model.py, the one the fixtures are made with),
//                      copied as it is: the book's state_dict names; safetensors in plain Python
//   tokenizer.py       the checkpoint's tokenizer (word vocabulary or BPE merges; gpt2 via tiktoken)
//   generate.py        greedy (or sampled) continuation of a prompt, as `llm101 generate`
//   train.py           training resumed from the checkpoint, one process or torchrun + DDP
//   README.md          the commands
// No vscode here: the CLI calls it (and could the extension).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EngineError } from '../engine/config';
import { fsErrorReason } from '../engine/io/fsErrors';
import { gptCheckpointMetadata, readGptCheckpoint, writeGptCheckpoint } from '../engine/io/gptCheckpoint';
import { TOKENIZER_METADATA_KEY, parseSavedTokenizer } from '../engine/tokenizer';
import { GENERATE_PY } from './python/generatePy';
import { TOKENIZER_PY } from './python/tokenizerPy';
import { TRAIN_PY } from './python/trainPy';

export interface ExportOptions {
  /** Heads when the checkpoint does not say (a state_dict without our metadata). */
  heads?: number;
}

export interface ExportedProject {
  dir: string;
  /** The files written, relative to dir, in the order above. */
  files: string[];
  tokenizer: string;
  step: string | undefined;
}

/**
 * The reference model's source: src/export/python/model.py beside this file when run from the
 * sources (tests), dist/python/model.py in the bundles (esbuild.mjs copies it there).
 */
export function referenceModelPy(): string {
  return fs.readFileSync(path.join(__dirname, 'python', 'model.py'), 'utf8');
}

/** Writes the project into `dir` (new or empty); throws an EngineError with the fix otherwise. */
export function exportPytorchProject(dir: string, weightsPath: string, options: ExportOptions = {}): ExportedProject {
  const { model, layout, metadata } = readGptCheckpoint(weightsPath, options.heads !== undefined ? { heads: options.heads } : {});
  // the tokenizer travels with the checkpoint: ours saved it, GPT-2's is gpt2
  const savedJson = metadata[TOKENIZER_METADATA_KEY] ?? (layout === 'gpt2' ? JSON.stringify({ kind: 'gpt2' }) : undefined);
  if (savedJson === undefined) {
    throw new EngineError(`checkpoint ${weightsPath} carries no tokenizer (${TOKENIZER_METADATA_KEY}), so the exported generate.py could not read text: export a checkpoint llm101 train wrote`);
  }
  const saved = parseSavedTokenizer(savedJson, `checkpoint ${weightsPath}`);
  checkTargetFolder(dir);
  // our own keys (step, losses, corpus, ...) carry over; the config's keys are the writer's
  const own = gptCheckpointMetadata(model.config);
  const carried = Object.fromEntries(Object.entries(metadata).filter(([key]) => key.startsWith('llm101.') && !(key in own)));
  const files: [string, string][] = [
    ['model.py', referenceModelPy()],
    ['tokenizer.py', TOKENIZER_PY],
    ['generate.py', GENERATE_PY],
    ['train.py', TRAIN_PY],
    ['README.md', readme(path.basename(weightsPath), saved.kind, model.config.layers, model.config.dim, model.config.heads)],
  ];
  try {
    fs.mkdirSync(dir, { recursive: true });
    writeGptCheckpoint(path.join(dir, 'model.safetensors'), model, { ...carried, [TOKENIZER_METADATA_KEY]: savedJson });
    for (const [name, text] of files) fs.writeFileSync(path.join(dir, name), text);
  } catch (err) {
    if (err instanceof EngineError) throw err;
    throw new EngineError(`cannot write the project into ${dir}: ${fsErrorReason(err)}`);
  }
  return { dir, files: ['model.safetensors', ...files.map(([name]) => name)], tokenizer: saved.kind, step: metadata['llm101.step'] };
}

function checkTargetFolder(dir: string): void {
  let entries: string[];
  try {
    if (!fs.statSync(dir).isDirectory()) throw new EngineError(`${dir} is a file; give a new or empty folder for the project`);
    entries = fs.readdirSync(dir);
  } catch (err) {
    if (err instanceof EngineError) throw err;
    return; // does not exist yet: it is made
  }
  if (entries.length > 0) throw new EngineError(`folder ${dir} is not empty (${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', …' : ''}); give a new or empty folder for the project`);
}

function readme(source: string, tokenizer: string, layers: number, dim: number, heads: number): string {
  return [
    '# A GPT exported from LLM 101 Playground',
    '',
    `The book's GPTModel (${layers} layers, dim ${dim}, ${heads} heads) with the weights of \`${source}\`,`,
    `copied into \`model.safetensors\` (F32, the book's state_dict names; its metadata holds the config,`,
    `the ${tokenizer} tokenizer, the step and the losses). It needs only PyTorch${tokenizer === 'gpt2' ? ' and tiktoken (`pip install tiktoken`: the gpt2 tokenizer)' : ''}.`,
    '',
    '```bash',
    'python generate.py --prompt "The sea" --max-new-tokens 20          # greedy, as llm101 generate',
    'python train.py --corpus my-texts/ --steps 1000 --out trained.safetensors',
    'torchrun --nproc_per_node=4 train.py --corpus my-texts/ --steps 1000 --out trained.safetensors',
    'llm101 analyze --weights trained.safetensors --text "The sea"     # back in the playground',
    '```',
    '',
    '- `model.py`: the model and a safetensors reader/writer in plain Python.',
    '- `tokenizer.py`: the checkpoint\'s tokenizer (word vocabulary, BPE merges, or gpt2 through tiktoken).',
    '- `generate.py`: continues a prompt; `--temperature` and `--top-k` sample with torch\'s generator.',
    '- `train.py`: goes on training on one CPU or GPU, or on several GPUs with `torchrun`',
    '  (DistributedDataParallel, NCCL; gloo on CPUs); writes a checkpoint the extension loads',
    '  (Load Model…, or `llm101.weightsPath`). Ctrl+C saves the last completed step.',
    '',
  ].join('\n');
}
