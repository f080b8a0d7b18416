// Tokens in the editor itself: a status-bar count for the selection (or document), token
// boundaries drawn on the selection, and a quick pick to switch tokenizer. Tokenizing runs in
// the engine process (its own thread there) so a long document never blocks typing.
import * as vscode from 'vscode';
import { EngineClient } from '../host/engineClient';
import { CancelledError } from '../engine/config';
import { readSettings, SECTION } from '../settings';
import type { TokenizeResult } from '../engine/pipeline';
import type { TokenizerKind } from '../engine/types';

/** Above this many characters the status bar does not count (the document is too large to be useful). */
export const MAX_COUNT_CHARS = 2_000_000;
/** Above this many tokens the boundaries are drawn only for the first ones. */
export const MAX_DECORATED_TOKENS = 5_000;
const DEBOUNCE_MS = 250;

/**
 * Whether the status bar counts tokens for this editor: a file or untitled document in one of
 * `llm101.statusBarLanguages` (prose by default; "*" for every language), not settings.json or
 * an output channel.
 */
export function countsTokensFor(doc: vscode.TextDocument, languages: readonly string[]): boolean {
  if (doc.uri.scheme !== 'file' && doc.uri.scheme !== 'untitled' && doc.uri.scheme !== 'vscode-remote') return false;
  return languages.includes('*') || languages.includes(doc.languageId);
}

const statusBarLanguages = () => vscode.workspace.getConfiguration(SECTION).get<string[]>('statusBarLanguages', ['plaintext', 'markdown']);

const TOKENIZERS: { kind: TokenizerKind; detail: string }[] = [
  { kind: 'word', detail: 'the book\'s regex word tokenizer; vocabulary = the corpus words + <|endoftext|>, <|unk|>' },
  { kind: 'bpe', detail: 'byte-level BPE trained on the corpus (llm101.bpeVocabSize tokens); no unknown tokens' },
  { kind: 'gpt2', detail: 'GPT-2\'s BPE, 50,257 tokens, shipped offline' },
];

// Alternating subtle backgrounds, plus an underline in two chart colours so the boundary between
// two tokens stays visible on top of the selection highlight.
const evenToken = vscode.window.createTextEditorDecorationType({
  backgroundColor: new vscode.ThemeColor('editor.wordHighlightBackground'),
  borderStyle: 'solid',
  borderWidth: '0 0 2px 0',
  borderColor: new vscode.ThemeColor('charts.blue'),
});
const oddToken = vscode.window.createTextEditorDecorationType({
  backgroundColor: new vscode.ThemeColor('editor.wordHighlightStrongBackground'),
  borderStyle: 'solid',
  borderWidth: '0 0 2px 0',
  borderColor: new vscode.ThemeColor('charts.orange'),
});

export class TokenFeatures implements vscode.Disposable {
  private readonly engine: EngineClient;
  private readonly item = vscode.window.createStatusBarItem('llm101.tokens', vscode.StatusBarAlignment.Right, 100);
  private readonly disposables: vscode.Disposable[] = [];
  private timer: NodeJS.Timeout | undefined;
  private boundaries = false;
  /** The last count shown, for tests: tokens, tokenizer and the text's length. */
  lastCount: { tokens: number; tokenizer: string; chars: number } | undefined;
  /** The ranges decorated by the last boundary update. */
  lastBoundaries: vscode.Range[] = [];

