// The exported project's train.py, written by `llm101 export --pytorch` (src/export/pytorchProject.ts).
// Python source as it is (String.raw keeps the backslashes); it holds no backtick and no dollar-brace.
export const TRAIN_PY = String.raw`"""Goes on training the checkpoint on a corpus and writes a checkpoint LLM 101 Playground loads
back (the same names, config and tokenizer; the step count and losses carried on).

    python train.py --corpus poems/ --steps 1000 --out trained.safetensors          # one process (CPU or one GPU)
    torchrun --nproc_per_node=4 train.py --corpus poems/ --steps 1000 --out trained.safetensors

Under torchrun every process trains a replica (DistributedDataParallel averages the gradients),
each on its own random windows, so one step sees batch x processes windows; on GPUs the backend
is NCCL, on CPUs gloo. AdamW starts afresh (the checkpoint holds weights, not optimizer state).
Batches are random windows of context + 1 tokens from the first 90 % of the tokens; the rest
validates. Ctrl+C saves the last completed step.
"""

import argparse
import json
import math
import os

import torch
import torch.distributed as dist
import torch.nn.functional as F

from model import load_checkpoint, save_checkpoint
from tokenizer import tokenizer_from_metadata

HERE = os.path.dirname(os.path.abspath(__file__))


def read_corpus(paths):
    """Each path a .txt file or a folder of them (in name order), joined as the extension joins them."""
    parts = []
    for path in paths:
        if os.path.isdir(path):
            names = sorted(n for n in os.listdir(path) if n.lower().endswith('.txt'))
            if not names:
                raise SystemExit(f'{path} holds no .txt files')
            parts.append('\n'.join(open(os.path.join(path, n), encoding='utf-8-sig').read() for n in names))
        else:
            parts.append(open(path, encoding='utf-8-sig').read())
    return '\n\n'.join(parts)


def batch(ids, context, size, generator, device):
    starts = torch.randint(len(ids) - context, (size,), generator=generator)
    rows = torch.stack([ids[s:s + context + 1] for s in starts.tolist()]).to(device)
    return rows[:, :-1], rows[:, 1:]


def loss_of(model, inputs, targets):
    logits = model(inputs)
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten())


@torch.no_grad()
def evaluate(model, ids, context, device, max_windows=40):
    """Mean loss over the windows 0, C, 2C, ... (no dropout), or None when too short for one."""
    starts = list(range(0, len(ids) - context, context))[:max_windows]
    if not starts:
        return None
    model.eval()
    rows = torch.stack([ids[s:s + context + 1] for s in starts]).to(device)
    loss = loss_of(model, rows[:, :-1], rows[:, 1:]).item()
    model.train()
    return loss


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--checkpoint', default=os.path.join(HERE, 'model.safetensors'), help='the weights to start from')
    parser.add_argument('--corpus', nargs='+', required=True, help='.txt files or folders of them')
    parser.add_argument('--out', required=True, help='the checkpoint to write (.safetensors)')
    parser.add_argument('--steps', type=int, default=1000)
    parser.add_argument('--batch', type=int, default=8, help='windows per step and process')
    parser.add_argument('--lr', type=float, default=4e-4)
    parser.add_argument('--weight-decay', type=float, default=0.1)
    parser.add_argument('--dropout', type=float, default=0.1)
    parser.add_argument('--val-fraction', type=float, default=0.1)
    parser.add_argument('--eval-every', type=int, default=100)
    parser.add_argument('--seed', type=int, default=123)
    parser.add_argument('--device', default=None, help='cpu, cuda, cuda:1, ... (default: a GPU when there is one)')
    args = parser.parse_args()
    if args.steps < 1 or args.batch < 1 or not args.lr > 0:
        parser.error('--steps and --batch must be at least 1 and --lr above 0')

    distributed = int(os.environ.get('WORLD_SIZE', '1')) > 1
    rank, local_rank = int(os.environ.get('RANK', '0')), int(os.environ.get('LOCAL_RANK', '0'))
    if args.device:
        device = torch.device(args.device)
    elif torch.cuda.is_available():
        device = torch.device('cuda', local_rank)
    else:
        device = torch.device('cpu')
    if device.type == 'cuda':
        torch.cuda.set_device(device)
    if distributed:
        dist.init_process_group(backend='nccl' if device.type == 'cuda' else 'gloo')
    main_process = rank == 0
    torch.manual_seed(args.seed)

    model, metadata = load_checkpoint(args.checkpoint, dropout=args.dropout)
    context = model.cfg['context_length']
    tokenizer = tokenizer_from_metadata(metadata)
    ids = torch.tensor(tokenizer.encode(read_corpus(args.corpus)), dtype=torch.long)
    if ids.numel() and int(ids.max()) >= model.cfg['vocab_size']:
        raise SystemExit('the tokenizer gives ids outside the model\'s vocabulary: the checkpoint is inconsistent')
    split = int((1 - args.val_fraction) * len(ids))
    train_ids, val_ids = ids[:split], ids[split:]
    if len(train_ids) < context + 1:
        raise SystemExit(f'the corpus has {len(ids)} tokens, too few for one window of {context + 1} after the validation split')

    model.to(device).train()
    trained = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == 'cuda' else None) if distributed else model
    optimizer = torch.optim.AdamW(trained.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    generator = torch.Generator().manual_seed(args.seed + rank)  # each process its own windows

    start_step = int(metadata.get('llm101.step', '0'))
    history = json.loads(metadata.get('llm101.losses', '{"steps": [], "evals": []}'))
    last_eval = (None, None)
    step = 0
    try:
        for step in range(1, args.steps + 1):
            inputs, targets = batch(train_ids, context, args.batch, generator, device)
            loss = loss_of(trained, inputs, targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if main_process:
                history['steps'].append([start_step + step, round(loss.item(), 6)])
            if main_process and (step % args.eval_every == 0 or step == args.steps):
                last_eval = (evaluate(model, train_ids, context, device), evaluate(model, val_ids, context, device))
                history['evals'].append([start_step + step, *last_eval])
                fmt = lambda x: 'n/a' if x is None else f'{x:.4f}'
                print(f'step {start_step + step}: loss {loss.item():.4f}, train loss {fmt(last_eval[0])}, validation loss {fmt(last_eval[1])}', flush=True)
    except KeyboardInterrupt:
        step -= 1  # the step in progress did not finish
        if main_process:
            print(f'stopped after {step} steps; saving', flush=True)
    if main_process:
        out = dict(metadata)
        out['llm101.step'] = str(start_step + step)
        out['llm101.losses'] = json.dumps(history)
        for key, value in zip(('llm101.trainLoss', 'llm101.valLoss'), last_eval):
            if value is not None:
                out[key] = str(value)
        save_checkpoint(args.out, model.to('cpu'), out)
        print(f'wrote {args.out} at step {start_step + step}')
    if distributed:
        dist.destroy_process_group()


if __name__ == '__main__':
    main()
`;
