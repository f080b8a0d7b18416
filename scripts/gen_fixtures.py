#!/usr/bin/python3
"""Writes the PyTorch reference fixtures the engine tests compare against.

Run with Debian's torch:  /usr/bin/python3 scripts/gen_fixtures.py   (npm run fixtures)

Output, under test/fixtures/engine/:
  <case>/case.json              config, token ids, torch version
  <case>/weights.safetensors    the model's weights under the engine's safetensors names
  <case>/reference.safetensors  PyTorch's output of every stage (float32), names as in the Trace
  <case>/reference-float64.safetensors  the same run in float64 (rounded to float32): exact answers
  init/<name>.safetensors       weights right after torch.manual_seed(seed); GPTModel(cfg) (the reference model)
  init/index.json               the configs of those
  rng.json                      raw streams: uniforms, uniform64s, normals, nn.Dropout masks

The reference model is written the way the book builds it (chapter 3: self-attention with
nn.Linear projections, causal attention with a triangular mask and dropout, multi-head attention
with view/transpose; chapter 4: LayerNorm with a biased variance and eps 1e-5), in this script's
own code. Everything is deterministic: running it twice writes the same bytes.
"""

import copy
import json
import math
import os
import struct
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'src', 'export', 'python'))
import model as reference  # noqa: E402  (the one reference GPTModel, src/export/python/model.py)

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'engine')


# --------------------------------------------------------------------------- safetensors writer
def write_safetensors(path, tensors, metadata=None, dtype='F32'):
    """8-byte little-endian header length, JSON header, then the raw little-endian F32 (or F16) data."""
    header = {}
    blobs = []
    offset = 0
    for name, tensor in tensors.items():
        t = tensor.detach().contiguous()
        data = (t.to(torch.float16).numpy().astype('<f2') if dtype == 'F16' else t.to(torch.float32).numpy().astype('<f4')).tobytes()
        header[name] = {'dtype': dtype, 'shape': list(tensor.shape), 'data_offsets': [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    if metadata:
        header['__metadata__'] = {k: str(v) for k, v in metadata.items()}
    text = json.dumps(header, separators=(',', ':')).encode('utf-8')
    text += b' ' * (-len(text) % 8)  # the format pads the header to a multiple of 8 with spaces
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'wb') as out:
        out.write(struct.pack('<Q', len(text)))
        out.write(text)
        for blob in blobs:
            out.write(blob)


def write_json(path, value):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as out:
        json.dump(value, out, indent=1)
        out.write('\n')


def floats(tensor):
    """Exact float32 values as Python floats (JSON keeps them exactly)."""
    return [float(v) for v in tensor.detach().reshape(-1).tolist()]


# --------------------------------------------------------------------------- reference model
class SelfAttention(nn.Module):
    """Book section 3.4 (SelfAttention_v2): projections by nn.Linear, scaled dot-product attention."""

    def __init__(self, d_in, d_out, qkv_bias):
        super().__init__()
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)

    def forward(self, x):  # x: (T, d_in)
        queries, keys, values = self.W_query(x), self.W_key(x), self.W_value(x)
        scores = queries @ keys.T
        weights = torch.softmax(scores / keys.shape[-1] ** 0.5, dim=-1)
        return {'queries': queries, 'keys': keys, 'values': values, 'scores': scores,
                'weights': weights, 'context': weights @ values}


class CausalAttention(nn.Module):
    """Book section 3.5: the future masked with -inf before the softmax, then dropout.

    It borrows the projections of a SelfAttention (the engine's causal stage reuses them), so it
    holds no parameters of its own."""

    def __init__(self, projections, context_length, dropout):
        super().__init__()
        self.projections = [projections]  # a list keeps it out of this module's state_dict
        self.dropout = nn.Dropout(dropout)
        self.register_buffer('mask', torch.triu(torch.ones(context_length, context_length), diagonal=1),
                             persistent=False)

    def forward(self, x):
        sa = self.projections[0]
        queries, keys, values = sa.W_query(x), sa.W_key(x), sa.W_value(x)
        T = x.shape[0]
        scores = (queries @ keys.T).masked_fill(self.mask.bool()[:T, :T], -torch.inf)
        weights = torch.softmax(scores / keys.shape[-1] ** 0.5, dim=-1)
        dropped = self.dropout(weights)
        return {'maskedScores': scores, 'weights': weights, 'droppedWeights': dropped,
                'context': dropped @ values}