  /** `engine`: the window's engine client, shared with the panel (its process counts on its own thread). */
  constructor(private readonly context: vscode.ExtensionContext, engine: EngineClient) {
    this.engine = engine;
    this.item.name = 'LLM 101 token count';
    this.item.command = 'llm101.pickTokenizer';
    this.disposables.push(
      this.item,
      vscode.window.onDidChangeTextEditorSelection(() => this.schedule()),
      vscode.window.onDidChangeActiveTextEditor(() => this.schedule()),
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (e.document === vscode.window.activeTextEditor?.document) this.schedule();
      }),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration(SECTION)) this.schedule();
      }),
    );
    this.schedule();
  }

  get showingBoundaries(): boolean {
    return this.boundaries;
  }

  toggleBoundaries(): boolean {
    this.boundaries = !this.boundaries;
    if (!this.boundaries) this.clearBoundaries();
    void this.update();
    return this.boundaries;
  }

  async pickTokenizer(): Promise<void> {
    const current = vscode.workspace.getConfiguration(SECTION).get<string>('tokenizer');
    const pick = await vscode.window.showQuickPick(
      TOKENIZERS.map((t) => ({ label: t.kind, detail: t.detail, description: t.kind === current ? 'current' : undefined })),
      { title: 'LLM 101: tokenizer', placeHolder: 'How should the text be split into tokens?' },
    );
    if (!pick) return;
    const target = vscode.workspace.workspaceFolders?.length ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
    await vscode.workspace.getConfiguration(SECTION).update('tokenizer', pick.label, target);
  }

  /** Recounts now (and redraws the boundaries when they are on); resolves when done. */
  async update(): Promise<void> {
    clearTimeout(this.timer);
    const editor = vscode.window.activeTextEditor;
    if (!editor || !countsTokensFor(editor.document, statusBarLanguages())) {
      this.item.hide();
      return;
    }
    const doc = editor.document;
    const selection = editor.selections.find((s) => !s.isEmpty);
    const range = selection ?? new vscode.Range(doc.positionAt(0), doc.positionAt(doc.getText().length));
    const text = doc.getText(range);
    const settings = readSettings(this.context.extensionPath);
    const where = selection ? 'selection' : 'document';
    if (text.length > MAX_COUNT_CHARS) {
      this.item.text = `$(symbol-text) ${where} too large to count · ${settings.tokenizer}`;
      this.item.tooltip = `LLM 101 counts tokens in texts up to ${MAX_COUNT_CHARS.toLocaleString('en-US')} characters.`;
      this.item.show();
      return;
    }
    let result: TokenizeResult;
    try {
      // The panel's tokenizer: what the settings name, or, unless the learner chose one, the
      // model's own (a GPT-2 checkpoint's gpt2, the one saved in ours), as the analysis picks it.
      const { tokenizer, bpeVocabSize, corpusPath, weightsPath, tokenizerExplicit } = settings;
      result = await this.engine.tokenize({ text, tokenizer, bpeVocabSize, corpusPath, tokenizerExplicit, ...(weightsPath !== undefined && { weightsPath }) });
    } catch (err) {
      if (err instanceof CancelledError) return; // a newer request took over
      this.item.text = `$(warning) tokens · ${settings.tokenizer}`;
      this.item.tooltip = `LLM 101: ${err instanceof Error ? err.message : String(err)}`;
      this.item.show();
      return;
    }
    const n = result.tokens.length;
    this.lastCount = { tokens: n, tokenizer: result.tokenizer, chars: text.length };
    this.item.text = `$(symbol-text) ${n.toLocaleString('en-US')} token${n === 1 ? '' : 's'} · ${result.tokenizer}`;
    this.item.tooltip = new vscode.MarkdownString(
      `**LLM 101**: the ${where} is ${n.toLocaleString('en-US')} ${result.tokenizer} tokens ` +
      `(vocabulary ${result.vocabSize.toLocaleString('en-US')}). Click to switch tokenizer.`,
    );
    this.item.show();
    if (this.boundaries && vscode.window.activeTextEditor === editor) this.drawBoundaries(editor, range, result);
  }

  private schedule(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.update(), DEBOUNCE_MS);
  }

  private drawBoundaries(editor: vscode.TextEditor, range: vscode.Range, result: TokenizeResult): void {
    const doc = editor.document;
    const base = doc.offsetAt(range.start);
    const even: vscode.DecorationOptions[] = [];
    const odd: vscode.DecorationOptions[] = [];
    const shown = result.tokens.slice(0, MAX_DECORATED_TOKENS);
    shown.forEach((token, i) => {
      const piece = result.pieces[i] ?? '';
      const hover = new vscode.MarkdownString();
      hover.appendMarkdown(`**token ${i}** · id \`${token.id}\` · ${result.tokenizer}\n\n`);
      hover.appendCodeblock(piece === token.text ? JSON.stringify(token.text) : `${JSON.stringify(token.text)}  →  ${JSON.stringify(piece)}`, 'text');
      const option = { range: new vscode.Range(doc.positionAt(base + token.start), doc.positionAt(base + token.end)), hoverMessage: hover };
      (i % 2 === 0 ? even : odd).push(option);
    });
    editor.setDecorations(evenToken, even);
    editor.setDecorations(oddToken, odd);
    this.lastBoundaries = [...even, ...odd].map((d) => d.range);
  }

  private clearBoundaries(): void {
    for (const editor of vscode.window.visibleTextEditors) {
      editor.setDecorations(evenToken, []);
      editor.setDecorations(oddToken, []);
    }
    this.lastBoundaries = [];
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.clearBoundaries();
    while (this.disposables.length) this.disposables.pop()?.dispose();
  }
}
