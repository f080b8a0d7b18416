// A local HTTP server that answers as the Hugging Face Hub's file API does, for the download
// tests and the e2e (no test reaches the internet):
//   GET /{repo}/resolve/{revision}/{file}
//     a small file: 200 with the bytes, ETag = its git blob sha1, X-Repo-Commit
//     an LFS file:  302 to /blobs/{sha256} on the "CDN" (a second server, another host: a token
//                   must not follow), with X-Linked-Etag, X-Linked-Size, X-Repo-Commit
//     unknown repo 404 (X-Error-Code: RepoNotFound), gated repo without the token 401 (GatedRepo),
//     unknown revision 404 (RevisionNotFound), unknown file 404 (EntryNotFound)
//   GET /blobs/{sha256}?repo=R: the bytes; honours Range (206 + Content-Range).
// Per-repo faults: `cut` (the first blob answer stops half-way, as a dropped connection),
// `wrongEtag` (X-Linked-Etag of other bytes), `hugeSize` (X-Linked-Size of a petabyte), `stall`
// (the blob answer sends half and then waits: for Cancel).
//
//   node --import tsx test/hub/fakeHub.ts   serves the fixture repos (tiny, vocab, stall) and prints its address
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { writeSafetensors, type SafeTensor } from '../../src/engine/io/safetensors';

export interface FakeFile {
  bytes: Buffer;
  /** Stored in LFS (model.safetensors): answered through a redirect with X-Linked-*. */
  lfs: boolean;
}

export interface FakeRepo {
  commit: string;
  files: Record<string, FakeFile>;
  /** Needs `Authorization: Bearer {token}`. */
  gatedToken?: string;
  cut?: boolean;
  wrongEtag?: boolean;
  hugeSize?: boolean;
  stall?: boolean;
}

export interface LoggedRequest {
  path: string;
  host: string;
  range?: string;
  authorization?: string;
}

export interface FakeHub {
  /** http://127.0.0.1:PORT: the endpoint. Blobs come from a second server (another port). */
  url: string;
  requests: LoggedRequest[];
  close(): Promise<void>;
}

const sha256 = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');
const gitSha1 = (b: Buffer) => crypto.createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');

/** A repo with the GPT-2-layout fixture gen_gpt_fixtures.py writes (test/fixtures/gpt/gpt2-tiny). */
export function gpt2TinyRepo(commit = 'a'.repeat(40), overrides: Partial<FakeRepo> = {}): FakeRepo {
  const dir = path.join(__dirname, '..', 'fixtures', 'gpt', 'gpt2-tiny');
  return {
    commit,
    files: {
      'config.json': { bytes: fs.readFileSync(path.join(dir, 'config.json')), lfs: false },
      'model.safetensors': { bytes: fs.readFileSync(path.join(dir, 'model.safetensors')), lfs: true },
    },
    ...overrides,
  };
}

/**
 * A GPT-2-layout model with GPT-2's own vocabulary (50,257 tokens, so the gpt2 tokenizer reads any
 * text with it) and tiny sizes (n_embd 16, 4 heads, 1 block, 64 positions): what the panel shows
 * after Download Model. Seeded weights (N(0, 0.02) as GPT-2's init, layer norms 1 and 0), 3.3 MB.
 */
export function gpt2VocabRepo(commit = 'b'.repeat(40), overrides: Partial<FakeRepo> = {}): FakeRepo {
  const vocab = 50257;
  const dim = 16;
  const positions = 64;
  const random = (() => {
    let state = 7;
    return () => {
      state = (state + 0x6d2b79f5) >>> 0;
      let t = Math.imul(state ^ (state >>> 15), state | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
    };
  })();
  const normal = (count: number) => Float32Array.from({ length: count }, () => 0.02 * Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random()));
  const filled = (count: number, value: number) => new Float32Array(count).fill(value);
  const tensors = new Map<string, SafeTensor>([
    ['wte.weight', { shape: [vocab, dim], data: normal(vocab * dim) }],
    ['wpe.weight', { shape: [positions, dim], data: normal(positions * dim) }],
    ['h.0.ln_1.weight', { shape: [dim], data: filled(dim, 1) }],
    ['h.0.ln_1.bias', { shape: [dim], data: filled(dim, 0) }],
    ['h.0.attn.c_attn.weight', { shape: [dim, 3 * dim], data: normal(3 * dim * dim) }],
    ['h.0.attn.c_attn.bias', { shape: [3 * dim], data: filled(3 * dim, 0) }],
    ['h.0.attn.c_proj.weight', { shape: [dim, dim], data: normal(dim * dim) }],
    ['h.0.attn.c_proj.bias', { shape: [dim], data: filled(dim, 0) }],
    ['h.0.ln_2.weight', { shape: [dim], data: filled(dim, 1) }],
    ['h.0.ln_2.bias', { shape: [dim], data: filled(dim, 0) }],
    ['h.0.mlp.c_fc.weight', { shape: [dim, 4 * dim], data: normal(4 * dim * dim) }],
    ['h.0.mlp.c_fc.bias', { shape: [4 * dim], data: filled(4 * dim, 0) }],
    ['h.0.mlp.c_proj.weight', { shape: [4 * dim, dim], data: normal(4 * dim * dim) }],
    ['h.0.mlp.c_proj.bias', { shape: [dim], data: filled(dim, 0) }],
    ['ln_f.weight', { shape: [dim], data: filled(dim, 1) }],
    ['ln_f.bias', { shape: [dim], data: filled(dim, 0) }],
  ]);
  const config = { architectures: ['GPT2LMHeadModel'], model_type: 'gpt2', vocab_size: vocab, n_positions: positions, n_ctx: positions, n_embd: dim, n_head: 4, n_layer: 1, layer_norm_epsilon: 1e-5 };
  return {
    commit,
    files: {
      'config.json': { bytes: Buffer.from(JSON.stringify(config, null, 2)), lfs: false },
      'model.safetensors': { bytes: Buffer.from(writeSafetensors(tensors, { format: 'pt' })), lfs: true },
    },
    ...overrides,
  };
}

