#!/usr/bin/python3
"""Writes the PyTorch reference fixtures of the GPT model the engine tests compare against.

Run with Debian's torch:  /usr/bin/python3 scripts/gen_gpt_fixtures.py

Output, under test/fixtures/gpt/ (about 0.5 MB; everything deterministic):
  <case>/weights.safetensors    the book's GPTModel state_dict (book names; no __metadata__, as
                                safetensors.torch.save_file(model.state_dict()) writes it)
  <case>/init.safetensors       (seeded cases) the weights right after torch.manual_seed(seed); GPTModel(cfg)
  <case>/reference.safetensors  every intermediate of model.eval() on the case's ids (float32)
  <case>/case.json              config, ids, greedy and sampled generations, top-k probabilities
  gpt2-tiny/                    a Hugging Face GPT-2 folder: model.safetensors with HF's names
                                (Conv1D weights [in, out], c_attn = query|key|value, attn.bias
                                buffers), config.json, and reference.safetensors with the logits
                                of an independent Conv1D-style forward on those tensors
  gpt2-prefixed-f16/            the same layout with the `transformer.` prefix, an untied
                                lm_head.weight and F16 tensors; its reference uses the F16-rounded weights
  sampling.json                 torch's exponential_ stream after manual_seed, multinomial draws

The book's model is the one reference GPTModel (src/export/python/model.py: chapter 4's LayerNorm,
GELU, FeedForward, TransformerBlock, GPTModel, chapter 3's MultiHeadAttention, chapter 5's generate
with temperature and top-k); its intermediates are read with forward hooks. GPT-2's layout is run by
hf_forward below, straight on Hugging Face's tensors.
"""

import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_fixtures import reference, write_json, write_safetensors  # noqa: E402  (the one writer, the one model)

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'gpt')


# --------------------------------------------------------------------------- the model, and its intermediates
def book_cfg(cfg):
    """The case's config (the engine's names) as the reference GPTModel's cfg (the book's keys)."""
    return {'vocab_size': cfg['vocabSize'], 'context_length': cfg['contextLength'], 'emb_dim': cfg['dim'],
            'n_heads': cfg['heads'], 'n_layers': cfg['layers'], 'drop_rate': 0.1,  # off in eval()
            'qkv_bias': cfg['qkvBias'], 'eps': cfg['layerNormEps']}


def recorded_forward(model, idx):
    """model(idx) with every intermediate the tests compare, read by forward hooks (as TransformerLens
    reads a model) so the reference model stays the book's: {'embeddings', 'blocks.{l}.norm1',
    'blocks.{l}.attnWeights' (heads, T, T), 'blocks.{l}.afterAttention', ..., 'finalNorm', 'logits'}."""
    rec, hooks = {}, []

    def output(name, index=None):
        return lambda module, inputs, out: rec.__setitem__(name, (out if index is None else out[index])[0])

    def first_input(name):
        return lambda module, inputs: rec.__setitem__(name, inputs[0][0])

    hooks.append(model.trf_blocks[0].register_forward_pre_hook(first_input('embeddings')))
    for l, block in enumerate(model.trf_blocks):
        p = f'blocks.{l}.'
        hooks.append(block.norm1.register_forward_hook(output(p + 'norm1')))
        hooks.append(block.att.dropout.register_forward_pre_hook(first_input(p + 'attnWeights')))
        hooks.append(block.norm2.register_forward_pre_hook(first_input(p + 'afterAttention')))
        hooks.append(block.norm2.register_forward_hook(output(p + 'norm2')))
        hooks.append(block.ff.layers[0].register_forward_hook(output(p + 'ffPreActivation')))
        hooks.append(block.ff.layers[1].register_forward_hook(output(p + 'ffHidden')))
        hooks.append(block.ff.register_forward_hook(output(p + 'ffOutput')))
        hooks.append(block.register_forward_hook(output(p + 'output')))
    hooks.append(model.final_norm.register_forward_hook(output('finalNorm')))
    try:
        rec['logits'] = model(idx)[0]
    finally:
        for hook in hooks:
            hook.remove()
    return rec