class MultiHeadAttention(nn.Module):
    """Book section 3.6.2: one projection split into heads with view/transpose, batch of one."""

    def __init__(self, d_in, d_out, context_length, dropout, num_heads, qkv_bias):
        super().__init__()
        assert d_out % num_heads == 0
        self.d_out, self.num_heads, self.head_dim = d_out, num_heads, d_out // num_heads
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.out_proj = nn.Linear(d_out, d_out)
        self.dropout = nn.Dropout(dropout)
        self.register_buffer('mask', torch.triu(torch.ones(context_length, context_length), diagonal=1),
                             persistent=False)

    def forward(self, x):  # x: (T, d_in)
        b, T = 1, x.shape[0]
        x = x.unsqueeze(0)
        # (b, T, d_out) -> (b, T, heads, head_dim) -> (b, heads, T, head_dim)
        split = lambda t: t.view(b, T, self.num_heads, self.head_dim).transpose(1, 2)
        queries, keys, values = split(self.W_query(x)), split(self.W_key(x)), split(self.W_value(x))
        scores = (queries @ keys.transpose(2, 3)).masked_fill(self.mask.bool()[:T, :T], -torch.inf)
        weights = torch.softmax(scores / keys.shape[-1] ** 0.5, dim=-1)
        dropped = self.dropout(weights)  # one call over (b, heads, T, T): head 0's draws come first
        per_head = dropped @ values  # (b, heads, T, head_dim)
        concat = per_head.transpose(1, 2).contiguous().view(b, T, self.d_out)
        output = self.out_proj(concat)
        heads = [{'queries': queries[0, h], 'keys': keys[0, h], 'values': values[0, h], 'scores': scores[0, h],
                  'weights': weights[0, h], 'droppedWeights': dropped[0, h], 'context': per_head[0, h]}
                 for h in range(self.num_heads)]
        return {'heads': heads, 'concat': concat[0], 'output': output[0]}


class LayerNorm(nn.Module):
    """Book chapter 4: normalise each row to mean 0, biased variance 1, then scale and shift."""

    def __init__(self, dim):
        super().__init__()
        self.eps = 1e-5
        self.scale = nn.Parameter(torch.ones(dim))
        self.shift = nn.Parameter(torch.zeros(dim))

    def forward(self, x):
        mean = x.mean(dim=-1, keepdim=True)
        var = x.var(dim=-1, keepdim=True, unbiased=False)
        out = self.scale * ((x - mean) / torch.sqrt(var + self.eps)) + self.shift
        return {'input': x, 'mean': mean[:, 0], 'variance': var[:, 0], 'output': out,
                'outputMean': out.mean(dim=-1), 'outputVariance': out.var(dim=-1, unbiased=False)}


