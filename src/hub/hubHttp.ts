// The Hugging Face Hub's file API over Node's own http/https (inside VS Code those modules go
// through the proxy the user configured, http.proxy; fetch would not everywhere).
//
//   GET {endpoint}/{repo}/resolve/{revision}/{file}
// answers a small file itself (ETag: its git blob sha1) and a large (LFS) one with a 302 to where
// the bytes are, carrying X-Linked-Etag (the file's sha256), X-Linked-Size and X-Repo-Commit, as
// huggingface_hub's get_hf_file_metadata reads them (constants.py, file_download.py). Redirects are
// followed here; the token goes only to the endpoint's own host, never to the one it redirects to.
// A body is written to FILE.part, a dropped connection resumes with `Range: bytes=N-`, and the
// file is renamed into place only when its size and hash are the hub's.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { EngineError } from '../engine/config';

/** What went wrong, for callers that react differently (the CLI's exit code, a toast's buttons). */
export type HubFailure = 'offline' | 'not-found' | 'access' | 'checksum' | 'disk-full' | 'not-gpt2' | 'cancelled' | 'bad-input' | 'http';

export class HubError extends EngineError {
  override readonly name = 'HubError';
  constructor(readonly reason: HubFailure, message: string) {
    super(message);
  }
}

export interface HubRequestOptions {
  /** HF_TOKEN: sent as a bearer token to the endpoint's host. */
  token?: string;
  signal?: AbortSignal;
  /** A connection silent this long counts as dropped (ms, default 30 s). */
  idleTimeoutMs?: number;
  /** How often a dropped download is resumed before giving up (default 5). */
  retries?: number;
  userAgent?: string;
}

/** What the hub says about a file, gathered along the redirects. */
export interface FileMeta {
  /** The commit the revision resolved to (X-Repo-Commit). */
  commit?: string;
  /** sha256 (64 hex, LFS files) or git blob sha1 (40 hex, small files), quotes and W/ removed. */
  etag?: string;
  size?: number;
}

export interface DownloadProgress {
  file: string;
  received: number;
  total?: number;
  bytesPerSecond: number;
  secondsLeft?: number;
}

const MAX_REDIRECTS = 10;
const OFFLINE_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'ECONNREFUSED', 'ENETUNREACH', 'EHOSTUNREACH', 'ETIMEDOUT', 'ECONNRESET', 'EPIPE', 'ENETDOWN']);

/** huggingface_hub's etag normalisation: drop a weak validator's W/ and the quotes. */
export function normalizeEtag(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  return value.replace(/^W\//, '').replace(/^"|"$/g, '') || undefined;
}

function header(res: http.IncomingMessage, name: string): string | undefined {
  const value = res.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

function sizeOf(value: string | undefined): number | undefined {
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined;
}

function cancelled(): HubError {
  return new HubError('cancelled', 'download cancelled; nothing was kept');
}

/** An error of the connection (not of the hub's answer) in a few words. */
function connectionReason(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : err instanceof Error ? err.message : String(err);
}

function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (OFFLINE_CODES.has(code) || code.startsWith('ERR_SOCKET') || code === 'ERR_STREAM_PREMATURE_CLOSE');
}

export interface Opened {
  res: http.IncomingMessage;
  meta: FileMeta;
  url: URL;
}

/**
 * GET `url`, following redirects (at most 10); the X-Linked-* and X-Repo-Commit headers of every
 * answer on the way are kept (the resolve endpoint sets them on its 302). Any status is returned;
 * the caller decides what a 404 means.
 */
export function openUrl(url: string | URL, options: HubRequestOptions, extraHeaders: Record<string, string> = {}): Promise<Opened> {
  const first = new URL(url);
  const meta: FileMeta = {};
  const step = (target: URL, hops: number): Promise<Opened> => new Promise((resolve, reject) => {
    if (options.signal?.aborted) return reject(cancelled());
    const client = target.protocol === 'https:' ? https : target.protocol === 'http:' ? http : undefined;
    if (!client) return reject(new HubError('bad-input', `cannot download from ${target.href}: only http and https addresses work`));
    const headers: Record<string, string> = { 'User-Agent': options.userAgent ?? 'llm101', 'Accept-Encoding': 'identity', ...extraHeaders };
    if (options.token && target.host === first.host) headers.Authorization = `Bearer ${options.token}`;
    const req = client.get(target, { headers }, (res) => {
      meta.commit ??= header(res, 'X-Repo-Commit');
      meta.etag ??= normalizeEtag(header(res, 'X-Linked-Etag'));
      meta.size ??= sizeOf(header(res, 'X-Linked-Size'));
      const location = header(res, 'Location');
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && location) {
        res.resume();
        if (hops >= MAX_REDIRECTS) return reject(new HubError('http', `too many redirects from ${first.href}`));
        resolve(step(new URL(location, target), hops + 1));
        return;
      }
      if (status === 200) {
        meta.etag ??= normalizeEtag(header(res, 'ETag'));
        meta.size ??= sizeOf(header(res, 'Content-Length'));
      }
      options.signal?.removeEventListener('abort', onAbort);
      resolve({ res, meta, url: target });
    });
    const onAbort = () => req.destroy(cancelled());
    options.signal?.addEventListener('abort', onAbort, { once: true });
    req.setTimeout(options.idleTimeoutMs ?? 30_000, () => req.destroy(Object.assign(new Error('the connection went silent'), { code: 'ETIMEDOUT' })));
    req.on('error', (err) => {
      options.signal?.removeEventListener('abort', onAbort);
      reject(err instanceof HubError ? err : Object.assign(err, { url: target.href }));
    });
  });
  return step(first, 0);
}