export async function startFakeHub(repos: Record<string, FakeRepo>): Promise<FakeHub> {
  const requests: LoggedRequest[] = [];
  const cutDone = new Set<string>();
  const sockets = new Set<import('node:net').Socket>();
  const handler: http.RequestListener = (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push({
      path: url.pathname, host: req.headers.host ?? '',
      ...(req.headers.range !== undefined && { range: req.headers.range }),
      ...(req.headers.authorization !== undefined && { authorization: req.headers.authorization }),
    });
    const fail = (status: number, code: string) => {
      res.writeHead(status, { 'X-Error-Code': code, 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ error: code }));
    };
    const blob = /^\/blobs\/([0-9a-f]{64})$/.exec(url.pathname);
    if (blob) {
      // the repo rides along in the query (several repos share the fixture's bytes, each with its faults)
      const repo = repos[url.searchParams.get('repo') ?? ''];
      const bytes = Object.values(repo?.files ?? {}).find((f) => f.lfs && sha256(f.bytes) === blob[1])?.bytes;
      if (!repo || !bytes) return fail(404, 'EntryNotFound');
      const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
      const from = range ? Number(range[1]) : 0;
      const body = bytes.subarray(from);
      res.writeHead(range ? 206 : 200, {
        'Content-Length': body.length,
        'Accept-Ranges': 'bytes',
        ...(range && { 'Content-Range': `bytes ${from}-${bytes.length - 1}/${bytes.length}` }),
      });
      const key = `${url.search}`;
      if ((repo.cut && !cutDone.has(key)) || repo.stall) {
        cutDone.add(key);
        // half the bytes, then the connection drops (cut) or goes quiet (stall)
        res.write(body.subarray(0, Math.floor(body.length / 2)), () => {
          if (repo.cut) req.socket.destroy();
        });
        return;
      }
      res.end(body);
      return;
    }
    const resolve = /^\/(.+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    if (!resolve) return fail(404, 'EntryNotFound');
    const [, repoId = '', revision = '', fileName = ''] = resolve;
    const repo = repos[repoId];
    if (!repo) return fail(404, 'RepoNotFound');
    if (repo.gatedToken && req.headers.authorization !== `Bearer ${repo.gatedToken}`) return fail(401, 'GatedRepo');
    if (revision !== 'main' && revision !== repo.commit) return fail(404, 'RevisionNotFound');
    const file = repo.files[fileName];
    if (!file) return fail(404, 'EntryNotFound');
    if (!file.lfs) {
      res.writeHead(200, { ETag: `"${gitSha1(file.bytes)}"`, 'X-Repo-Commit': repo.commit, 'Content-Length': file.bytes.length });
      res.end(file.bytes);
      return;
    }
    const hash = sha256(file.bytes);
    res.writeHead(302, {
      Location: `http://127.0.0.1:${(cdn.address() as AddressInfo).port}/blobs/${hash}?repo=${encodeURIComponent(repoId)}`,
      'X-Repo-Commit': repo.commit,
      'X-Linked-Etag': `"${repo.wrongEtag ? sha256(Buffer.from('other bytes')) : hash}"`,
      'X-Linked-Size': String(repo.hugeSize ? 1e15 : file.bytes.length),
      'Content-Length': 0,
    });
    res.end();
  };
  const [server, cdn] = [http.createServer(handler), http.createServer(handler)];
  for (const s of [server, cdn]) {
    s.on('connection', (socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  }
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await Promise.all([server, cdn].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    },
  };
}

if (require.main === module) {
  void startFakeHub({
    'llm101-test/gpt2-tiny': gpt2TinyRepo(),
    'llm101-test/gpt2-vocab': gpt2VocabRepo(),
    // half of its weights arrive, then nothing: a download to watch and cancel
    'llm101-test/gpt2-stall': gpt2VocabRepo('c'.repeat(40), { stall: true }),
  }).then((hub) => console.log(hub.url));
}
