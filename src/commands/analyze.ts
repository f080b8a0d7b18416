// "Analyze Selection" and "Open Playground": gather the text, hand it to the panel.
import * as vscode from 'vscode';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PlaygroundPanel, samplePoemSource, type PanelSource } from '../panels/PlaygroundPanel';
import type { EngineClient } from '../host/engineClient';
import type { SectionId } from '../shared/protocol';
import { SECTIONS } from '../shared/protocol';

/** The text the command analyzes: the first non-empty selection, else the whole document. */
export function sourceFromEditor(editor: vscode.TextEditor): PanelSource | string {
  const doc = editor.document;
  const selection = editor.selections.find((s) => !s.isEmpty);
  const range = selection ?? new vscode.Range(doc.positionAt(0), doc.positionAt(doc.getText().length));
  const text = doc.getText(range);
  if (!text.trim()) {
    return selection
      ? 'LLM 101: the selection is only whitespace. Select some words and run Analyze Selection again.'
      : 'LLM 101: the document is empty. Type or open some text, select it and run Analyze Selection.';
  }
  return { text, title: text, uri: doc.uri.toString(), offset: doc.offsetAt(range.start) };
}

// While the panel has focus there is no active text editor (a knob was just touched, say): the
// commands use the text editor the user was in last.
let lastEditor: vscode.TextEditor | undefined;
let tracking = false;

/** Output channels and the like are text editors too, but not text anyone analyzes. */
const isUserText = (editor: vscode.TextEditor) => editor.document.uri.scheme !== 'output';

function trackEditors(context: vscode.ExtensionContext): void {
  if (tracking) return;
  tracking = true;
  const active = vscode.window.activeTextEditor;
  if (active && isUserText(active)) lastEditor = active;
  context.subscriptions.push(
    vscode.window.onDidChangeActiveTextEditor((editor) => { if (editor && isUserText(editor)) lastEditor = editor; }),
    { dispose: () => { tracking = false; lastEditor = undefined; } },
  );
}

/**
 * The editor whose selection the command analyzes: the active one; else the one the user was in
 * last, if still open; else the visible editor the panel shows, or one with a selection.
 */
export function editorForCommand(): vscode.TextEditor | undefined {
  const active = vscode.window.activeTextEditor;
  if (active && isUserText(active)) return active;
  const visible = vscode.window.visibleTextEditors.filter(isUserText);
  const sameDoc = (doc: vscode.TextDocument | undefined) => visible.find((e) => e.document === doc);
  const shown = PlaygroundPanel.current?.currentSource.uri;
  return sameDoc(lastEditor?.document)
    ?? (lastEditor && !lastEditor.document.isClosed ? lastEditor : undefined)
    ?? visible.find((e) => e.document.uri.toString() === shown)
    ?? visible.find((e) => e.selections.some((s) => !s.isEmpty))
    ?? visible[0];
}

export async function analyzeSelection(context: vscode.ExtensionContext, engine: EngineClient): Promise<PlaygroundPanel | undefined> {
  trackEditors(context);
  const editor = editorForCommand();
  if (!editor) {
    void vscode.window.showInformationMessage('LLM 101: open a file and select some text, then run Analyze Selection.');
    return undefined;
  }
  const source = sourceFromEditor(editor);
  if (typeof source === 'string') {
    void vscode.window.showInformationMessage(source);
    return undefined;
  }
  return PlaygroundPanel.show(context, engine, source);
}

/**
 * Opens the panel on a sample poem, optionally scrolled to one section (walkthrough steps). The
 * poem opens in an editor (read-only, its first stanza selected) so hovering lights its tokens;
 * from the walkthrough it opens beside it, and the panel beside the poem.
 */
export async function openPlayground(context: vscode.ExtensionContext, engine: EngineClient, section?: unknown): Promise<PlaygroundPanel> {
  trackEditors(context);
  const target = typeof section === 'string' && (SECTIONS as readonly string[]).includes(section) ? (section as SectionId) : undefined;
  const open = PlaygroundPanel.current;
  if (open && target) {
    open.reveal(target);
    return open;
  }
  // Not in the panel's column: the poem must not cover it (nor the walkthrough it came from).
  const panelColumn = open?.panel.viewColumn;
  const column = panelColumn !== undefined
    ? (panelColumn === vscode.ViewColumn.One ? vscode.ViewColumn.Two : vscode.ViewColumn.One)
    : target ? vscode.ViewColumn.Beside : vscode.ViewColumn.Active;
  const poem = await openSamplePoem(context, column);
  const source = poem ? sourceFromEditor(poem) : undefined;
  const panel = PlaygroundPanel.show(context, engine, source && typeof source !== 'string' ? { ...source, title: 'sample poem' } : samplePoemSource(context));
  if (target) panel.reveal(target);
  return panel;
}

/** The first bundled poem in an editor with its first stanza (what the panel analyzes) selected; undefined if it cannot be opened. */
async function openSamplePoem(context: vscode.ExtensionContext, viewColumn: vscode.ViewColumn): Promise<vscode.TextEditor | undefined> {
  const dir = path.join(context.extensionPath, 'media', 'corpus');
  const first = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.txt')).sort()[0] : undefined;
  if (!first) return undefined;
  try {
    const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(path.join(dir, first)));
    const editor = await vscode.window.showTextDocument(doc, { viewColumn, preview: false });
    // The extension's own corpus: looked at, not edited.
    await vscode.commands.executeCommand('workbench.action.files.setActiveEditorReadonlyInSession').then(undefined, () => undefined);
    const stanza = samplePoemSource(context).text;
    const at = doc.getText().indexOf(stanza);
    if (at >= 0) {
      const range = new vscode.Range(doc.positionAt(at), doc.positionAt(at + stanza.length));
      editor.selection = new vscode.Selection(range.start, range.end);
      editor.revealRange(range, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
    }
    return editor;
  } catch (err) {
    console.warn(`[llm101] could not open the sample poem ${first}: ${err instanceof Error ? err.message : String(err)}`);
    return undefined;
  }
}
