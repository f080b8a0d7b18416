// Command-line parsing for `llm101`: node:util's parseArgs with messages that say what to do,
// the number flags, and a "did you mean" for mistyped names. No engine code here.
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A mistake in the command line or the input; exit code 2 and the message on one line. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export type Options = NonNullable<ParseArgsConfig['options']>;
export type Values = Record<string, string | boolean | undefined>;

/** What parseCommandArgs needs of a subcommand. */
export interface CommandOptions {
  options: Options;
  /** The name of the one positional argument the command takes besides `-` (e.g. REPO), if any. */
  positional?: string;
}

const show = (text: string) => JSON.stringify(text);

/**
 * `--threads N` for every command that computes: the kernel's threads, 0 = every core. runCli
 * validates and applies it before the command runs (setKernelThreads).
 */
export const THREADS_OPTION: Options = { threads: { type: 'string' } };
export const THREADS_HELP = '  --threads N           threads for the matrix products: 0 = every core (the default), up to 16';

export function optionalInteger(values: Values, name: string): number | undefined {
  const raw = values[name];
  if (typeof raw !== 'string') return undefined;
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isSafeInteger(value)) {
    throw new UsageError(`--${name} takes a whole number, got ${JSON.stringify(raw)}`);
  }
  return value;
}

export function optionalNumber(values: Values, name: string): number | undefined {
  const raw = values[name];
  if (typeof raw !== 'string') return undefined;
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value)) {
    throw new UsageError(`--${name} takes a number, got ${JSON.stringify(raw)}`);
  }
  return value;
}

export function parseCommandArgs(name: string, command: CommandOptions, args: string[]): { values: Values; positionals: string[] } {
  let parsed: { values: Values; positionals: string[]; tokens: { kind: string; name?: string }[] };
  try {
    parsed = parseArgs({
      args: joinNegativeValues(args, command.options),
      options: command.options,
      strict: true,
      allowPositionals: true,
      tokens: true,
    }) as typeof parsed;
  } catch (err) {
    throw new UsageError(parseErrorMessage(name, command, err));
  }
  // parseArgs keeps the last of a repeated option; a repeated value is more likely a mistake.
  const seen = new Set<string>();
  for (const token of parsed.tokens) {
    if (token.kind !== 'option' || token.name === undefined || command.options[token.name]?.type !== 'string') continue;
    if (seen.has(token.name)) throw new UsageError(`--${token.name} is given twice; give it once`);
    seen.add(token.name);
  }
  const others = parsed.positionals.filter((p) => p !== '-');
  if (command.positional !== undefined && others.length > 1) {
    throw new UsageError(`llm101 ${name} takes one ${command.positional}, got ${others.length}: ${others.map(show).join(' ')}`);
  }
  const stray = command.positional === undefined ? others[0] : undefined;
  if (stray !== undefined) {
    throw new UsageError(`unexpected argument ${show(stray)} for llm101 ${name}; pass text with --text "..." (quote it) or - for standard input`);
  }
  return parsed;
}

/**
 * `--dropout -0.1` would be refused by parseArgs as ambiguous (the value looks like an option);
 * a negative number after a value-taking option is its value, so pass it as `--dropout=-0.1`
 * and let the range check say what is wrong with it.
 */
function joinNegativeValues(args: readonly string[], options: Options): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    const next = args[i + 1];
    if (arg === '--') {
      out.push(...args.slice(i));
      break;
    }
    const name = arg.startsWith('--') && !arg.includes('=') ? arg.slice(2) : undefined;
    if (name !== undefined && options[name]?.type === 'string' && next !== undefined && /^-\.?\d/.test(next)) {
      out.push(`${arg}=${next}`);
      i++;
    } else {
      out.push(arg);
    }
  }
  return out;
}

/** node:util's parse errors, rewritten as one line that says what to do. */
function parseErrorMessage(name: string, command: CommandOptions, err: unknown): string {
  const code = (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message : String(err);
  const option = /'(-[^' ]*)/.exec(message)?.[1] ?? '';
  const helpHint = `run "llm101 ${name} --help" for the options`;
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const suggestion = closest(option.replace(/^-+/, ''), Object.keys(command.options));
    return `unknown option ${option} for llm101 ${name}${suggestion ? `; did you mean --${suggestion}?` : ''} (${helpHint})`;
  }
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    const key = option.replace(/^-+/, '').replace(/ .*/, '');
    const spec = command.options[key];
    if (spec?.type === 'boolean') return `${option} is a switch and takes no value; write ${option} alone`;
    if (message.includes('ambiguous')) return `${option} needs a value; to pass a value starting with "-" write ${option}=VALUE`;
    return `${option.replace(/ .*/, '')} needs a value, e.g. ${option.replace(/ .*/, '')} ${exampleValue(key)}`;
  }
  return `${oneLine(message)} (${helpHint})`;
}

function exampleValue(option: string): string {
  const examples: Record<string, string> = {
    text: '"Hello, world"',
    file: 'notes.txt',
    tokenizer: 'bpe',
    corpus: 'poems/',
    'vocab-size': '512',
    example: 'journey',
    dim: '28',
    'attn-dim': '28',
    heads: '7',
    layers: '2',
    'max-new-tokens': '20',
    temperature: '0.8',
    'top-k': '40',
    dropout: '0.4',
    seed: '123',
    'context-length': '256',
    weights: 'model.safetensors',
    'save-weights': 'model.safetensors',
    seq: '512',
    reps: '5',
    threads: '4',
    save: 'layer.safetensors',
    out: 'model.safetensors',
    log: 'train.jsonl',
    init: 'model.safetensors',
    batches: 'batches.json',
    'grads-out': 'grads.safetensors',
    steps: '300',
    lr: '0.003',
    batch: '8',
    'weight-decay': '0.1',
    'eval-every': '50',
    'val-fraction': '0.1',
    'clip-grad-norm': '1',
    'warmup-steps': '20',
    vocab: '512',
    pytorch: 'my-gpt/',
  };
  return examples[option] ?? 'VALUE';
}

/** The candidate within edit distance 2 of `word`, if any: catches --atn-dim and --head. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of candidates) {
    const d = editDistance(word, candidate);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

export function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}