class Model(nn.Module):
    """Every module in the engine's stage order; creation order fixes the random draws."""

    def __init__(self, c):
        super().__init__()
        self.tok_emb = nn.Embedding(c['vocabSize'], c['dim'])
        self.pos_emb = nn.Embedding(c['contextLength'], c['dim'])
        self.self_attn = SelfAttention(c['dim'], c['attnDim'], c['qkvBias'])
        self.mha = MultiHeadAttention(c['dim'], c['attnDim'], c['contextLength'], c['dropout'], c['heads'],
                                      c['qkvBias'])
        self.norm = LayerNorm(c['attnDim'])
        self.causal = CausalAttention(self.self_attn, c['contextLength'], c['dropout'])

    def forward(self, ids, dropout_seed):
        out = {}
        token = self.tok_emb(ids)
        position = self.pos_emb(torch.arange(ids.shape[0]))
        x = token + position
        out['embeddings'] = {'token': token, 'position': position, 'input': x}
        scores = x @ x.T
        weights = torch.softmax(scores, dim=-1)
        out['simple'] = {'scores': scores, 'weights': weights, 'context': weights @ x}
        out['selfAttention'] = self.self_attn(x)
        torch.manual_seed(dropout_seed)  # fresh generator: causal mask first, then the heads
        out['causal'] = self.causal(x)
        out['multiHead'] = self.mha(x)
        out['layerNorm'] = self.norm(out['multiHead']['output'])
        return out


def flatten(out):
    """Nested stage dicts -> {'causal.weights': tensor, 'multiHead.heads.0.context': tensor, ...}."""
    flat = {}
    for stage, parts in out.items():
        for name, value in parts.items():
            if name == 'heads':
                for h, head in enumerate(value):
                    for part, tensor in head.items():
                        flat[f'{stage}.heads.{h}.{part}'] = tensor
            else:
                flat[f'{stage}.{name}'] = value
    return flat


def engine_weights(model):
    """The model's parameters under the engine's safetensors names."""
    return dict(model.state_dict())


# --------------------------------------------------------------------------- stage fixtures
CASES = [
    # name, config, token count
    ('default', dict(vocabSize=50, dim=28, attnDim=28, heads=7, dropout=0.4, seed=123, contextLength=2048,
                     qkvBias=False), 12),
    ('attn-wider-heads7', dict(vocabSize=30, dim=16, attnDim=21, heads=7, dropout=0.25, seed=7, contextLength=24,
                               qkvBias=False), 9),
    ('qkv-bias', dict(vocabSize=40, dim=12, attnDim=8, heads=2, dropout=0.1, seed=42, contextLength=16,
                      qkvBias=True), 10),
    ('single-token', dict(vocabSize=20, dim=8, attnDim=8, heads=4, dropout=0.5, seed=5, contextLength=8,
                          qkvBias=True), 1),
    ('full-context', dict(vocabSize=64, dim=10, attnDim=6, heads=3, dropout=0.3, seed=99, contextLength=32,
                          qkvBias=True), 32),
    ('no-dropout', dict(vocabSize=10, dim=6, attnDim=4, heads=1, dropout=0.0, seed=1, contextLength=8,
                        qkvBias=False), 7),
    ('long-default-dims', dict(vocabSize=100, dim=28, attnDim=28, heads=7, dropout=0.4, seed=2024,
                               contextLength=64, qkvBias=False), 64),
]


def perturb_norm(model, generator):
    """Non-trivial LayerNorm parameters, so the tests see scale and shift at work."""
    with torch.no_grad():
        n = model.norm.scale.shape[0]
        model.norm.scale.copy_(1 + 0.2 * torch.randn(n, generator=generator))
        model.norm.shift.copy_(0.1 * torch.randn(n, generator=generator))


def run_in_float64(model, ids, seed):
    """The same weights and masks run in float64: PyTorch's answer without float32 rounding."""
    model64 = copy.deepcopy(model).double()
    model64.causal.projections = [model64.self_attn]
    return flatten(model64(ids, seed))


def largest_differences(float32_out, float64_out):
    worst = {}
    for name, t in float32_out.items():
        a, b = t.double(), float64_out[name]
        finite = torch.isfinite(b)
        worst[name] = float((a[finite] - b[finite]).abs().max()) if finite.any() else 0.0
    return worst


