// A GPT-2-style model from the Hugging Face Hub, by name: `gpt2`, `distilgpt2`, `gpt2-medium` or
// any `org/name` whose config.json and model.safetensors have GPT-2's layout. The user's Hugging
// Face cache is looked in first (no network); else config.json is fetched and checked (a repo of
// another architecture is refused before its weights are), then model.safetensors is downloaded,
// checked against the hub's sha256 and its tensor names, and only then do the files and the ref
// appear, in our folder in the cache's own layout. A failure leaves nothing behind.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import type * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { weightsLayoutOf } from '../engine/io/gptCheckpoint';
import { blobSha256, findSnapshot, hfHubCacheDir, repoFolderName, repoIdProblem, revisionProblem } from './hfCache';
import { HubError, downloadFile, etagMismatch, offline, openUrl, readBody, type DownloadProgress, type HubRequestOptions } from './hubHttp';

export const PUBLIC_HUB = 'https://huggingface.co';

/** The endpoint: the setting (llm101.hubEndpoint) or flag when given, else HF_ENDPOINT, else the public hub. */
export function hubEndpoint(configured: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const chosen = configured?.trim() || env.HF_ENDPOINT?.trim() || PUBLIC_HUB;
  return chosen.replace(/\/+$/, '');
}

/** Where `llm101 download` keeps models when --dir is not given: a cache folder of ours. */
export function defaultDownloadDir(env: NodeJS.ProcessEnv = process.env): string {
  const cacheHome = env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(cacheHome, 'llm101', 'models');
}

export interface FetchModelOptions extends HubRequestOptions {
  revision?: string;
  endpoint: string;
  /** Our folder for downloads (the extension's global storage, or --dir). */
  dir: string;
  /** For HF_HUB_CACHE / HF_HOME (default process.env). */
  env?: NodeJS.ProcessEnv;
  onProgress?: (progress: DownloadProgress) => void;
}

export interface FetchedModel {
  repo: string;
  /** The folder with config.json and model.safetensors: what llm101.weightsPath points at. */
  path: string;
  /** Downloaded now, or found on disk (the Hugging Face cache or an earlier download). */
  source: 'download' | 'cache';
  /** model.safetensors's size and sha256. */
  bytes: number;
  sha256: string;
  commit: string;
}

/** The fields of GPT-2's config.json the playground reads. */
const GPT2_SIZES = ['n_embd', 'n_head', 'n_layer', 'n_positions', 'vocab_size'] as const;

/** Undefined when a config.json describes a GPT-2-style model, else why not (for the message). */
export function notGpt2Reason(config: unknown): string | undefined {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) return 'its config.json is not a JSON object';
  const c = config as Record<string, unknown>;
  if (c.model_type !== 'gpt2') {
    const archs = Array.isArray(c.architectures) ? ` (${c.architectures.join(', ')})` : '';
    return `its config.json says model_type ${JSON.stringify(c.model_type ?? null)}${archs}, not "gpt2"`;
  }
  const missing = GPT2_SIZES.filter((key) => !(typeof c[key] === 'number' && Number.isInteger(c[key]) && (c[key] as number) > 0));
  return missing.length ? `its config.json lacks ${missing.join(', ')}` : undefined;
}

function notGpt2(repo: string, reason: string): HubError {
  return new HubError('not-gpt2', `${repo} is not a GPT-2-style model: ${reason}; the playground reads GPT-2's layout: try gpt2, distilgpt2, gpt2-medium or a GPT-2 fine-tune`);
}

function readConfigFile(file: string): unknown {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
  } catch (err) {
    return `unreadable (${err instanceof Error ? err.message : String(err)})`;
  }
}

function sha256OfFile(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = crypto.createHash('sha256');
    fs.createReadStream(file).on('data', (chunk) => hash.update(chunk)).on('end', () => resolve(hash.digest('hex'))).on('error', reject);
  });
}

/** What a 401/403/404 from the resolve endpoint means for `file` of `repo` (huggingface_hub reads X-Error-Code the same way). */
function statusError(res: http.IncomingMessage, repo: string, revision: string, file: string, endpoint: string, hasToken: boolean): HubError {
  const status = res.statusCode ?? 0;
  const raw = res.headers['x-error-code'];
  const code = Array.isArray(raw) ? raw[0] : raw;
  const page = `${endpoint}/${repo}`;
  if (code === 'GatedRepo' || status === 403) {
    return new HubError('access', `${repo} is gated or private: it needs access and a token — ask for access on ${page}, then set HF_TOKEN to a token with read access${hasToken ? ' (the token given has no access yet)' : ''}`);
  }
  if (code === 'RevisionNotFound') return new HubError('not-found', `${repo} has no revision ${JSON.stringify(revision)}; leave it out for main, or give a branch, tag or commit of ${page}`);
  if (code === 'EntryNotFound' || (status === 404 && code !== 'RepoNotFound')) {
    if (code === undefined && status === 404 && file === 'config.json') {
      return new HubError('not-found', `no model ${repo} on ${new URL(endpoint).host} (404); check the name (e.g. gpt2, distilgpt2, gpt2-medium, openai-community/gpt2)`);
    }
    return file === 'model.safetensors'
      ? new HubError('not-gpt2', `${repo} has no model.safetensors at ${revision} (only other weight formats?); the playground reads safetensors: pick a repo that has it`)
      : new HubError('not-found', `${repo} has no ${file} at ${revision}`);
  }
  if (status === 401 || code === 'RepoNotFound') {
    return hasToken
      ? new HubError('access', `${repo} was not found or the token in HF_TOKEN has no access to it (${status}); check the name and the token's permissions on ${endpoint}`)
      : new HubError('not-found', `no model ${repo} on ${new URL(endpoint).host} (${status}); check the name (e.g. gpt2, distilgpt2, gpt2-medium) — a private or gated repo needs a token: set HF_TOKEN`);
  }
  return new HubError('http', `${endpoint} answered ${status} ${res.statusMessage ?? ''} for ${repo}/${file}; try again later`.replace(/ {2,}/g, ' '));
}

