#!/usr/bin/python3
"""One training step of the book's GPTModel in PyTorch (forward, backward, AdamW), the anchor of
bench/train.mjs. The model is src/export/python/model.py's, the one reference GPTModel (the
gradient fixtures come from it too); the batch is fixed random ids, as benchTrain (src/engine/train/bench.ts) uses.

Run as bench/train.mjs does, so OpenBLAS picks this CPU's kernels:
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 bench/train-torch.py \\
      --vocab 512 --dim 128 --heads 4 --layers 4 --seq 64 --batch 12 [--steps 5] [--threads 2]
Prints one JSON line: {"msPerStep", "tokensPerSecond", "forwardMs", "backwardMs", "optimizerMs", ...}.

--fused: the same model with PyTorch's fused layer norm and GELU (F.layer_norm, F.gelu with
approximate='tanh', as nanoGPT writes them) instead of the book's elementwise formulas: the same
numbers to float32 rounding, fewer kernels and saved tensors, so the stronger anchor.
"""

import argparse
import json
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'src', 'export', 'python'))
from model import GELU, GPTModel, LayerNorm  # noqa: E402  (the one reference GPTModel, the export's model.py)

WARMUP_RUNS = 2
WARMUP_SECONDS = 0.5  # as benchTrain: at least 2 untimed steps and at least 0.5 s


def main():
    parser = argparse.ArgumentParser()
    for name in ('vocab', 'dim', 'heads', 'layers', 'seq', 'batch'):
        parser.add_argument(f'--{name}', type=int, required=True)
    parser.add_argument('--steps', type=int, default=5)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--fused', action='store_true')
    args = parser.parse_args()
    if args.fused:
        LayerNorm.forward = lambda self, x: F.layer_norm(x, (x.shape[-1],), self.scale, self.shift, self.eps)
        GELU.forward = lambda self, x: F.gelu(x, approximate='tanh')
    torch.set_num_threads(args.threads)
    torch.manual_seed(123)
    cfg = {'vocab_size': args.vocab, 'context_length': args.seq, 'emb_dim': args.dim, 'n_heads': args.heads, 'n_layers': args.layers, 'qkv_bias': False, 'drop_rate': 0.0}
    model = GPTModel(cfg)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.1)
    inputs = torch.randint(0, args.vocab, (args.batch, args.seq))
    targets = torch.randint(0, args.vocab, (args.batch, args.seq))

    def step():
        t0 = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(inputs).flatten(0, 1), targets.flatten())
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        optimizer.step()
        t3 = time.perf_counter()
        return (t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3

    started = time.perf_counter()
    warmup = 0
    while warmup < WARMUP_RUNS or time.perf_counter() - started < WARMUP_SECONDS:
        step()
        warmup += 1
    samples = [step() for _ in range(args.steps)]
    totals = [sum(s) for s in samples]
    ms = statistics.median(totals)
    # which BLAS the process loaded: Debian's torch takes libblas.so.3 from the alternatives, and
    # the reference BLAS (no libopenblas0 installed) is about 10 times slower than OpenBLAS
    with open('/proc/self/maps') as maps:
        blas = 'openblas' if 'openblas' in maps.read() else 'reference'
    print(json.dumps({
        'blas': blas,
        'msPerStep': ms,
        'tokensPerSecond': args.batch * args.seq * 1e3 / ms,
        'forwardMs': statistics.median(s[0] for s in samples),
        'backwardMs': statistics.median(s[1] for s in samples),
        'optimizerMs': statistics.median(s[2] for s in samples),
        'threads': torch.get_num_threads(),
        'warmup': warmup,
        'samplesMs': totals,
        'torch': torch.__version__,
        'fused': args.fused,
    }))


if __name__ == '__main__':
    main()