def write_case(name, config, token_count, report):
    generator = torch.Generator().manual_seed(1000 + len(name))
    torch.manual_seed(config['seed'] + 17)
    model = Model(config)
    perturb_norm(model, generator)
    model.train()  # dropout active, as in the engine
    ids = torch.randint(0, config['vocabSize'], (token_count,), generator=generator)
    with torch.no_grad():
        out = flatten(model(ids, config['seed']))
        out64 = run_in_float64(model, ids, config['seed'])
    worst = largest_differences(out, out64)
    folder = os.path.join(ROOT, name)
    write_safetensors(os.path.join(folder, 'weights.safetensors'), engine_weights(model), {'format': 'pt'})
    write_safetensors(os.path.join(folder, 'reference.safetensors'), out)
    write_safetensors(os.path.join(folder, 'reference-float64.safetensors'), out64)
    write_json(os.path.join(folder, 'case.json'), {
        'name': name, 'config': dict(config, tokenizer='word'), 'ids': ids.tolist(),
        'torch': torch.__version__,
        'references': {
            'reference.safetensors': 'PyTorch float32 forward pass (the modules as written)',
            'reference-float64.safetensors': 'the same weights and dropout masks run in float64, rounded to float32',
        },
        'torchFloat32VsFloat64': worst,
    })
    report[name] = max(worst.items(), key=lambda item: item[1])


# --------------------------------------------------------------------------- book example
JOURNEY_INPUTS = [[0.43, 0.15, 0.89], [0.55, 0.87, 0.66], [0.57, 0.85, 0.64],
                  [0.22, 0.58, 0.33], [0.77, 0.25, 0.10], [0.05, 0.80, 0.55]]


def write_journey(name, dropout, seed):
    """Book chapter 3: fixed inputs, SelfAttention_v2 after manual_seed(789), MHA after manual_seed(123)."""
    config = dict(vocabSize=6, dim=3, attnDim=2, heads=2, dropout=dropout, seed=seed, contextLength=6,
                  qkvBias=False)
    model = Model(config)  # shapes only: every parameter is replaced below
    with torch.no_grad():
        model.tok_emb.weight.copy_(torch.tensor(JOURNEY_INPUTS))
        model.pos_emb.weight.zero_()
        torch.manual_seed(789)
        model.self_attn.load_state_dict(SelfAttention(3, 2, False).state_dict())
        torch.manual_seed(123)
        model.mha.load_state_dict(MultiHeadAttention(3, 2, 6, dropout, 2, False).state_dict())
        model.norm.scale.fill_(1)
        model.norm.shift.zero_()
    model.train()
    ids = torch.arange(6)
    with torch.no_grad():
        out = flatten(model(ids, seed))
    folder = os.path.join(ROOT, name)
    write_safetensors(os.path.join(folder, 'weights.safetensors'), engine_weights(model), {'format': 'pt'})
    write_safetensors(os.path.join(folder, 'reference.safetensors'), out)
    write_json(os.path.join(folder, 'case.json'), {
        'name': name, 'config': dict(config, tokenizer='word'), 'ids': ids.tolist(), 'torch': torch.__version__,
    })


# --------------------------------------------------------------------------- seeded init
INIT_CASES = [
    # name, the book's cfg, seed: the playground's defaults (dim 28, 7 heads, 2 blocks, context 2048)
    ('default', dict(vocab_size=1132, context_length=2048, emb_dim=28, n_heads=7, n_layers=2, drop_rate=0.4,
                     qkv_bias=False), 123),
    # fewer than 16 values per embedding: the scalar normal path, its cached value carried over
    ('tiny-scalar-normals', dict(vocab_size=5, context_length=3, emb_dim=3, n_heads=3, n_layers=1, drop_rate=0.0,
                                 qkv_bias=True), 7),
    # counts that are not multiples of 16, a seed above 2^32
    ('odd-sizes-big-seed', dict(vocab_size=17, context_length=9, emb_dim=5, n_heads=5, n_layers=1, drop_rate=0.2,
                                qkv_bias=True), 2 ** 32 + 5),
]


