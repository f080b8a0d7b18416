// How the panel and the messages name the model a path holds: a model downloaded from the Hugging
// Face Hub by its repo id (its folder is .../models--{org}--{name}/snapshots/{commit}, the cache's
// layout), a bundled model by its name, any other checkpoint by its file (or folder) name.

export function modelNameOf(weightsPath: string): string {
  const parts = weightsPath.split(/[\\/]/).filter(Boolean);
  const last = parts.at(-1) ?? weightsPath;
  const snapshot = parts.at(-2) === 'snapshots' ? parts.at(-3) : parts.at(-1) === 'model.safetensors' && parts.at(-3) === 'snapshots' ? parts.at(-4) : undefined;
  if (snapshot?.startsWith('models--')) return snapshot.slice('models--'.length).split('--').join('/');
  if (parts.at(-2) === 'models' && parts.at(-3) === 'media' && last.endsWith('.safetensors')) return `${last.slice(0, -'.safetensors'.length)} (bundled)`;
  return last;
}
