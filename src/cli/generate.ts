// `llm101 generate`: the model continues a text, streamed as it comes.
import { DEFAULT_CONFIG } from '../engine/config';
import { checkGenerateOptions, streamTokens, type GenerateOptions } from '../engine/gpt/generate';
import { UsageError, optionalInteger, optionalNumber } from './args';
import { TextStream } from './format';
import { modelRequest } from './analyze';
import { type Command, COMMON_OPTIONS, INPUT_HELP, INPUT_OPTIONS, MODEL_HELP, MODEL_OPTIONS, TOKENIZER_HELP, TOKENIZER_OPTIONS, readInput } from './command';

export const generateCommand: Command = {
  summary: 'continue a text with the GPT (seeded or a checkpoint), token by token',
  usage: 'llm101 generate (--text STR | --file PATH | -) (--weights FILE|DIR | --layers N ...) [--max-new-tokens N] [--temperature T] [--top-k K] [--json]',
  help: [
    ...INPUT_HELP,
    ...TOKENIZER_HELP,
    ...MODEL_HELP,
    '  --max-new-tokens N    tokens to add, at least 1 (default 20)',
    '  --temperature T       0 picks the most likely token (greedy, the default); above 0 samples',
    '                        from softmax(logits / T) with the seeded generator (--seed)',
    '  --top-k K             sample only among the K most likely tokens',
    '  --json                print {prompt: [ids], generated: [ids], text, reason} at the end',
    '                        (without it the new text is printed as it comes; Ctrl+C stops)',
  ],
  options: {
    ...INPUT_OPTIONS,
    ...TOKENIZER_OPTIONS,
    ...MODEL_OPTIONS,
    'max-new-tokens': { type: 'string' },
    temperature: { type: 'string' },
    'top-k': { type: 'string' },
    ...COMMON_OPTIONS,
  },
  async run(values, io, positionals) {
    const topK = optionalInteger(values, 'top-k');
    const options: GenerateOptions = {
      maxNewTokens: optionalInteger(values, 'max-new-tokens') ?? 20,
      temperature: optionalNumber(values, 'temperature') ?? 0,
      seed: optionalInteger(values, 'seed') ?? DEFAULT_CONFIG.seed,
      ...(topK !== undefined && { topK }),
    };
    checkGenerateOptions(options); // before the text is read or a model loaded
    const text = await readInput(values, io, positionals, 'generate');
    const { request, analyzer } = modelRequest(values, text);
    const model = analyzer.model(request);
    const tokenizer = analyzer.tokenizer(request);
    const prompt = tokenizer.encode(text).map((t) => t.id);
    if (prompt.length === 0) throw new UsageError(`the ${tokenizer.kind} tokenizer finds no tokens in the text; give it some words`);

    const controller = new AbortController();
    const stopListening = io.onInterrupt?.(() => controller.abort()) ?? (() => {});
    const stream = values.json ? undefined : new TextStream(tokenizer, (chunk) => io.stdout.write(chunk));
    const generated: number[] = [];
    let end;
    try {
      const tokens = streamTokens(model, prompt, { ...options, signal: controller.signal });
      for (let step = await tokens.next(); ; step = await tokens.next()) {
        if (step.done) {
          end = step.value;
          break;
        }
        generated.push(step.value.id);
        stream?.push(step.value.id);
      }
    } finally {
      stopListening();
    }
    if (values.json) {
      io.stdout.write(`${JSON.stringify({ prompt, generated, text: tokenizer.decode(generated), reason: end.reason })}\n`);
    } else {
      stream?.end();
      io.stdout.write('\n');
    }
    if (end.reason !== 'cancelled') return;
    io.stderr.write(`llm101: stopped after ${generated.length} token${generated.length === 1 ? '' : 's'} (Ctrl+C)\n`);
    return 130;
  },
};