def perturb(model, generator):
    """Non-trivial LayerNorm parameters (created as ones and zeros) so scale and shift are exercised."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith('.scale'):
                p.copy_(1 + 0.3 * torch.randn(p.shape, generator=generator))
            elif name.endswith('.shift'):
                p.copy_(0.2 * torch.randn(p.shape, generator=generator))


def book_case(name, cfg, seed, token_count, perturb_norms, sampling, keep_mask=False):
    generator = torch.Generator().manual_seed(2000 + token_count)
    torch.manual_seed(seed)
    model = reference.GPTModel(book_cfg(cfg))
    folder = os.path.join(ROOT, name)
    # book-small keeps the att.mask buffers a real state_dict holds (the reader ignores them)
    state = {k: v for k, v in model.state_dict().items() if keep_mask or not k.endswith('.mask')}
    if perturb_norms:
        write_safetensors(os.path.join(folder, 'init.safetensors'), state)
        perturb(model, generator)
        state = {k: v for k, v in model.state_dict().items() if keep_mask or not k.endswith('.mask')}
    write_safetensors(os.path.join(folder, 'weights.safetensors'), state)
    model.eval()
    ids = torch.randint(0, cfg['vocabSize'], (1, token_count), generator=generator)
    with torch.no_grad():
        rec = recorded_forward(model, ids)
    write_safetensors(os.path.join(folder, 'reference.safetensors'), rec)

    # generation: a prompt shorter than the context that grows past it (the crop), greedy and sampled
    prompt = ids[:, : cfg['contextLength'] - 4]
    greedy = reference.generate(model, prompt, 10, cfg['contextLength'])[0, prompt.shape[1]:].tolist()
    sampled = []
    for s in sampling:
        torch.manual_seed(s['seed'])
        out = reference.generate(model, prompt, 10, cfg['contextLength'], temperature=s['temperature'], top_k=s.get('topK'))
        sampled.append({**s, 'ids': out[0, prompt.shape[1]:].tolist()})
    # the last position's distribution at temperature 0.7 with top-5 (renormalised over the five)
    last = rec['logits'][-1]
    top_logits, _ = torch.topk(last, 5)
    masked = torch.where(last < top_logits[-1], torch.tensor(float('-inf')), last)
    top5 = torch.softmax(masked / 0.7, dim=-1)
    full = torch.softmax(last, dim=-1)
    write_json(os.path.join(folder, 'case.json'), {
        'config': cfg, 'seed': seed, 'ids': ids[0].tolist(), 'torch': torch.__version__,
        'prompt': prompt[0].tolist(), 'greedy': greedy, 'sampled': sampled,
        'lastProbabilities': [float(v) for v in full.tolist()],
        'lastTop5Temperature07': [float(v) for v in top5.tolist()],
    })
    return model


# --------------------------------------------------------------------------- Hugging Face GPT-2 layout
def hf_state(cfg, generator, tie=True):
    """Random weights with Hugging Face GPT2Model's names and layouts (Conv1D weight [in, out])."""
    d, V, C = cfg['n_embd'], cfg['vocab_size'], cfg['n_positions']
    r = lambda *shape: 0.3 * torch.randn(shape, generator=generator)
    s = {'wte.weight': r(V, d), 'wpe.weight': r(C, d)}
    for i in range(cfg['n_layer']):
        p = f'h.{i}.'
        s[p + 'ln_1.weight'] = 1 + r(d)
        s[p + 'ln_1.bias'] = r(d)
        s[p + 'attn.bias'] = torch.tril(torch.ones(C, C)).view(1, 1, C, C)  # the causal-mask buffer
        s[p + 'attn.c_attn.weight'] = r(d, 3 * d)
        s[p + 'attn.c_attn.bias'] = r(3 * d)
        s[p + 'attn.c_proj.weight'] = r(d, d)
        s[p + 'attn.c_proj.bias'] = r(d)
        s[p + 'ln_2.weight'] = 1 + r(d)
        s[p + 'ln_2.bias'] = r(d)
        s[p + 'mlp.c_fc.weight'] = r(d, 4 * d)
        s[p + 'mlp.c_fc.bias'] = r(4 * d)
        s[p + 'mlp.c_proj.weight'] = r(4 * d, d)
        s[p + 'mlp.c_proj.bias'] = r(d)
    s['ln_f.weight'] = 1 + r(d)
    s['ln_f.bias'] = r(d)
    if not tie:
        s['lm_head.weight'] = r(V, d)
    return s


