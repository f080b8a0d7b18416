// "Continue Text": the model writes after the selection.
import * as vscode from 'vscode';
import type { EngineClient } from '../host/engineClient';
import { PlaygroundPanel } from '../panels/PlaygroundPanel';
import { readSettings, SECTION } from '../settings';
import { editorForCommand } from './analyze';

export interface ContinueOptions {
  maxNewTokens?: number;
  temperature?: number;
  topK?: number | null;
}

export interface ContinueResult {
  /** The text inserted (possibly cut short by Cancel), with the space or line break that joins it to the text after it. */
  inserted: string;
  /** Tokens in the editor: `inserted` is their decoded text. */
  tokens: number;
  reason: 'length' | 'eos' | 'cancelled';
}

/**
 * The text a generation continues: the selection (or, without one, the document up to the
 * cursor), and the offset after which the new tokens go.
 */
function promptOf(editor: vscode.TextEditor): { prompt: string; at: vscode.Position } | string {
  const doc = editor.document;
  const selection = editor.selection;
  const range = selection.isEmpty ? new vscode.Range(new vscode.Position(0, 0), selection.active) : selection;
  const prompt = doc.getText(range);
  if (!prompt.trim()) return 'LLM 101: select the text to continue (or put the cursor after it), then run Continue Text.';
  return { prompt, at: range.end };
}

/**
 * How a continuation joins the text around it. After a space or a line break its own leading
 * spaces go (a continuation at the start of a line starts the line); before text on the same line
 * it ends with a line break (it was written at the start of that line: the line stays below it)
 * or a space (the next word stays a word), so nothing is glued together.
 */
export function joinContinuation(prompt: string, lineRest: string): { lead: (text: string) => string; trail: string } {
  const afterSpace = prompt === '' || /\s$/.test(prompt);
  const lead = afterSpace ? (text: string) => text.replace(/^[ \t]+/, '') : (text: string) => text;
  const atLineStart = prompt === '' || prompt.endsWith('\n');
  const trail = lineRest === '' || /^[\s.,;:!?)\]}]/.test(lineRest) ? '' : atLineStart ? '\n' : ' ';
  return { lead, trail };
}

/**
 * Appends generated tokens after the selection as one undoable edit (the first insertion opens
 * an undo stop, later ones join it, so one Undo removes the whole continuation). The editor is
 * the truth: tokens come faster than edits apply, so each edit writes all that has come since the
 * last one, and the count shown (notification, panel) is what the editor holds. Cancel (the
 * notification's, the panel's, or a new generation) stops writing after the edit in flight: the
 * editor then holds exactly the tokens reported, and nothing more is written.
 */
