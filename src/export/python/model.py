"""The GPT of "Build a Large Language Model (From Scratch)" (S. Raschka, chapter 4) in PyTorch: the
one reference model of LLM 101 Playground. The fixture scripts (scripts/gen_*_fixtures.py) import it
to write the numbers the engine is tested against, and `llm101 export --pytorch` copies this file
as the exported project's model.py.

Module and parameter names are the book's, so its state_dict is the checkpoint format:

    tok_emb, pos_emb, trf_blocks.{i}.att.W_query / W_key / W_value / out_proj (+ the att.mask
    buffer), trf_blocks.{i}.ff.layers.0 / layers.2, trf_blocks.{i}.norm1 / norm2 (scale, shift),
    final_norm (scale, shift), out_head (no bias)

and cfg uses the book's keys (vocab_size, context_length, emb_dim, n_heads, n_layers, drop_rate,
qkv_bias; eps, when given, is every LayerNorm's epsilon). The formulas are written as the book
writes them, so float32 results match its code. Creation order fixes the random draws:
torch.manual_seed(seed); GPTModel(cfg) is the playground's seeded model. Safetensors are read and
written with the standard library alone, so the exported project needs nothing but torch.
"""

import array
import json
import os
import struct
import sys

import torch
import torch.nn as nn


# --------------------------------------------------------------------------- the model (book chapters 3 and 4)

class MultiHeadAttention(nn.Module):
    """Causal self-attention, heads side by side in one projection per query, key and value."""

    def __init__(self, d_in, d_out, context_length, dropout, num_heads, qkv_bias=False):
        super().__init__()
        assert d_out % num_heads == 0, f'heads ({num_heads}) must divide d_out ({d_out})'
        self.d_out, self.num_heads, self.head_dim = d_out, num_heads, d_out // num_heads
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.out_proj = nn.Linear(d_out, d_out)
        self.dropout = nn.Dropout(dropout)  # its input is the attention weights (a forward hook reads them)
        # 1 above the diagonal: a query never sees later keys (saved in the state_dict, as the book's)
        self.register_buffer('mask', torch.triu(torch.ones(context_length, context_length), diagonal=1))

    def forward(self, x):  # (b, T, d_in) -> (b, T, d_out)
        b, num_tokens, _ = x.shape
        keys, queries, values = self.W_key(x), self.W_query(x), self.W_value(x)

        def split(t):  # (b, T, d_out) -> (b, heads, T, head_dim)
            return t.view(b, num_tokens, self.num_heads, self.head_dim).transpose(1, 2)

        keys, queries, values = split(keys), split(queries), split(values)
        attn_scores = queries @ keys.transpose(2, 3)  # (b, heads, T, T)
        attn_scores.masked_fill_(self.mask.bool()[:num_tokens, :num_tokens], -torch.inf)
        attn_weights = torch.softmax(attn_scores / keys.shape[-1] ** 0.5, dim=-1)
        attn_weights = self.dropout(attn_weights)
        context_vec = (attn_weights @ values).transpose(1, 2).contiguous().view(b, num_tokens, self.d_out)
        return self.out_proj(context_vec)


