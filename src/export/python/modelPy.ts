// The exported project's model.py, written by `llm101 export --pytorch` (src/export/pytorchProject.ts).
// Python source as it is (String.raw keeps the backslashes); it holds no backtick and no dollar-brace.
export const MODEL_PY = String.raw`"""The GPT of "Build a Large Language Model (From Scratch)" (chapter 4) in PyTorch, with the
module names its state_dict uses, so the checkpoint LLM 101 Playground wrote loads as it is:

    tok_emb, pos_emb, trf_blocks.{i}.att.W_query / W_key / W_value / out_proj,
    trf_blocks.{i}.ff.layers.0 / layers.2, trf_blocks.{i}.norm1 / norm2 (scale, shift),
    final_norm (scale, shift), out_head (no bias)

and the safetensors format read and written with the standard library alone (an 8-byte
little-endian header length, a JSON header, then the raw little-endian tensors), so the project
needs nothing but torch. Exported by llm101 export --pytorch.
"""

import array
import json
import math
import os
import struct
import sys

import torch
import torch.nn as nn

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
        return values.numpy().tobytes()
    except (ImportError, RuntimeError):  # torch without numpy: slower, same bytes
        return array.array('f', values.tolist()).tobytes()


def write_safetensors(path, tensors, metadata):
    """Writes {name: tensor} as F32 with {key: string} metadata; whole or not at all."""
    header, chunks, offset = {'__metadata__': {k: str(v) for k, v in metadata.items()}}, [], 0
    for name, tensor in tensors.items():
        chunk = _float32_bytes(tensor)
        header[name] = {'dtype': 'F32', 'shape': list(tensor.shape), 'data_offsets': [offset, offset + len(chunk)]}
        chunks.append(chunk)
        offset += len(chunk)
    encoded = json.dumps(header, separators=(',', ':')).encode('utf-8')
    encoded += b' ' * (-len(encoded) % 8)  # the data starts 8-byte aligned
    tmp = f'{path}.tmp'
    with open(tmp, 'wb') as f:
        f.write(struct.pack('<Q', len(encoded)))
        f.write(encoded)
        for chunk in chunks:
            f.write(chunk)
    os.replace(tmp, path)


# --------------------------------------------------------------------------- the model

def config_from_metadata(metadata, heads=None):
    """The model's sizes from the checkpoint's __metadata__ (what llm101 writes)."""
    def need(key):
        if key not in metadata:
            raise SystemExit(f'the checkpoint\'s metadata has no {key}; it was not written by llm101 (give --heads for heads)')
        return metadata[key]
    return {
        'vocab_size': int(need('vocabSize')),
        'context_length': int(need('contextLength')),
        'dim': int(need('dim')),
        'heads': int(heads if heads is not None else need('heads')),
        'layers': int(need('layers')),
        'qkv_bias': need('qkvBias') == 'true',
        'eps': float(metadata.get('layerNormEps', '1e-5')),
        'dropout': 0.0,
    }


class MultiHeadAttention(nn.Module):
    """Causal self-attention, heads side by side in one projection per query, key and value."""

    def __init__(self, dim, context_length, heads, dropout, qkv_bias):
        super().__init__()
        assert dim % heads == 0, f'heads ({heads}) must divide dim ({dim})'
        self.heads, self.head_dim = heads, dim // heads
        self.W_query = nn.Linear(dim, dim, bias=qkv_bias)
        self.W_key = nn.Linear(dim, dim, bias=qkv_bias)
        self.W_value = nn.Linear(dim, dim, bias=qkv_bias)
        self.out_proj = nn.Linear(dim, dim)
        self.dropout = nn.Dropout(dropout)
        # True above the diagonal: a query never sees later keys (not saved with the weights)
        self.register_buffer('future', torch.ones(context_length, context_length, dtype=torch.bool).triu(1), persistent=False)

    def forward(self, x):  # (B, T, dim) -> (B, T, dim)
        B, T, _ = x.shape

        def per_head(y):  # (B, T, dim) -> (B, heads, T, head_dim)
            return y.view(B, T, self.heads, self.head_dim).transpose(1, 2)

        queries, keys, values = per_head(self.W_query(x)), per_head(self.W_key(x)), per_head(self.W_value(x))
        attn_scores = queries @ keys.transpose(-2, -1)  # (B, heads, T, T)
        attn_scores = attn_scores.masked_fill(self.future[:T, :T], float('-inf'))
        attn_weights = self.dropout(torch.softmax(attn_scores / math.sqrt(self.head_dim), dim=-1))
        context_vec = (attn_weights @ values).transpose(1, 2).reshape(B, T, self.heads * self.head_dim)
        return self.out_proj(context_vec)


class LayerNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.scale = nn.Parameter(torch.ones(dim))
        self.shift = nn.Parameter(torch.zeros(dim))

    def forward(self, x):
        centred = x - x.mean(dim=-1, keepdim=True)
        variance = (centred * centred).mean(dim=-1, keepdim=True)  # the biased variance, as the book
        return self.scale * centred / torch.sqrt(variance + self.eps) + self.shift


class GELU(nn.Module):
    """The tanh approximation GPT-2 and the book use."""

    def forward(self, x):
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


class FeedForward(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(dim, 4 * dim), GELU(), nn.Linear(4 * dim, dim))

    def forward(self, x):
        return self.layers(x)


class TransformerBlock(nn.Module):
    """Pre-norm: x + att(norm1(x)), then x + ff(norm2(x)), dropout on each branch."""

    def __init__(self, cfg):
        super().__init__()
        self.att = MultiHeadAttention(cfg['dim'], cfg['context_length'], cfg['heads'], cfg['dropout'], cfg['qkv_bias'])
        self.ff = FeedForward(cfg['dim'])
        self.norm1 = LayerNorm(cfg['dim'], cfg['eps'])
        self.norm2 = LayerNorm(cfg['dim'], cfg['eps'])
        self.drop_shortcut = nn.Dropout(cfg['dropout'])

    def forward(self, x):
        x = x + self.drop_shortcut(self.att(self.norm1(x)))
        return x + self.drop_shortcut(self.ff(self.norm2(x)))


class GPTModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = dict(cfg)
        self.tok_emb = nn.Embedding(cfg['vocab_size'], cfg['dim'])
        self.pos_emb = nn.Embedding(cfg['context_length'], cfg['dim'])
        self.drop_emb = nn.Dropout(cfg['dropout'])
        self.trf_blocks = nn.Sequential(*[TransformerBlock(cfg) for _ in range(cfg['layers'])])
        self.final_norm = LayerNorm(cfg['dim'], cfg['eps'])
        self.out_head = nn.Linear(cfg['dim'], cfg['vocab_size'], bias=False)

    def forward(self, ids):  # (B, T) token ids -> (B, T, vocab) logits
        T = ids.shape[1]
        positions = torch.arange(T, device=ids.device)
        x = self.drop_emb(self.tok_emb(ids) + self.pos_emb(positions))
        return self.out_head(self.final_norm(self.trf_blocks(x)))


def load_checkpoint(path, dropout=0.0, heads=None):
    """(model, metadata) from an llm101 checkpoint; every tensor must fit, none may be left over."""
    tensors, metadata = read_safetensors(path)
    cfg = config_from_metadata(metadata, heads)
    cfg['dropout'] = dropout
    model = GPTModel(cfg)
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    unexpected = [name for name in unexpected if not name.endswith('.att.mask')]  # the book's saved mask buffer
    if missing or unexpected:
        raise SystemExit(f'{path} does not fit the model: missing {missing}, unexpected {unexpected}')
    return model, metadata


def save_checkpoint(path, model, metadata):
    """The weights under the same names, F32, with the metadata (config, tokenizer, step, losses)."""
    write_safetensors(path, model.state_dict(), metadata)
`;