export async function continueText(engine: EngineClient, extensionPath: string, options: ContinueOptions = {}): Promise<ContinueResult | undefined> {
  const editor = editorForCommand();
  if (!editor) {
    void vscode.window.showInformationMessage('LLM 101: open a file and select some text, then run Continue Text.');
    return undefined;
  }
  const source = promptOf(editor);
  if (typeof source === 'string') {
    void vscode.window.showInformationMessage(source);
    return undefined;
  }
  if (editor.document.isClosed || editor.document.uri.scheme === 'output') return undefined;
  const settings = readSettings(extensionPath);
  const cfg = vscode.workspace.getConfiguration(SECTION);
  const maxNewTokens = options.maxNewTokens ?? cfg.get<number>('maxNewTokens', 30);
  const temperature = options.temperature ?? cfg.get<number>('temperature', 0);
  const topK = options.topK !== undefined ? options.topK : cfg.get<number>('topK', 0) || null;
  const doc = editor.document;
  const start = doc.offsetAt(source.at);
  const join = joinContinuation(source.prompt, doc.lineAt(source.at.line).text.slice(source.at.character));
  const panel = PlaygroundPanel.current;

  /** The newest continuation the engine decoded (whole characters only) and its token count. */
  let latest = { text: '', count: 0 };
  /** What the editor holds: the continuation of `count` tokens, and the separator after it. */
  let written = { text: '', count: 0, trail: '' };
  let stopped: 'cancelled' | 'the document changed while the model was writing' | 'the editor refused the edit' | undefined;
  let reportProgress: (count: number) => void = () => {};
  let version = doc.version;

  /** Writes what has come and is not in the editor yet, one edit at a time, until it is all written or stopped. */
  const writeAll = async (): Promise<void> => {
    while (!stopped && latest.text.startsWith(written.text) && latest.text.length > written.text.length) {
      const target = latest;
      const first = written.text === '';
      const trail = first ? join.trail : written.trail;
      if (doc.isClosed || doc.version !== version) {
        stop('the document changed while the model was writing');
        break;
      }
      const at = doc.positionAt(start + written.text.length);
      const piece = target.text.slice(written.text.length) + (first ? trail : '');
      const editorNow = vscode.window.visibleTextEditors.find((e) => e.document === doc) ?? editor;
      const ok = await editorNow.edit((b) => b.insert(at, piece), { undoStopBefore: first, undoStopAfter: false });
      if (!ok) {
        stop('the editor refused the edit');
        break;
      }
      version = doc.version;
      written = { text: target.text, count: target.count, trail };
      reportProgress(written.count);
      panel?.postGeneration({ state: 'running', text: written.text, tokens: written.count });
    }
  };
  // One writer at a time; `writing` turns false in the same turn its loop ends, so no text that
  // arrives later is left unwritten.
  let writing = false;
  let writes: Promise<void> = Promise.resolve();
  const pump = () => {
    if (writing) return;
    writing = true;
    writes = writeAll().finally(() => {
      writing = false;
    });
  };
  /** Waits until the editor holds all that came (or the writing stopped). */
  const settle = async () => {
    for (;;) {
      await writes;
      if (writing) continue;
      if (stopped || !(latest.text.startsWith(written.text) && latest.text.length > written.text.length)) return;
      pump();
    }
  };
  const follow = (text: string, count: number) => {
    // a BPE piece can end inside a UTF-8 character (decoded as U+FFFD until the rest arrives): that count is not whole yet
    if (/\uFFFD$/.test(text)) return;
    const shown = join.lead(text);
    if (!shown.startsWith(latest.text)) return;
    latest = { text: shown, count };
    pump();
  };
  // Cancel (or a stop below) ends the command once the edit in flight is done, without waiting
  // for the engine to answer: it stops at its next token, and what it still sends is not written.
  let stoppedNow: () => void = () => {};
  const stopSignal = new Promise<undefined>((resolve) => {
    stoppedNow = () => resolve(undefined);
  });
  const stop = (why: NonNullable<typeof stopped>) => {
    stopped ??= why;
    stoppedNow();
  };
  const cancel = () => {
    stop('cancelled');
    engine.cancelGeneration();
  };

  const request = { ...settings, text: source.prompt };
  const generation = engine.generate(request, { maxNewTokens, temperature, topK, seed: settings.seed }, ({ text, count }) => follow(text, count));
  generation.catch(() => undefined); // after a stop nobody waits for it
  // the panel's Cancel, or a newer generation, cancels through the engine client
  const unlisten = engine.onGenerationCancel(() => stop('cancelled'));
  const run = vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: 'LLM 101: continuing the text', cancellable: true },
    async (progress, token) => {
      token.onCancellationRequested(cancel);
      let last = 0;
      reportProgress = (count) => {
        progress.report({ message: `${count} of ${maxNewTokens} tokens`, increment: ((count - last) / maxNewTokens) * 100 });
        last = count;
      };
      return Promise.race([generation, stopSignal]);
    },
  );
  try {
    const result = await run;
    if (result && !stopped) follow(result.text, result.generated.length);
    await settle();
    if (stopped && stopped !== 'cancelled') {
      engine.cancelGeneration();
      void vscode.window.showWarningMessage(`LLM 101: generation stopped: ${stopped}. What was written stays (Undo removes it).`);
    }
    const reason = stopped || !result ? 'cancelled' : result.reason;
    const inserted = written.text + written.trail;
    panel?.postGeneration({ state: reason === 'cancelled' ? 'cancelled' : 'done', text: written.text, tokens: written.count });
    // the panel follows: it shows the prompt with its continuation
    if (panel && !panel.disposed && inserted) {
      void panel.analyze({ text: source.prompt + inserted, title: source.prompt + inserted, uri: doc.uri.toString(), offset: start - source.prompt.length });
    }
    return { inserted, tokens: written.count, reason };
  } catch (err) {
    stop('cancelled');
    await settle();
    const message = err instanceof Error ? err.message : String(err);
    panel?.postGeneration({ state: 'error', text: written.text, tokens: written.count, message });
    void vscode.window.showErrorMessage(`LLM 101: ${message}`);
    return undefined;
  } finally {
    unlisten();
  }
}