/**
 * The folder of `repo` at `revision`: from the Hugging Face cache or our folder when there,
 * else downloaded into our folder. Throws HubError with one line saying what to do.
 */
export async function fetchModel(repo: string, options: FetchModelOptions): Promise<FetchedModel> {
  const revision = options.revision ?? 'main';
  const problem = repoIdProblem(repo) ?? revisionProblem(revision);
  if (problem) throw new HubError('bad-input', problem);
  const env = options.env ?? process.env;

  for (const cacheDir of [hfHubCacheDir(env), options.dir]) {
    const found = findSnapshot(cacheDir, repo, revision);
    if (!found) continue;
    const reason = notGpt2Reason(readConfigFile(path.join(found.folder, 'config.json')));
    if (reason) throw notGpt2(repo, reason);
    const weights = path.join(found.folder, 'model.safetensors');
    return {
      repo, path: found.folder, source: 'cache', commit: found.commit,
      bytes: fs.statSync(weights).size,
      sha256: blobSha256(weights) ?? await sha256OfFile(weights),
    };
  }

  const { endpoint } = options;
  const hasToken = Boolean(options.token);
  const resolveUrl = (file: string) => `${endpoint}/${repo}/resolve/${encodeURIComponent(revision)}/${file}`;

  // config.json first: small, and it says whether the weights are worth fetching
  let opened;
  try {
    opened = await openUrl(resolveUrl('config.json'), options);
  } catch (err) {
    if (err instanceof HubError) throw err;
    throw offline(resolveUrl('config.json'), err);
  }
  if (opened.res.statusCode !== 200) {
    opened.res.resume();
    throw statusError(opened.res, repo, revision, 'config.json', endpoint, hasToken);
  }
  let configBytes: Buffer;
  try {
    configBytes = await readBody(opened.res);
  } catch (err) {
    if (err instanceof HubError) throw err;
    throw offline(resolveUrl('config.json'), err);
  }
  const mismatch = etagMismatch(configBytes, opened.meta.etag);
  if (mismatch) throw new HubError('checksum', `${repo}'s config.json arrived damaged (${mismatch}); download again`);
  let config: unknown;
  try {
    config = JSON.parse(configBytes.toString('utf8'));
  } catch {
    throw notGpt2(repo, 'its config.json is not JSON');
  }
  const reason = notGpt2Reason(config);
  if (reason) throw notGpt2(repo, reason);

  const commit = opened.meta.commit && /^[0-9a-f]{40}$/.test(opened.meta.commit) ? opened.meta.commit : revision;
  const repoDir = path.join(options.dir, repoFolderName(repo));
  const snapshot = path.join(repoDir, 'snapshots', commit);
  const created = !fs.existsSync(snapshot);
  try {
    fs.mkdirSync(snapshot, { recursive: true });
  } catch (err) {
    throw new HubError('bad-input', `cannot create ${snapshot}: ${err instanceof Error ? err.message : String(err)}`);
  }
  try {
    const weights = await downloadFile({
      url: resolveUrl('model.safetensors'),
      dest: path.join(snapshot, 'model.safetensors'),
      label: `${repo}/model.safetensors`,
      statusError: (res) => statusError(res, repo, revision, 'model.safetensors', endpoint, hasToken),
      verify: (part) => {
        let layout: string;
        try {
          layout = weightsLayoutOf(part).layout;
        } catch (err) {
          throw notGpt2(repo, `its model.safetensors cannot be read (${err instanceof Error ? err.message : String(err)})`);
        }
        if (layout !== 'gpt2') throw notGpt2(repo, `its model.safetensors holds ${layout === 'book' ? "the book's GPTModel names" : "the seven stages' weights"}, not GPT-2's (wte, wpe, h.*)`);
      },
      ...(options.onProgress && { onProgress: options.onProgress }),
    }, options);
    // config.json and the ref last: a folder with both files is a finished download
    writeAtomically(path.join(snapshot, 'config.json'), configBytes);
    fs.mkdirSync(path.join(repoDir, 'refs'), { recursive: true });
    if (!/^[0-9a-f]{40}$/.test(revision)) writeAtomically(path.join(repoDir, 'refs', revision), Buffer.from(commit));
    return { repo, path: snapshot, source: 'download', bytes: weights.bytes, sha256: weights.sha256, commit };
  } catch (err) {
    if (created) fs.rmSync(snapshot, { recursive: true, force: true });
    throw err;
  }
}

function writeAtomically(file: string, bytes: Uint8Array): void {
  const part = `${file}.part`;
  fs.writeFileSync(part, bytes);
  fs.renameSync(part, file);
}
