// "Analyze Selection" and "Open Playground": gather the text, hand it to the panel.
import * as vscode from 'vscode';
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

export async function analyzeSelection(context: vscode.ExtensionContext, engine: EngineClient): Promise<PlaygroundPanel | undefined> {
  const editor = vscode.window.activeTextEditor;
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

/** Opens the panel on a sample poem, optionally scrolled to one section (walkthrough steps). */
export function openPlayground(context: vscode.ExtensionContext, engine: EngineClient, section?: unknown): PlaygroundPanel {
  const panel = PlaygroundPanel.current ?? PlaygroundPanel.show(context, engine, samplePoemSource(context));
  if (typeof section === 'string' && (SECTIONS as readonly string[]).includes(section)) panel.reveal(section as SectionId);
  else panel.panel.reveal(undefined, false);
  return panel;
}
