#!/work/.venv/bin/python
"""Writes the reference numbers of the experiments (logit lens, head scores, ablation, direct
logit attribution, activation patching) from Hugging Face's GPT2LMHeadModel with forward hooks,
at the points TransformerLens names (resid_pre, z, pattern, attn_out, mlp_out).

Run with a current stack (torch 2.x, transformers, safetensors):
    /work/.venv/bin/python scripts/gen_experiment_fixtures.py

Output, under test/fixtures/experiments/ (everything deterministic, about 0.5 MB):
  model/model.safetensors, model/config.json   a small GPT-2-layout model (vocab 256: one id per
                                byte, so `--tokenizer bpe --vocab-size 256` reads its texts),
                                fitted for a few hundred steps on random halves repeated twice
                                (too briefly to grow an induction head; its attention is no
                                longer the seeded model's)
  case.json                     texts, ids, and every number the tests compare (float64 sums of
                                the float32 model's tensors)
"""

import json
import math
import os

import torch
import torch.nn.functional as F
from transformers import GPT2Config, GPT2LMHeadModel

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'experiments')
CONFIG = dict(vocab_size=256, n_positions=64, n_embd=32, n_head=4, n_layer=3, layer_norm_epsilon=1e-5,
              activation_function='gelu_new', resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
              tie_word_embeddings=True, bos_token_id=None, eos_token_id=None)
HEADS = CONFIG['n_head']
HEAD_DIM = CONFIG['n_embd'] // HEADS


def make_model():
    torch.manual_seed(20)
    config = GPT2Config(**CONFIG)
    config._attn_implementation = 'eager'  # attention weights come back (output_attentions)
    model = GPT2LMHeadModel(config)
    # a brief fit on random halves repeated twice: the next token of the second half can be found
    # by looking back (an induction head), the first half's cannot
    optimizer = torch.optim.AdamW(model.parameters(), lr=float(os.environ.get('FIT_LR', '3e-3')), weight_decay=0.0)
    generator = torch.Generator().manual_seed(21)
    model.train()
    for step in range(int(os.environ.get('FIT_STEPS', '800'))):
        # halves of varying length, after a random prefix: the earlier copy is found by content,
        # not at a fixed distance
        n = int(torch.randint(4, 17, (1,), generator=generator))
        prefix = int(torch.randint(0, 8, (1,), generator=generator))
        half = torch.randint(0, 256, (32, n), generator=generator)
        batch = torch.cat([torch.randint(0, 256, (32, prefix), generator=generator), half, half], dim=1)
        loss = model(batch, labels=batch).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 250 == 0:
            print(f'fit step {step}: loss {loss.item():.3f}')
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


class Hooks:
    """Forward hooks on the HF modules at TransformerLens's hook points, reading and editing."""

    def __init__(self, model):
        self.model = model
        self.handles = []
        self.resid_pre, self.z, self.attn_out, self.mlp_out = {}, {}, {}, {}
        self.final = None
        self.edit_z = None          # (layer, z (1, T, dim)) -> z
        self.edit_resid_pre = None  # (layer, x (1, T, dim)) -> x
        blocks = model.transformer.h
        for layer, block in enumerate(blocks):
            self.handles.append(block.register_forward_pre_hook(self._resid_pre(layer), with_kwargs=True))
            self.handles.append(block.attn.c_proj.register_forward_pre_hook(self._z(layer)))
            self.handles.append(block.attn.c_proj.register_forward_hook(self._store(self.attn_out, layer)))
            self.handles.append(block.mlp.register_forward_hook(self._store(self.mlp_out, layer)))
        self.handles.append(model.transformer.ln_f.register_forward_pre_hook(self._final))

    def _resid_pre(self, layer):
        def hook(module, args, kwargs):
            positional = len(args) > 0
            x = args[0] if positional else kwargs['hidden_states']
            if self.edit_resid_pre is not None:
                x = self.edit_resid_pre(layer, x)
            self.resid_pre[layer] = x.detach().clone()
            if positional:
                return (x, *args[1:]), kwargs
            return args, {**kwargs, 'hidden_states': x}
        return hook

    def _z(self, layer):
        def hook(module, args):
            z = args[0]
            if self.edit_z is not None:
                z = self.edit_z(layer, z)
            self.z[layer] = z.detach().clone()
            return (z,)
        return hook

    @staticmethod
    def _store(into, layer):
        def hook(module, args, output):
            into[layer] = (output[0] if isinstance(output, tuple) else output).detach().clone()
        return hook

    def _final(self, module, args):
        self.final = args[0].detach().clone()

    def run(self, ids, edit_z=None, edit_resid_pre=None):
        self.edit_z, self.edit_resid_pre = edit_z, edit_resid_pre
        with torch.no_grad():
            out = self.model(torch.tensor([ids]), output_attentions=True)
        self.edit_z = self.edit_resid_pre = None
        return out.logits[0], [a[0] for a in out.attentions]  # (T, vocab), [L] (H, T, T)