/** Reads a small answer (config.json) whole; at most `limit` bytes. */
export async function readBody(res: http.IncomingMessage, limit = 4 * 2 ** 20): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of res) {
    const piece = chunk as Buffer;
    length += piece.length;
    if (length > limit) {
      res.destroy();
      throw new HubError('http', `the answer is larger than ${limit} bytes; it is not a config file`);
    }
    chunks.push(piece);
  }
  return Buffer.concat(chunks);
}

/** The git blob id of `bytes`: sha1("blob {length}\0" + bytes), the ETag the hub gives a small file. */
export function gitBlobSha1(bytes: Uint8Array): string {
  return crypto.createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
}

/** Undefined when `bytes` match the hub's etag (or it is neither a sha256 nor a git sha1), else the mismatch. */
export function etagMismatch(bytes: Uint8Array, etag: string | undefined): string | undefined {
  if (etag === undefined) return undefined;
  if (/^[0-9a-f]{64}$/.test(etag)) {
    const sha256 = crypto.createHash('sha256').update(bytes).digest('hex');
    return sha256 === etag ? undefined : `sha256 ${sha256}, the hub's is ${etag}`;
  }
  if (/^[0-9a-f]{40}$/.test(etag)) {
    const sha1 = gitBlobSha1(bytes);
    return sha1 === etag ? undefined : `git sha1 ${sha1}, the hub's is ${etag}`;
  }
  return undefined;
}

export const MB = 1e6;
export const mb = (bytes: number) => (bytes / MB).toFixed(1);

/** "312.4 of 548.1 MB · 23.5 MB/s · 11 s left": the one wording of progress for the toast and the terminal. */
export function describeProgress(p: DownloadProgress): string {
  const amount = p.total !== undefined ? `${mb(p.received)} of ${mb(p.total)} MB` : `${mb(p.received)} MB`;
  const speed = p.bytesPerSecond > 0 ? ` · ${(p.bytesPerSecond / MB).toFixed(1)} MB/s` : '';
  const left = p.secondsLeft !== undefined && Number.isFinite(p.secondsLeft) ? ` · ${formatSeconds(p.secondsLeft)} left` : '';
  return `${p.file}: ${amount}${speed}${left}`;
}

function formatSeconds(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
}

/** The free bytes where `dir` lives, when the platform says (fs.statfs). */
function freeBytes(dir: string): number | undefined {
  try {
    const stats = fs.statfsSync(dir);
    return stats.bavail * stats.bsize;
  } catch {
    return undefined;
  }
}

function diskFull(dest: string, needed: number | undefined, free?: number): HubError {
  const need = needed !== undefined ? `: it needs ${mb(needed)} MB${free !== undefined ? `, ${mb(free)} MB are free` : ''}` : '';
  return new HubError('disk-full', `not enough disk space for ${dest}${need}; free some space and download again (nothing half-written was kept)`);
}

export interface DownloadTarget {
  /** The resolve URL (or any URL that answers the file). */
  url: string;
  /** Where the file goes; FILE.part while it arrives. */
  dest: string;
  /** The name progress shows. */
  label: string;
  /** Checks the finished .part (e.g. that it is a GPT-2 checkpoint) before it is renamed; throws to refuse it. */
  verify?: (partFile: string) => void;
  /** Called when an answer that is not 200/206 arrives, to say what it means for this file. */
  statusError: (res: http.IncomingMessage) => HubError;
  onProgress?: (progress: DownloadProgress) => void;
}

export interface Downloaded {
  meta: FileMeta;
  bytes: number;
  sha256: string;
}

/**
 * Downloads one file to `dest` through `dest.part`: resumes a dropped connection with a Range
 * request (up to `retries` times), checks the size and the sha256 against the hub's X-Linked-*
 * headers, and renames only a complete, verified file. On any failure the .part is removed.
 */