class LayerNorm(nn.Module):
    def __init__(self, emb_dim, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.scale = nn.Parameter(torch.ones(emb_dim))
        self.shift = nn.Parameter(torch.zeros(emb_dim))

    def forward(self, x):
        mean = x.mean(dim=-1, keepdim=True)
        var = x.var(dim=-1, keepdim=True, unbiased=False)  # the biased variance, as the book
        return self.scale * ((x - mean) / torch.sqrt(var + self.eps)) + self.shift


class GELU(nn.Module):
    """The tanh approximation GPT-2 and the book use."""

    def forward(self, x):
        return 0.5 * x * (1 + torch.tanh(torch.sqrt(torch.tensor(2.0 / torch.pi)) * (x + 0.044715 * torch.pow(x, 3))))


class FeedForward(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d = cfg['emb_dim']
        self.layers = nn.Sequential(nn.Linear(d, 4 * d), GELU(), nn.Linear(4 * d, d))

    def forward(self, x):
        return self.layers(x)


class TransformerBlock(nn.Module):
    """Pre-norm: x + att(norm1(x)), then x + ff(norm2(x)), dropout on each branch."""

    def __init__(self, cfg):
        super().__init__()
        d, eps = cfg['emb_dim'], cfg.get('eps', 1e-5)
        self.att = MultiHeadAttention(d, d, cfg['context_length'], cfg['drop_rate'], cfg['n_heads'], cfg['qkv_bias'])
        self.ff = FeedForward(cfg)
        self.norm1 = LayerNorm(d, eps)
        self.norm2 = LayerNorm(d, eps)
        self.drop_shortcut = nn.Dropout(cfg['drop_rate'])

    def forward(self, x):
        x = x + self.drop_shortcut(self.att(self.norm1(x)))
        return x + self.drop_shortcut(self.ff(self.norm2(x)))


class GPTModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = dict(cfg)
        self.tok_emb = nn.Embedding(cfg['vocab_size'], cfg['emb_dim'])
        self.pos_emb = nn.Embedding(cfg['context_length'], cfg['emb_dim'])
        self.drop_emb = nn.Dropout(cfg['drop_rate'])
        self.trf_blocks = nn.Sequential(*[TransformerBlock(cfg) for _ in range(cfg['n_layers'])])
        self.final_norm = LayerNorm(cfg['emb_dim'], cfg.get('eps', 1e-5))
        self.out_head = nn.Linear(cfg['emb_dim'], cfg['vocab_size'], bias=False)

    def forward(self, in_idx):  # (b, T) token ids -> (b, T, vocab) logits
        num_tokens = in_idx.shape[1]
        x = self.tok_emb(in_idx) + self.pos_emb(torch.arange(num_tokens, device=in_idx.device))
        x = self.drop_emb(x)
        x = self.trf_blocks(x)
        return self.out_head(self.final_norm(x))


def generate(model, idx, max_new_tokens, context_size, temperature=0.0, top_k=None):
    """The book's chapter 5 generate: crop, last logits, top-k mask, temperature, multinomial or argmax."""
    for _ in range(max_new_tokens):
        with torch.no_grad():
            logits = model(idx[:, -context_size:])[:, -1, :]
        if top_k is not None:
            top_logits, _ = torch.topk(logits, top_k)
            logits = torch.where(logits < top_logits[:, -1], torch.tensor(float('-inf')), logits)
        if temperature > 0.0:
            idx_next = torch.multinomial(torch.softmax(logits / temperature, dim=-1), num_samples=1)
        else:
            idx_next = torch.argmax(logits, dim=-1, keepdim=True)
        idx = torch.cat((idx, idx_next), dim=1)
    return idx


# --------------------------------------------------------------------------- safetensors

_DTYPES = {'F32': torch.float32, 'F16': torch.float16, 'BF16': torch.bfloat16}


def read_safetensors(path):
    """Returns ({name: float32 tensor}, {metadata key: string})."""
    if sys.byteorder != 'little':
        raise SystemExit('safetensors data is little-endian; this reader runs on little-endian machines only')
    with open(path, 'rb') as f:
        raw = f.read()
    if len(raw) < 8:
        raise SystemExit(f'{path}: not a safetensors file ({len(raw)} bytes)')
    (header_len,) = struct.unpack('<Q', raw[:8])
    header = json.loads(raw[8:8 + header_len].decode('utf-8'))
    data = memoryview(raw)[8 + header_len:]
    metadata = header.pop('__metadata__', None) or {}
    tensors = {}
    for name, info in header.items():
        dtype = _DTYPES.get(info['dtype'])
        if dtype is None:
            raise SystemExit(f'{path}: tensor {name} is {info["dtype"]}; this reader takes F32, F16 and BF16')
        begin, end = info['data_offsets']
        flat = torch.frombuffer(bytearray(data[begin:end]), dtype=dtype) if end > begin else torch.empty(0, dtype=dtype)
        tensors[name] = flat.reshape(info['shape']).to(torch.float32)
    return tensors, metadata


def _float32_bytes(tensor):
    values = tensor.detach().to('cpu', torch.float32).contiguous().reshape(-1)
    try:
        return values.numpy().astype('<f4').tobytes()
    except (ImportError, RuntimeError):  # torch without numpy: slower, same bytes
        return array.array('f', values.tolist()).tobytes()


def write_safetensors(path, tensors, metadata=None):
    """Writes {name: tensor} as F32 with {key: string} metadata; whole or not at all."""
    header, chunks, offset = {}, [], 0
    for name, tensor in tensors.items():
        chunk = _float32_bytes(tensor)
        header[name] = {'dtype': 'F32', 'shape': list(tensor.shape), 'data_offsets': [offset, offset + len(chunk)]}
        chunks.append(chunk)
        offset += len(chunk)
    if metadata:
        header['__metadata__'] = {k: str(v) for k, v in metadata.items()}
    encoded = json.dumps(header, separators=(',', ':')).encode('utf-8')
    encoded += b' ' * (-len(encoded) % 8)  # the data starts 8-byte aligned
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f'{path}.tmp'
    with open(tmp, 'wb') as f:
        f.write(struct.pack('<Q', len(encoded)))
        f.write(encoded)
        for chunk in chunks:
            f.write(chunk)
    os.replace(tmp, path)


# --------------------------------------------------------------------------- checkpoints

def config_from_metadata(metadata, heads=None):
    """The model's cfg from an llm101 checkpoint's __metadata__ (dropout 0)."""
    def need(key):
        if key not in metadata:
            raise SystemExit(f'the checkpoint\'s metadata has no {key}; it was not written by llm101 (give --heads for heads)')
        return metadata[key]
    return {
        'vocab_size': int(need('vocabSize')),
        'context_length': int(need('contextLength')),
        'emb_dim': int(need('dim')),
        'n_heads': int(heads if heads is not None else need('heads')),
        'n_layers': int(need('layers')),
        'qkv_bias': need('qkvBias') == 'true',
        'eps': float(metadata.get('layerNormEps', '1e-5')),
        'drop_rate': 0.0,
    }


def load_checkpoint(path, dropout=0.0, heads=None):
    """(model, metadata) from an llm101 checkpoint; every tensor must fit, none may be left over."""
    tensors, metadata = read_safetensors(path)
    cfg = config_from_metadata(metadata, heads)
    cfg['drop_rate'] = dropout
    model = GPTModel(cfg)
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    missing = [name for name in missing if not name.endswith('.att.mask')]  # a buffer: the model makes its own
    if missing or unexpected:
        raise SystemExit(f'{path} does not fit the model: missing {missing}, unexpected {unexpected}')
    return model, metadata


def save_checkpoint(path, model, metadata):
    """The weights under the same names, F32, with the metadata (config, tokenizer, step, losses)."""
    write_safetensors(path, {k: v for k, v in model.state_dict().items() if not k.endswith('.att.mask')}, metadata)