def top(probabilities, k):
    values, ids = torch.sort(probabilities, descending=True, stable=True)
    return [{'id': int(i), 'p': float(p)} for p, i in zip(values[:k], ids[:k])]


def lens(model, hooks, ids):
    T = len(ids)
    readings = [hooks.resid_pre[l][0] for l in range(CONFIG['n_layer'])] + [hooks.final[0]]
    rows, final_p = [], []
    final_probs = torch.softmax(model.lm_head(model.transformer.ln_f(readings[-1])), dim=-1)
    final_ids = final_probs.argmax(dim=-1)
    for x in readings:
        with torch.no_grad():
            p = torch.softmax(model.lm_head(model.transformer.ln_f(x)), dim=-1)  # (T, vocab)
        rows.append([top(p[t], 5) for t in range(T)])
        final_p.append([float(p[t, final_ids[t]]) for t in range(T)])
    return {'top': rows, 'final': final_p}


def head_scores(text_patterns, probe_patterns, n):
    scores = []
    for layer, (a, b) in enumerate(zip(text_patterns, probe_patterns)):
        row = []
        T = a.shape[-1]
        for h in range(HEADS):
            A = a[h].double()
            B = b[h].double()
            row.append({
                'previousToken': float(torch.stack([A[t, t - 1] for t in range(1, T)]).mean()),
                'firstToken': float(A[1:, 0].mean()),
                'selfToken': float(torch.diagonal(A).mean()),
                'induction': float(torch.stack([B[t, t - n + 1] for t in range(n, 2 * n)]).mean()),
            })
        scores.append(row)
    return scores


def text_loss(logits, ids):
    return float(F.cross_entropy(logits[:-1].double(), torch.tensor(ids[1:])))


def ablation(hooks, ids, heads, mode, position, clean_logits, clean_z):
    means = {l: clean_z[l][0].mean(dim=0) for l in clean_z}  # (dim) per layer, over positions

    def edit(layer, z):
        z = z.clone()
        for (l, h) in heads:
            if l == layer:
                cols = slice(h * HEAD_DIM, (h + 1) * HEAD_DIM)
                z[0, :, cols] = 0.0 if mode == 'zero' else means[layer][cols]
        return z

    after_logits, _ = hooks.run(ids, edit_z=edit)
    log_before = torch.log_softmax(clean_logits[position].double(), dim=-1)
    log_after = torch.log_softmax(after_logits[position].double(), dim=-1)
    return {
        'heads': [[l, h] for l, h in heads], 'mode': mode, 'position': position,
        'before': top(log_before.exp(), 10), 'after': top(log_after.exp(), 10),
        'kl': float(F.kl_div(log_after, log_before, log_target=True, reduction='sum')),
        'lossBefore': text_loss(clean_logits, ids), 'lossAfter': text_loss(after_logits, ids),
    }


def scan(hooks, ids, mode, clean_logits, clean_z):
    base = text_loss(clean_logits, ids)
    return [[ablation(hooks, ids, [(l, h)], mode, len(ids) - 1, clean_logits, clean_z)['lossAfter'] - base
             for h in range(HEADS)] for l in range(CONFIG['n_layer'])]