def write_init():
    """torch.manual_seed(seed); GPTModel(cfg): the weights of the playground's seeded model."""
    index = []
    for name, cfg, seed in INIT_CASES:
        torch.manual_seed(seed)
        model = reference.GPTModel(cfg)
        state = {k: v for k, v in model.state_dict().items() if not k.endswith('.att.mask')}
        write_safetensors(os.path.join(ROOT, 'init', f'{name}.safetensors'), state, {'format': 'pt'})
        index.append({'name': name, 'seed': seed, 'config': {
            'vocabSize': cfg['vocab_size'], 'contextLength': cfg['context_length'], 'dim': cfg['emb_dim'],
            'heads': cfg['n_heads'], 'layers': cfg['n_layers'], 'qkvBias': cfg['qkv_bias'], 'layerNormEps': 1e-5}})
    write_json(os.path.join(ROOT, 'init', 'index.json'), index)


# --------------------------------------------------------------------------- raw RNG streams
def write_rng():
    streams = {'torch': torch.__version__}
    streams['rand'] = []
    for seed in [0, 1, 123, 789, 2 ** 32 + 123]:
        torch.manual_seed(seed)
        streams['rand'].append({'seed': seed, 'values': floats(torch.rand(10))})
    streams['uniformRange'] = []
    for seed, low, high in [(3, -0.5, 0.25), (4, 2.3, 7.9), (5, -1 / math.sqrt(3), 1 / math.sqrt(3))]:
        torch.manual_seed(seed)
        streams['uniformRange'].append({'seed': seed, 'from': low, 'to': high,
                                        'values': floats(torch.empty(50).uniform_(low, high))})
    streams['uniform64'] = []
    for seed in [0, 123]:
        torch.manual_seed(seed)
        streams['uniform64'].append({'seed': seed, 'values': torch.rand(8, dtype=torch.float64).tolist()})
    streams['normal'] = []
    for seed, count in [(123, 7), (123, 16), (123, 17), (123, 100), (9, 15), (9, 33), (42, 1)]:
        torch.manual_seed(seed)
        streams['normal'].append({'seed': seed, 'count': count, 'values': floats(torch.randn(count))})
    # scalar normals keep their cached sine value across calls
    torch.manual_seed(11)
    sequence = [floats(torch.randn(n)) for n in (1, 1, 3, 20, 1)]
    streams['normalSequence'] = {'seed': 11, 'counts': [1, 1, 3, 20, 1], 'values': sequence}
    torch.manual_seed(13)
    streams['normalMeanStd'] = {'seed': 13, 'mean': 2.0, 'std': 3.0,
                                'values': floats(torch.empty(40).normal_(2.0, 3.0))}
    streams['dropout'] = []
    for seed, p, rows, cols in [(123, 0.5, 6, 6), (5, 0.4, 7, 9), (2024, 0.1, 33, 3), (9, 0.9, 4, 4),
                                (77, 0.15, 5, 5), (1, 0.4, 2, 2)]:
        torch.manual_seed(1000 + seed)
        x = torch.rand(rows, cols)
        torch.manual_seed(seed)
        y = nn.Dropout(p)(x)
        streams['dropout'].append({'seed': seed, 'p': p, 'rows': rows, 'cols': cols,
                                   'input': floats(x), 'output': floats(y)})
    torch.manual_seed(123)
    streams['bookDropoutOnes'] = {'seed': 123, 'p': 0.5, 'output': floats(nn.Dropout(0.5)(torch.ones(6, 6)))}
    write_json(os.path.join(ROOT, 'rng.json'), streams)


def main():
    torch.set_num_threads(1)  # one thread: the same summation order on every machine
    report = {}
    for name, config, count in CASES:
        write_case(name, config, count, report)
    write_journey('journey', 0.0, 123)
    write_journey('journey-dropout', 0.5, 123)
    write_init()
    write_rng()
    print('torch', torch.__version__, file=sys.stderr)
    for name, (stage, worst) in report.items():
        print(f'{name}: torch float32 vs float64, largest difference {worst:.3g} ({stage})', file=sys.stderr)


if __name__ == '__main__':
    main()
