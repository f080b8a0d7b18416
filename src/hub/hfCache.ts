// Where models from the Hugging Face Hub live on disk, in the layout huggingface_hub writes
// (file_download.py): one folder per repo, `models--{org}--{name}`, holding
//   refs/{revision}                 the commit hash the revision (a branch or tag) pointed at
//   snapshots/{commit}/{filename}   the files of that commit (huggingface_hub: links into blobs/)
// The user's own cache is read, never written; downloads made here go to a folder of ours in the
// same layout, so one lookup serves both.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** The two files a GPT-2-style model needs here (the tokenizer is GPT-2's, built in). */
export const MODEL_FILES = ['config.json', 'model.safetensors'] as const;

/** A repo id as the hub writes it: `gpt2`, or `org/name` of letters, digits, `-`, `_`, `.`. */
const REPO_ID = /^(?:[A-Za-z0-9][A-Za-z0-9._-]{0,95}\/)?[A-Za-z0-9][A-Za-z0-9._-]{0,95}$/;
const COMMIT = /^[0-9a-f]{40}$/;

/** Undefined when `repo` is a valid repo id, else what is wrong with it and how it looks. */
export function repoIdProblem(repo: string): string | undefined {
  if (REPO_ID.test(repo) && !repo.includes('..') && !repo.endsWith('.')) return undefined;
  return `${JSON.stringify(repo)} is not a Hugging Face repo id; give a name such as gpt2, distilgpt2, gpt2-medium or org/name`;
}

/** A revision (branch, tag or commit) that can be a path segment and a file name. */
export function revisionProblem(revision: string): string | undefined {
  if (/^[A-Za-z0-9._-]{1,200}$/.test(revision) && revision !== '.' && revision !== '..') return undefined;
  return `${JSON.stringify(revision)} is not a revision; give a branch, a tag or a commit hash (default main)`;
}

/** `org/name` -> `models--org--name` (huggingface_hub's repo_folder_name for a model repo). */
export function repoFolderName(repo: string): string {
  return `models--${repo.split('/').join('--')}`;
}

/**
 * The user's Hugging Face cache, as huggingface_hub finds it: HF_HUB_CACHE, else HF_HOME/hub,
 * else ~/.cache/huggingface/hub (XDG_CACHE_HOME replaces ~/.cache when set).
 */
export function hfHubCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HF_HUB_CACHE) return env.HF_HUB_CACHE;
  if (env.HF_HOME) return path.join(env.HF_HOME, 'hub');
  const cacheHome = env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(cacheHome, 'huggingface', 'hub');
}

/** A complete snapshot found on disk: the folder with both model files, and the commit it holds. */
export interface CachedSnapshot {
  folder: string;
  commit: string;
}

/**
 * The snapshot of `repo` at `revision` inside the cache folder `cacheDir` when it holds every
 * model file, else undefined. A revision that is a commit hash names its snapshot directly; a
 * branch or tag goes through refs/.
 */
export function findSnapshot(cacheDir: string, repo: string, revision: string): CachedSnapshot | undefined {
  const repoDir = path.join(cacheDir, repoFolderName(repo));
  let commit = revision;
  if (!COMMIT.test(revision)) {
    try {
      commit = fs.readFileSync(path.join(repoDir, 'refs', revision), 'utf8').trim();
    } catch {
      return undefined;
    }
    if (!COMMIT.test(commit) && revisionProblem(commit) !== undefined) return undefined;
  }
  const folder = path.join(repoDir, 'snapshots', commit);
  // statSync follows the links huggingface_hub makes into blobs/: a dangling one is a missing file
  const complete = MODEL_FILES.every((name) => {
    try {
      return fs.statSync(path.join(folder, name)).isFile();
    } catch {
      return false;
    }
  });
  return complete ? { folder, commit } : undefined;
}

/**
 * The sha256 a cached file is stored under: huggingface_hub names an LFS file's blob by it, so the
 * link's target says it without reading the file; undefined for a plain file.
 */
export function blobSha256(file: string): string | undefined {
  try {
    const name = path.basename(fs.realpathSync(file));
    return /^[0-9a-f]{64}$/.test(name) ? name : undefined;
  } catch {
    return undefined;
  }
}
