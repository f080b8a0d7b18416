// `llm101 download REPO`: a GPT-2-style model from the Hugging Face Hub (or the user's Hugging Face
// cache) into a folder that --weights and llm101.weightsPath read. Progress goes to stderr, the
// folder to the last line of stdout (so `--weights "$(llm101 download gpt2 | tail -1)"` works).
import { version } from '../../package.json';
import { HubError, describeProgress, type DownloadProgress } from '../hub/hubHttp';
import { defaultDownloadDir, fetchModel, hubEndpoint, PUBLIC_HUB } from '../hub/fetchModel';
import { UsageError } from './args';
import { type CliIo, type Command } from './command';

export const downloadCommand: Command = {
  summary: 'download a GPT-2-style model from the Hugging Face Hub (gpt2, distilgpt2, gpt2-medium, org/name)',
  usage: 'llm101 download REPO [--revision REV] [--endpoint URL] [--dir DIR] [--json]',
  help: [
    '  REPO                  gpt2, distilgpt2, gpt2-medium, or any org/name with config.json and',
    "                        model.safetensors in GPT-2's layout",
    '  --revision REV        a branch, tag or commit (default main)',
    `  --endpoint URL        the hub (default: HF_ENDPOINT, else ${PUBLIC_HUB}); HF_TOKEN is sent when set`,
    '  --dir DIR             where downloads are kept (default ~/.cache/llm101/models); the Hugging Face',
    '                        cache (HF_HUB_CACHE, HF_HOME/hub or ~/.cache/huggingface/hub) is read first',
    '  --json                print {"path", "source": "download" | "cache", "bytes", "sha256"}',
    '',
    'The model folder is the last line of standard output: llm101 analyze --weights "$(llm101 download gpt2 | tail -1)" ...',
  ],
  positional: 'REPO',
  options: {
    revision: { type: 'string' },
    endpoint: { type: 'string' },
    dir: { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
  async run(values, io, positionals) {
    const repo = positionals.find((p) => p !== '-');
    if (repo === undefined) throw new UsageError('which model? give a repo id, e.g. llm101 download gpt2 (or distilgpt2, gpt2-medium, org/name)');
    const endpoint = hubEndpoint(typeof values.endpoint === 'string' ? values.endpoint : undefined);
    try {
      new URL(endpoint);
    } catch {
      throw new UsageError(`--endpoint ${JSON.stringify(endpoint)} is not an address; give one such as ${PUBLIC_HUB}`);
    }
    const progress = new ProgressLine(io);
    const controller = new AbortController();
    const stopListening = io.onInterrupt?.(() => controller.abort()) ?? (() => {});
    try {
      const model = await fetchModel(repo, {
        endpoint,
        dir: typeof values.dir === 'string' ? values.dir : defaultDownloadDir(),
        ...(typeof values.revision === 'string' && { revision: values.revision }),
        ...(process.env.HF_TOKEN && { token: process.env.HF_TOKEN }),
        signal: controller.signal,
        userAgent: `llm101/${version}`,
        onProgress: (p) => progress.show(p),
      });
      progress.end();
      if (values.json) {
        io.stdout.write(`${JSON.stringify({ path: model.path, source: model.source, bytes: model.bytes, sha256: model.sha256 })}\n`);
      } else {
        io.stderr.write(model.source === 'cache' ? `${repo}: found on disk (commit ${model.commit.slice(0, 12)}), nothing downloaded\n` : `${repo}: downloaded ${(model.bytes / 1e6).toFixed(1)} MB (commit ${model.commit.slice(0, 12)}), sha256 checked\n`);
        io.stdout.write(`${model.path}\n`);
      }
      return 0;
    } catch (err) {
      progress.end();
      if (err instanceof HubError && err.reason === 'cancelled') {
        io.stderr.write(`llm101: ${err.message}\n`);
        return 130;
      }
      throw err;
    } finally {
      stopListening();
    }
  },
};

/** One line redrawn in place on a terminal; plain lines, at most one per 10 % step, otherwise. */
class ProgressLine {
  private drawn = false;
  private lastPlain = -1;
  constructor(private readonly io: CliIo) {}

  show(p: DownloadProgress): void {
    const { stderr } = this.io;
    const text = describeProgress(p);
    if (stderr.isTTY) {
      const width = Math.max(20, (stderr.columns ?? 80) - 1);
      stderr.write(`\r${text.slice(0, width).padEnd(width)}`);
      this.drawn = true;
      return;
    }
    const tenth = p.total ? Math.floor((p.received / p.total) * 10) : 0;
    if (tenth === this.lastPlain) return;
    this.lastPlain = tenth;
    stderr.write(`${text}\n`);
  }

  end(): void {
    if (this.drawn) this.io.stderr.write('\n');
    this.drawn = false;
  }
}