def hf_forward(s, cfg, ids):
    """GPT-2 as Hugging Face runs it, straight on its tensors: Conv1D is x @ W + b, c_attn's output
    split into query | key | value, gelu_new (the tanh form), layer_norm with layer_norm_epsilon."""
    d, H, eps = cfg['n_embd'], cfg['n_head'], cfg['layer_norm_epsilon']
    hd, T = d // H, ids.shape[0]
    conv1d = lambda x, name: x @ s[name + '.weight'] + s[name + '.bias']
    ln = lambda x, name: torch.nn.functional.layer_norm(x, (d,), s[name + '.weight'], s[name + '.bias'], eps)
    gelu_new = lambda x: 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))
    x = s['wte.weight'][ids] + s['wpe.weight'][torch.arange(T)]
    mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
    for i in range(cfg['n_layer']):
        p = f'h.{i}.'
        q, k, v = conv1d(ln(x, p + 'ln_1'), p + 'attn.c_attn').split(d, dim=1)
        heads = lambda t: t.view(T, H, hd).transpose(0, 1)  # (H, T, hd)
        att = (heads(q) @ heads(k).transpose(1, 2)) / math.sqrt(hd)
        att = torch.softmax(att.masked_fill(~mask, float('-inf')), dim=-1)
        y = (att @ heads(v)).transpose(0, 1).contiguous().view(T, d)
        x = x + conv1d(y, p + 'attn.c_proj')
        h = gelu_new(conv1d(ln(x, p + 'ln_2'), p + 'mlp.c_fc'))
        x = x + conv1d(h, p + 'mlp.c_proj')
    x = ln(x, 'ln_f')
    return x @ s.get('lm_head.weight', s['wte.weight']).T


def hf_case(name, cfg, seed, token_count, prefix='', tie=True, dtype='F32'):
    generator = torch.Generator().manual_seed(seed)
    s = hf_state(cfg, generator, tie)
    if dtype == 'F16':
        s = {k: v.to(torch.float16).to(torch.float32) for k, v in s.items()}  # what the file holds
    ids = torch.randint(0, cfg['vocab_size'], (token_count,), generator=generator)
    with torch.no_grad():
        logits = hf_forward(s, cfg, ids)
    folder = os.path.join(ROOT, name)
    write_safetensors(os.path.join(folder, 'model.safetensors'), {prefix + k: v for k, v in s.items()},
                      metadata={'format': 'pt'}, dtype=dtype)
    write_json(os.path.join(folder, 'config.json'), {
        'architectures': ['GPT2LMHeadModel'], 'model_type': 'gpt2', 'activation_function': 'gelu_new',
        **cfg, 'n_ctx': cfg['n_positions'], 'tie_word_embeddings': tie})
    write_safetensors(os.path.join(folder, 'reference.safetensors'), {'logits': logits})
    write_json(os.path.join(folder, 'case.json'), {'ids': ids.tolist(), 'torch': torch.__version__})


def sampling_streams():
    torch.manual_seed(5)
    exponentials = torch.empty(40).exponential_()
    probs = torch.softmax(torch.randn(30, generator=torch.Generator().manual_seed(3)), dim=-1)
    draws = []
    for s in range(12):
        torch.manual_seed(s)
        draws.append(int(torch.multinomial(probs, 1)))
    write_json(os.path.join(ROOT, 'sampling.json'), {
        'torch': torch.__version__, 'exponentialSeed': 5, 'exponentials': [float(v) for v in exponentials.tolist()],
        'probabilities': [float(v) for v in probs.tolist()], 'multinomialSeeds': list(range(12)), 'draws': draws})


def main():
    torch.set_num_threads(1)
    book_case('book-small', dict(vocabSize=64, contextLength=16, dim=32, heads=4, layers=2, qkvBias=False,
                                 layerNormEps=1e-5), seed=123, token_count=11, perturb_norms=False,
              sampling=[{'seed': 123, 'temperature': 1.0}, {'seed': 7, 'temperature': 1.5, 'topK': 10}], keep_mask=True)
    # book-small's sizes and tokens with other weights (seed 7): the compare view's second model
    book_case('book-small-seed7', dict(vocabSize=64, contextLength=16, dim=32, heads=4, layers=2, qkvBias=False,
                                       layerNormEps=1e-5), seed=7, token_count=11, perturb_norms=False, sampling=[])
    book_case('book-qkv-bias', dict(vocabSize=50, contextLength=16, dim=24, heads=3, layers=2, qkvBias=True,
                                    layerNormEps=1e-5), seed=7, token_count=16, perturb_norms=True,
              sampling=[{'seed': 42, 'temperature': 0.8, 'topK': 5}])
    gpt2 = dict(vocab_size=80, n_positions=16, n_embd=32, n_head=4, n_layer=2, layer_norm_epsilon=1e-5)
    hf_case('gpt2-tiny', gpt2, seed=11, token_count=12)
    hf_case('gpt2-prefixed-f16', {**gpt2, 'n_head': 2, 'layer_norm_epsilon': 1e-3}, seed=12, token_count=9,
            prefix='transformer.', tie=False, dtype='F16')
    sampling_streams()


if __name__ == '__main__':
    main()
