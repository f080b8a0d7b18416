// "Load Model…": which weights the playground uses. A model from the Hugging Face Hub (Download
// Model…), a bundled trained model, seeded and untrained weights, or a checkpoint file or folder.
// A checkpoint is read (its header) before anything changes: one that cannot be read keeps the
// previous model, and what the file does not say (its heads; the tokenizer of a vocabulary that
// is not GPT-2's and carries none) is asked here rather than failing in the panel later.
import * as vscode from 'vscode';
import * as fs from 'node:fs';
import { weightsLayoutOf } from '../engine/io/gptCheckpoint';
import { modelNameOf } from '../engine/io/modelName';
import { TOKENIZER_METADATA_KEY } from '../engine/tokenizer';
import { BUNDLED_MODELS, SEEDED, bundledModelPath } from '../bundledModels';
import { readSettings, SECTION } from '../settings';
import { downloadModel } from './download';

/** GPT-2's vocabulary: a checkpoint with this many token rows reads with the gpt2 tokenizer. */
const GPT2_VOCAB = 50257;
/** The book's (GPT-2's) heads per model width: 124M, 355M, 774M, 1558M. */
const BOOK_HEADS: Readonly<Record<number, number>> = { 768: 12, 1024: 16, 1280: 20, 1600: 25 };

/** Heads that divide `dim`, the book's choice for this width first, then heads of size 64, then the rest. */
export function headChoices(dim: number): number[] {
  const divisors: number[] = [];
  for (let h = 1; h <= Math.min(dim, 64); h++) if (dim % h === 0) divisors.push(h);
  const first = [BOOK_HEADS[dim], dim % 64 === 0 ? dim / 64 : undefined].filter((h): h is number => h !== undefined && divisors.includes(h));
  return [...new Set([...first, ...divisors])];
}

type Choice = vscode.QuickPickItem & { id: 'download' | 'seeded' | 'file' | 'bundled'; bundled?: (typeof BUNDLED_MODELS)[number] };

function scope(): vscode.ConfigurationTarget {
  return vscode.workspace.workspaceFolders?.length ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
}

/** Resolves to the new llm101.weightsPath value ('seeded', a bundled name or a path), or undefined when nothing changed. */
export async function loadModel(context: vscode.ExtensionContext): Promise<string | undefined> {
  const current = readSettings(context.extensionPath).weightsPath;
  const currentName = current ? modelNameOf(current) : SEEDED;
  const mark = (name: string) => (name === currentName ? 'current' : undefined);
  const items: Choice[] = [
    { id: 'download', label: '$(cloud-download) Download Model…', detail: 'gpt2, distilgpt2, gpt2-medium or another GPT-2 from the Hugging Face Hub (or your Hugging Face cache)' },
    ...BUNDLED_MODELS.filter((m) => fs.existsSync(bundledModelPath(context.extensionPath, m))).map((m): Choice => ({
      id: 'bundled', bundled: m, label: m.label, detail: m.detail, description: mark(modelNameOf(bundledModelPath(context.extensionPath, m))),
    })),
    { id: 'seeded', label: 'Seeded, untrained', detail: 'random weights from llm101.seed, sized by the dim, heads and layers settings: the shapes are real, the numbers are not learned', description: mark(SEEDED) },
    { id: 'file', label: 'A checkpoint file or folder…', detail: "the book's GPTModel (.safetensors), a Hugging Face GPT-2 folder, or a model trained here" },
  ];
  const choice = await vscode.window.showQuickPick(items, { title: 'LLM 101: Load Model', placeHolder: `Which weights should the playground use? (now: ${currentName})` });
  if (!choice) return undefined;
  if (choice.id === 'download') return downloadModel(context);
  const cfg = vscode.workspace.getConfiguration(SECTION);
  if (choice.id === 'seeded' || choice.bundled) {
    const value = choice.bundled?.name ?? SEEDED;
    await cfg.update('weightsPath', value, scope());
    void vscode.window.showInformationMessage(`LLM 101: llm101.weightsPath is now ${JSON.stringify(value)}: ${choice.bundled ? `the bundled ${value} model` : 'seeded, untrained weights'}.`);
    return value;
  }
  const picked = await vscode.window.showOpenDialog({
    title: 'LLM 101: Load Model (a .safetensors checkpoint, or a folder with model.safetensors and config.json)',
    canSelectFiles: true,
    canSelectFolders: true,
    canSelectMany: false,
    filters: { 'safetensors checkpoints': ['safetensors'] },
    openLabel: 'Load Model',
  });
  const target = picked?.[0];
  return target ? loadCheckpoint(target.fsPath, currentName) : undefined;
}