export async function downloadFile(target: DownloadTarget, options: HubRequestOptions): Promise<Downloaded> {
  const part = `${target.dest}.part`;
  const retries = options.retries ?? 5;
  let handle: fs.promises.FileHandle | undefined;
  let received = 0;
  let hash = crypto.createHash('sha256');
  const meta: FileMeta = {};
  let total: number | undefined;
  const started = performance.now();
  let startedAt = 0; // bytes already there when this call began counting speed
  let lastReport = 0;
  const report = (force: boolean) => {
    const now = performance.now();
    if (!target.onProgress || (!force && now - lastReport < 100)) return;
    lastReport = now;
    const seconds = (now - started) / 1000;
    const bytesPerSecond = seconds > 0 ? (received - startedAt) / seconds : 0;
    const secondsLeft = total !== undefined && bytesPerSecond > 0 ? (total - received) / bytesPerSecond : undefined;
    target.onProgress({ file: target.label, received, total, bytesPerSecond, ...(secondsLeft !== undefined && { secondsLeft }) });
  };
  const restart = async () => {
    received = 0;
    startedAt = 0;
    hash = crypto.createHash('sha256');
    await handle?.truncate(0);
  };
  let done = false;
  try {
    handle = await fs.promises.open(part, 'w');
    for (let attempt = 0; ; attempt++) {
      if (options.signal?.aborted) throw cancelled();
      let opened: Opened;
      try {
        opened = await openUrl(target.url, options, received > 0 ? { Range: `bytes=${received}-` } : {});
      } catch (err) {
        if (err instanceof HubError) throw err;
        if (received > 0 && attempt < retries && isConnectionError(err)) {
          await pause(250 * (attempt + 1), options.signal);
          continue;
        }
        throw offline(target.url, err);
      }
      const { res } = opened;
      const status = res.statusCode ?? 0;
      if (status !== 200 && status !== 206) {
        res.resume();
        throw target.statusError(res);
      }
      // a resumed request answers the same file: what the first answer said stands
      meta.commit ??= opened.meta.commit;
      meta.etag ??= opened.meta.etag;
      meta.size ??= opened.meta.size;
      if (status === 200 && received > 0) await restart(); // the server ignored the Range: start over
      if (status === 206) {
        const from = /^bytes (\d+)-/.exec(header(res, 'Content-Range') ?? '')?.[1];
        if (Number(from) !== received) await restart();
      }
      total = meta.size ?? (sizeOf(header(res, 'Content-Length')) ?? 0) + (status === 206 ? received : 0);
      if (received === 0 && total !== undefined) {
        const free = freeBytes(fs.existsSync(part) ? part : target.dest);
        if (free !== undefined && free < total) throw diskFull(target.dest, total, free);
      }
      try {
        for await (const chunk of res) {
          const piece = chunk as Buffer;
          hash.update(piece);
          await handle.write(piece);
          received += piece.length;
          report(false);
        }
      } catch (err) {
        if (err instanceof HubError) throw err;
        if ((err as { code?: unknown }).code === 'ENOSPC') throw diskFull(target.dest, total);
        if (options.signal?.aborted) throw cancelled();
        if (attempt < retries) {
          await pause(250 * (attempt + 1), options.signal);
          continue;
        }
        throw dropped(target.label, received, total, retries);
      }
      if (total !== undefined && received < total) {
        if (attempt < retries) continue;
        throw dropped(target.label, received, total, retries);
      }
      break;
    }
    report(true);
    await handle.close();
    handle = undefined;
    const sha256 = hash.digest('hex');
    if (meta.size !== undefined && received !== meta.size) {
      throw new HubError('checksum', `${target.label} arrived with ${received} bytes but the hub says ${meta.size}; nothing was kept, download again`);
    }
    if (meta.etag !== undefined && /^[0-9a-f]{64}$/.test(meta.etag) && sha256 !== meta.etag) {
      throw new HubError('checksum', `${target.label} arrived damaged: its sha256 is ${sha256} but the hub's X-Linked-Etag is ${meta.etag}; nothing was kept, download again`);
    }
    target.verify?.(part);
    await fs.promises.rename(part, target.dest);
    done = true;
    return { meta, bytes: received, sha256 };
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOSPC') throw diskFull(target.dest, total);
    throw err;
  } finally {
    await handle?.close().catch(() => undefined);
    if (!done) await fs.promises.rm(part, { force: true });
  }
}

/** Waits `ms` before a retry, or stops at once when cancelled. */
function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(cancelled());
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(cancelled());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export function offline(url: string, err: unknown): HubError {
  const host = new URL(url).host;
  return new HubError(
    'offline',
    `cannot reach ${host} (${connectionReason(err)}): check the network connection or proxy, or point llm101.hubEndpoint (HF_ENDPOINT on the command line) at a mirror; models already in the Hugging Face cache load without a network`,
  );
}

function dropped(label: string, received: number, total: number | undefined, retries: number): HubError {
  return new HubError(
    'offline',
    `the connection dropped ${retries + 1} times while downloading ${label} (${mb(received)}${total !== undefined ? ` of ${mb(total)}` : ''} MB); nothing was kept, try again when the network is steadier`,
  );
}
