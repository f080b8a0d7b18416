// The models that ship with the extension (media/models/, trained by `npm run train:sample`) and
// the names llm101.weightsPath accepts besides a path: `poems` is the bundled poems model,
// `copying` the bundled copying model, and `seeded` (or empty) weights drawn from llm101.seed
// (untrained, sized by the dim/heads/layers settings).
import * as path from 'node:path';

export interface BundledModel {
  /** The name llm101.weightsPath accepts. */
  name: 'poems' | 'copying';
  file: string;
  label: string;
  detail: string;
}

export const BUNDLED_MODELS: readonly BundledModel[] = [
  {
    name: 'poems',
    file: 'poems.safetensors',
    label: 'Poems (bundled, trained)',
    detail: 'a small GPT trained on the bundled poems: its attention has learned which earlier words matter (word tokenizer, context 256)',
  },
  {
    name: 'copying',
    file: 'copying.safetensors',
    label: 'Copying (bundled, trained): copies what it has seen',
    detail: 'trained on random words written two or three times: block 1\'s head attends to the previous word, block 2\'s is an induction head that copies what followed the earlier occurrence (context 64)',
  },
];

/** The llm101.weightsPath value for seeded, untrained weights. */
export const SEEDED = 'seeded';

export function bundledModelPath(extensionPath: string, model: BundledModel): string {
  return path.join(extensionPath, 'media', 'models', model.file);
}

/**
 * The weights file llm101.weightsPath names, or undefined for seeded weights: a bundled model's
 * name, `seeded` (or empty), or a path (resolved by `resolvePath`).
 */
export function resolveWeightsSetting(value: string, extensionPath: string, resolvePath: (p: string) => string | undefined): string | undefined {
  const wanted = value.trim();
  if (wanted === '' || wanted === SEEDED) return undefined;
  const bundled = BUNDLED_MODELS.find((m) => m.name === wanted);
  return bundled ? bundledModelPath(extensionPath, bundled) : resolvePath(wanted);
}
