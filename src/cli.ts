// `llm101`: the engine on the command line. Same tokenizers, weights and trace as the panel.
//
//   llm101 analyze  [input] [model options] [--json]   one trace of every stage (and the GPT's forward)
//   llm101 generate [input] [model options] --max-new-tokens N [--temperature T] [--top-k K] [--json]
//   llm101 tokenize [input] [tokenizer options] [--json]
//   llm101 train --corpus PATH --out FILE.safetensors [model and training options] [--log LOG.jsonl]
//   llm101 export --pytorch DIR --weights FILE   a PyTorch project (model.py, generate.py, train.py)
//   llm101 download REPO [--revision REV] [--endpoint URL] [--dir DIR] [--json]   a GPT-2 from the hub
//   llm101 inspect [input] [model options] [--lens] [--head-scores] [--ablate L.H] [--attribute T] [--corrupt ...] --json
//   llm101 bench --seq T --dim D --heads H [--reps N] [--threads N] [--json]   time one layer
//   llm101 bench --train --vocab V --dim D --heads H --layers L --seq C --batch B [--json]   one training step
//
// Each subcommand is one entry of COMMANDS (options + handler), so adding one (e.g. `bench`) is
// adding an entry. runCli() does the work and returns the exit code, so tests call it in-process;
// only the last lines of this file touch `process`.
//
// Exit codes: 0 success, 2 a problem the user can fix (one line on stderr saying how),
// 1 an internal error (one line, please report), 130 generation stopped by Ctrl+C (train: 0, the
// checkpoint at the last completed step is written).
import { version } from '../package.json';
import { EngineError } from './engine/config';
import { UsageError, closest, oneLine, optionalInteger, parseCommandArgs, type Values } from './cli/args';
import { MAX_THREADS, kernelThreads, setKernelThreads, threadsFor } from './engine/kernels';
import { show, summarize } from './cli/format';
import { SETTING_FLAGS, type CliIo, type Command } from './cli/command';
import { analyze, tokenize } from './cli/analyze';
import { generateCommand } from './cli/generate';
import { train } from './cli/trainCommand';
import { exportCommand } from './cli/export';
import { bench } from './cli/bench';
import { downloadCommand } from './cli/download';
import { inspect } from './cli/inspect';

export { UsageError, summarize };
export type { CliIo };

const COMMANDS: Record<string, Command> = { analyze, generate: generateCommand, tokenize, train, export: exportCommand, bench, download: downloadCommand, inspect };

function unknownCommand(name: string): string {
  const suggestion = closest(name, Object.keys(COMMANDS));
  return `unknown command ${show(name)}${suggestion ? `; did you mean ${suggestion}?` : ''} (commands: ${Object.keys(COMMANDS).join(', ')}; run "llm101 --help")`;
}

function mainHelp(): string {
  const names = Object.keys(COMMANDS);
  const width = Math.max(...names.map((n) => n.length));
  return [
    `llm101 ${version}: what the first layers of a GPT-style model do with a text`,
    '',
    'Usage: llm101 <command> [options]',
    '',
    'Commands:',
    ...names.map((name) => `  ${name.padEnd(width)}  ${COMMANDS[name]?.summary ?? ''}`),
    '',
    'Run "llm101 <command> --help" for its options; "llm101 --version" prints the version.',
    'Example: llm101 analyze --text "Your journey starts with one step" --heads 4',
    '',
  ].join('\n');
}

function commandHelp(name: string, command: Command): string {
  return [`llm101 ${name}: ${command.summary}`, '', `Usage: ${command.usage}`, '', 'Options:', ...command.help, '  -h, --help            show this help', ''].join('\n');
}

/** `--threads N` (0 = every core), for the commands that take it: the kernel's threads from here on. */
function applyThreads(values: Values): void {
  const threads = optionalInteger(values, 'threads');
  if (threads === undefined) return;
  if (threads < 0 || threads > MAX_THREADS) throw new UsageError(`--threads must be 0 (every core) or 1 to ${MAX_THREADS}, got ${threads}`);
  setKernelThreads(threadsFor(threads));
}

/** Runs the CLI with `argv` (without node and the script) and returns the exit code. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let commandName: string | undefined;
  try {
    const [first, ...rest] = argv;
    if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
      const topic = first === 'help' ? rest[0] : undefined;
      const command = topic !== undefined ? COMMANDS[topic] : undefined;
      if (topic !== undefined && !command) throw new UsageError(unknownCommand(topic));
      io.stdout.write(command && topic ? commandHelp(topic, command) : mainHelp());
      return 0;
    }
    if (first === '--version' || first === '-v') {
      io.stdout.write(`${version}\n`);
      return 0;
    }
    const command = Object.prototype.hasOwnProperty.call(COMMANDS, first) ? COMMANDS[first] : undefined;
    if (!command) throw new UsageError(unknownCommand(first));
    commandName = first;

    const { values, positionals } = parseCommandArgs(first, command, rest);
    if (values.help) {
      io.stdout.write(commandHelp(first, command));
      return 0;
    }
    const threadsBefore = kernelThreads();
    try {
      applyThreads(values);
      return (await command.run(values, io, positionals)) ?? 0;
    } finally {
      setKernelThreads(threadsBefore); // runCli runs in-process in tests: leave the kernel as it was
    }
  } catch (err) {
    const userError = err instanceof UsageError || err instanceof EngineError;
    const flag = err instanceof EngineError && err.setting !== undefined ? SETTING_FLAGS[err.setting] : undefined;
    const message = `${err instanceof Error ? err.message : String(err)}${flag ? ` (${flag})` : ''}`;
    io.stderr.write(
      userError
        ? `llm101: ${oneLine(message)}\n`
        : `llm101: internal error${commandName ? ` in ${commandName}` : ''}: ${oneLine(message)} (please report this)\n`,
    );
    return userError ? 2 : 1;
  }
}

// ---------------------------------------------------------------------------------------------
// entry point (the bundle's main module only; tests import runCli)

if (require.main === module) {
  // `llm101 analyze --json | head` closes the pipe early: that is not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  const onInterrupt = (stop: () => void) => {
    let pressed = 0;
    // the first Ctrl+C asks the command to stop (a training step finishes and is saved); a second one ends at once
    const listener = () => (++pressed === 1 ? stop() : process.exit(130));
    process.on('SIGINT', listener);
    return () => process.off('SIGINT', listener);
  };
  void runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, onInterrupt }).then((code) => {
    // Exit once stdout has drained, so a large trace piped to another program is not cut short.
    process.stdout.write('', () => process.exit(code));
  });
}