/**
 * Checks a checkpoint's header, asks what it does not say, then writes the settings. Resolves to
 * the path, or undefined (and every setting as it was) when it cannot be read or a question is dismissed.
 */
export async function loadCheckpoint(file: string, currentName: string): Promise<string | undefined> {
  const name = modelNameOf(file);
  let header: ReturnType<typeof weightsLayoutOf>;
  try {
    header = weightsLayoutOf(file);
  } catch (err) {
    void vscode.window.showErrorMessage(`LLM 101: cannot load ${name}: ${err instanceof Error ? err.message : String(err)}. The playground keeps ${currentName}.`);
    return undefined;
  }
  const updates: [string, unknown][] = [];
  const said: string[] = [];
  const { vocabSize, dim } = header.sizes ?? {};
  if (header.layout === 'book' && header.metadata.heads === undefined && dim !== undefined) {
    const heads = await vscode.window.showQuickPick(
      headChoices(dim).map((h, i) => ({ label: String(h), description: i === 0 ? (BOOK_HEADS[dim] === h ? "the book's choice for this width" : `heads of size ${dim / h}`) : `heads of size ${dim / h}` })),
      { title: `LLM 101: ${name} does not say how many attention heads it has`, placeHolder: `Heads (they must divide dim ${dim}); a wrong count gives wrong maps, not an error` },
    );
    if (!heads) return undefined;
    updates.push(['heads', Number(heads.label)]);
    said.push(`${heads.label} heads`);
  }
  const carriesTokenizer = header.metadata[TOKENIZER_METADATA_KEY] !== undefined;
  if (header.layout === 'book' && !carriesTokenizer && vocabSize !== undefined) {
    if (vocabSize === GPT2_VOCAB) {
      updates.push(['tokenizer', 'gpt2']);
      said.push('the gpt2 tokenizer (its vocabulary is GPT-2\'s 50,257)');
    } else {
      const kinds = [
        { label: 'word', detail: "the book's word tokenizer, its vocabulary learned from llm101.corpusPath: it must give the same vocabulary" },
        { label: 'bpe', detail: `byte-pair encoding learned from llm101.corpusPath with llm101.bpeVocabSize ${vocabSize}` },
      ];
      const kind = await vscode.window.showQuickPick(kinds, {
        title: `LLM 101: ${name} has a vocabulary of ${vocabSize.toLocaleString('en-US')} and carries no tokenizer`,
        placeHolder: 'Which tokenizer was it trained with? (the corpus must be the one it was trained on)',
      });
      if (!kind) return undefined;
      updates.push(['tokenizer', kind.label]);
      if (kind.label === 'bpe') updates.push(['bpeVocabSize', vocabSize]);
      said.push(`the ${kind.label} tokenizer`);
    }
  }
  const cfg = vscode.workspace.getConfiguration(SECTION);
  for (const [key, value] of updates) await cfg.update(key, value, scope());
  await cfg.update('weightsPath', file, scope());
  void vscode.window.showInformationMessage(`LLM 101: llm101.weightsPath is now ${vscode.workspace.asRelativePath(file)} (${header.layout === 'gpt2' ? 'GPT-2 layout' : "the book's layout"}${said.length ? `; ${said.join(', ')}` : ''}).`);
  return file;
}