def attribution(model, hooks, ids, position, token):
    """Parts of logit[position, token] through ln_f with its scale frozen at that position (float64)."""
    hooks.run(ids)
    x = hooks.final[0, position].double()
    sigma = math.sqrt(float(((x - x.mean()) ** 2).mean()) + CONFIG['layer_norm_epsilon'])
    ln_f = model.transformer.ln_f
    w_u = model.lm_head.weight[token].double()

    def through(v):  # W_U[token] · (scale ⊙ (v − mean v) / σ)
        v = v.double()
        return float(((v - v.mean()) / sigma * ln_f.weight.double()) @ w_u)

    heads, attn_bias, mlps = [], [], []
    for layer, block in enumerate(model.transformer.h):
        w_o = block.attn.c_proj.weight.double()  # Conv1D: (in = dim, out = dim), y = z·W + b
        z = hooks.z[layer][0, position].double()
        heads.append([through(z[h * HEAD_DIM:(h + 1) * HEAD_DIM] @ w_o[h * HEAD_DIM:(h + 1) * HEAD_DIM]) for h in range(HEADS)])
        attn_bias.append(through(block.attn.c_proj.bias))
        mlps.append(through(hooks.mlp_out[layer][0, position]))
    logits, _ = hooks.run(ids)
    return {
        'position': position, 'id': token, 'logit': float(logits[position, token]),
        'embed': through(hooks.resid_pre[0][0, position]), 'heads': heads, 'attnBias': attn_bias, 'mlps': mlps,
        'finalNormBias': float(ln_f.bias.double() @ w_u),
    }


def patching(hooks, clean_ids, corrupt_ids, answer, wrong):
    clean_logits, _ = hooks.run(clean_ids)
    clean_resid = {l: hooks.resid_pre[l].clone() for l in hooks.resid_pre}
    corrupt_logits, _ = hooks.run(corrupt_ids)
    metric = lambda logits: float(logits[-1, answer].double() - logits[-1, wrong].double())
    m_clean, m_corrupt = metric(clean_logits), metric(corrupt_logits)
    grid = []
    for layer in range(CONFIG['n_layer']):
        row = []
        for p in range(len(clean_ids)):
            def edit(l, x, layer=layer, p=p):
                if l != layer:
                    return x
                x = x.clone()
                x[0, p] = clean_resid[layer][0, p]
                return x
            logits, _ = hooks.run(corrupt_ids, edit_resid_pre=edit)
            row.append((metric(logits) - m_corrupt) / (m_clean - m_corrupt))
        grid.append(row)
    return {'clean': m_clean, 'corrupt': m_corrupt, 'grid': grid}


def main():
    torch.set_num_threads(1)
    model = make_model()
    folder = os.path.join(ROOT, 'model')
    os.makedirs(folder, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    for extra in ('generation_config.json',):
        if os.path.exists(os.path.join(folder, extra)):
            os.remove(os.path.join(folder, extra))

    hooks = Hooks(model)
    text = 'the sea reads the shore; the sea reads'
    ids = list(text.encode('utf-8'))
    logits, patterns = hooks.run(ids)
    clean_z = {l: z.clone() for l, z in hooks.z.items()}

    probe_length, probe_seed = 10, 7
    half = torch.randint(0, 256, (probe_length,), generator=torch.Generator().manual_seed(probe_seed)).tolist()
    probe = half + half
    _, probe_patterns = hooks.run(probe)
    hooks.run(ids)  # the text's cache again

    clean, corrupt = 'kq7mz kq7m', 'kq7mw kq7m'
    case = {
        'torch': torch.__version__,
        'text': text, 'ids': ids,
        'lens': lens(model, hooks, ids),
        'probe': {'length': probe_length, 'seed': probe_seed, 'ids': probe},
        'headScores': head_scores(patterns, probe_patterns, probe_length),
        'ablations': [
            ablation(hooks, ids, [(1, 2)], 'zero', len(ids) - 1, logits, clean_z),
            ablation(hooks, ids, [(0, 1), (2, 3)], 'mean', 5, logits, clean_z),
        ],
        'scan': {'zero': scan(hooks, ids, 'zero', logits, clean_z), 'mean': scan(hooks, ids, 'mean', logits, clean_z)},
        'attributions': [
            attribution(model, hooks, ids, len(ids) - 1, int(logits[-1].argmax())),
            attribution(model, hooks, ids, 3, ord('s')),
        ],
        'patching': {'cleanText': clean, 'corruptText': corrupt, 'answer': 'z', 'wrong': 'w',
                     **patching(hooks, list(clean.encode()), list(corrupt.encode()), ord('z'), ord('w'))},
    }
    with open(os.path.join(ROOT, 'case.json'), 'w') as f:
        json.dump(case, f, indent=1)
        f.write('\n')
    best = max(((l, h, s['induction']) for l, row in enumerate(case['headScores']) for h, s in enumerate(row)), key=lambda x: x[2])
    print(f'wrote {ROOT}; strongest induction head: layer {best[0] + 1} head {best[1] + 1} ({best[2]:.3f})')


if __name__ == '__main__':
    main()
