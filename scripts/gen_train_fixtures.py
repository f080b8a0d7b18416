#!/usr/bin/python3
"""Writes the PyTorch reference fixtures of the engine's training code (src/engine/train).

Run with Debian's torch:  /usr/bin/python3 scripts/gen_train_fixtures.py

Output, under test/fixtures/train/<case>/:
  case.json              config, training settings, the token ids (sampled cases), every step's
                         batch (inputs row[:-1], targets row[1:]), the loss per step (before each
                         update), the validation loss after the last step (sampled cases)
  init.safetensors       the weights right after torch.manual_seed(123); GPTModel(cfg)
  grads.safetensors      every parameter's gradient at step 1 (before any clipping)
  final.safetensors      the weights after the last AdamW step

The model is the one reference GPTModel (src/export/python/model.py: the book's chapter 4 model,
MultiHeadAttention with a triangular mask and dropout on the attention weights, FeedForward with
the tanh GELU, pre-norm TransformerBlock with drop_shortcut, drop_emb, final_norm, out_head
without bias); names in the state_dict are the book's. Training follows the book's
chapter 5 loop (AdamW(model.parameters(), lr, weight_decay), F.cross_entropy on flattened logits)
and, for the sampled cases, nanoGPT's get_batch (torch.randint(len(data) - C, (B,))).
One thread and fixed seeds: running it twice writes the same bytes.
"""

import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_fixtures import reference, write_json, write_safetensors  # noqa: E402  (the one writer, the one model)

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'train')


# --------------------------------------------------------------------------- the model
def book_cfg(cfg):
    """The case's config (the engine's names) as the reference GPTModel's cfg (the book's keys)."""
    return {'vocab_size': cfg['vocabSize'], 'context_length': cfg['contextLength'], 'emb_dim': cfg['dim'],
            'n_heads': cfg['heads'], 'n_layers': cfg['layers'], 'drop_rate': cfg['dropout'],
            'qkv_bias': cfg['qkvBias'], 'eps': cfg['layerNormEps']}


def weights(model):
    """The state_dict without the att.mask buffers (not weights; the engine makes its own)."""
    return {k: v for k, v in model.state_dict().items() if not k.endswith('.att.mask')}


def batch_loss(model, inputs, targets):
    logits = model(inputs)
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten())


# --------------------------------------------------------------------------- cases
BASE = {'vocabSize': 64, 'contextLength': 8, 'dim': 16, 'heads': 4, 'layers': 2, 'qkvBias': False, 'layerNormEps': 1e-5, 'dropout': 0.0}

CASES = [
    # name, config changes, training settings
    ('nobias', {}, {'batch': 3, 'tokens': 8, 'lr': 1e-3, 'weightDecay': 0.1, 'steps': 3}),
    # T = 6 < contextLength: pos_emb rows 6 and 7 get no gradient (but weight decay)
    ('qkvbias', {'qkvBias': True, 'heads': 2}, {'batch': 2, 'tokens': 6, 'lr': 1e-3, 'weightDecay': 0.1, 'steps': 3}),
    # max_norm below the gradient's norm, so every step is clipped
    ('clip', {'qkvBias': True}, {'batch': 3, 'tokens': 8, 'lr': 1e-2, 'weightDecay': 0.1, 'steps': 3, 'clipGradNorm': 0.5}),
    # batches drawn as nanoGPT's get_batch from a 90/10 split, dropout from the same generator
    ('sampled-dropout', {'dropout': 0.1, 'heads': 2}, {'batch': 3, 'tokens': 8, 'lr': 1e-3, 'weightDecay': 0.1, 'steps': 3, 'sampleSeed': 7, 'corpusTokens': 200}),
    # windows longer than the kernel's row blocks and column panels (5 and 8), T = 37 < context 40
    ('long', {'contextLength': 40, 'heads': 2, 'layers': 1}, {'batch': 2, 'tokens': 37, 'lr': 1e-3, 'weightDecay': 0.1, 'steps': 3}),
    ('long-sampled-dropout', {'contextLength': 29, 'dropout': 0.2, 'qkvBias': True}, {'batch': 2, 'tokens': 29, 'lr': 1e-3, 'weightDecay': 0.1, 'steps': 3, 'sampleSeed': 11, 'corpusTokens': 400}),
]


def explicit_batches(cfg, settings, generator):
    """Random token windows (batch, tokens + 1) per step, from their own generator."""
    rows = torch.randint(0, cfg['vocabSize'], (settings['steps'], settings['batch'], settings['tokens'] + 1), generator=generator)
    return [step.tolist() for step in rows]


def write_case(name, changes, settings):
    cfg = dict(BASE, **changes)
    torch.manual_seed(123)
    model = reference.GPTModel(book_cfg(cfg))
    init = {k: v.clone() for k, v in weights(model).items()}
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings['lr'], weight_decay=settings['weightDecay'])
    sampled = 'sampleSeed' in settings
    ids = None
    if sampled:
        ids = torch.randint(0, cfg['vocabSize'], (settings['corpusTokens'],), generator=torch.Generator().manual_seed(99))
        split = int(0.9 * len(ids))
        train_ids, val_ids = ids[:split], ids[split:]
        torch.manual_seed(settings['sampleSeed'])  # batches and dropout masks come from here on
        model.train()
    else:
        fixed = explicit_batches(cfg, settings, torch.Generator().manual_seed(5))
    batches, losses, norms = [], [], []
    grads = None
    context = settings['tokens']
    for step in range(settings['steps']):
        if sampled:
            starts = torch.randint(len(train_ids) - context, (settings['batch'],))
            rows = torch.stack([train_ids[i:i + context + 1] for i in starts.tolist()])
        else:
            rows = torch.tensor(fixed[step])
        batches.append(rows.tolist())
        optimizer.zero_grad()
        loss = batch_loss(model, rows[:, :-1], rows[:, 1:])
        loss.backward()
        losses.append(loss.item())
        if grads is None:
            grads = {n: p.grad.clone() for n, p in model.named_parameters()}
        if 'clipGradNorm' in settings:
            norms.append(torch.nn.utils.clip_grad_norm_(model.parameters(), settings['clipGradNorm']).item())
        optimizer.step()
    case = {
        'config': {k: v for k, v in cfg.items() if k != 'dropout'},
        'training': settings,
        'dropout': cfg['dropout'],
        'batches': batches,
        'losses': losses,
        'torch': torch.__version__,
    }
    if norms:
        case['gradNorms'] = norms
    if sampled:
        model.eval()
        with torch.no_grad():
            starts = range(0, len(val_ids) - context, context)  # the book's stride = context windows
            rows = torch.stack([val_ids[i:i + context + 1] for i in starts])
            case['valLoss'] = batch_loss(model, rows[:, :-1], rows[:, 1:]).item()
            case['valWindows'] = len(rows)
        case['ids'] = ids.tolist()
        case['split'] = split
    folder = os.path.join(ROOT, name)
    write_json(os.path.join(folder, 'case.json'), case)
    write_safetensors(os.path.join(folder, 'init.safetensors'), init)
    write_safetensors(os.path.join(folder, 'grads.safetensors'), grads)
    write_safetensors(os.path.join(folder, 'final.safetensors'), weights(model))
    print(f'{name}: losses {", ".join(f"{x:.6f}" for x in losses)}' + (f', clipped norms {norms}' if norms else ''), file=sys.stderr)


def main():
    torch.set_num_threads(1)  # one thread: the same summation order on every machine
    for name, changes, settings in CASES:
        write_case(name, changes, settings)
    print('torch', torch.__version__, file=sys.stderr)


if __name__ == '__main__':
    main()
