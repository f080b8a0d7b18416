"""Loads a checkpoint written by llm101 into the book's own GPTModel with load_state_dict(strict=True).

    python3 scripts/check-book-interop.py PATH/TO/LLMs-from-scratch/ch04/01_main-chapter-code/gpt.py CHECKPOINT.safetensors

The book's module is not part of this repository: give its path (a clone of rasbt/LLMs-from-scratch).
Runs on torch 1.13 (Debian's python3-torch) and 2.x; reads the safetensors file by hand so no
safetensors package is needed. Prints the config it read and the logits' shape.
"""
import json
import struct
import sys
import types

import torch


def read_safetensors(path):
    raw = open(path, 'rb').read()
    length = struct.unpack('<Q', raw[:8])[0]
    header = json.loads(raw[8:8 + length])
    metadata = header.pop('__metadata__', {})
    tensors = {}
    for name, entry in header.items():
        begin, end = entry['data_offsets']
        data = bytearray(raw[8 + length + begin:8 + length + end])
        tensors[name] = torch.frombuffer(data, dtype=torch.float32).reshape(entry['shape'])
    return tensors, metadata


def main():
    gpt_py, checkpoint = sys.argv[1:3]
    sys.modules.setdefault('tiktoken', types.ModuleType('tiktoken'))  # the book's module imports it for its data helpers only
    sys.path.insert(0, gpt_py.rsplit('/', 1)[0])
    from gpt import GPTModel
    tensors, metadata = read_safetensors(checkpoint)
    cfg = {
        'vocab_size': tensors['tok_emb.weight'].shape[0], 'emb_dim': tensors['tok_emb.weight'].shape[1],
        'context_length': tensors['pos_emb.weight'].shape[0], 'n_heads': int(metadata['heads']),
        'n_layers': int(metadata['layers']), 'drop_rate': 0.0, 'qkv_bias': 'trf_blocks.0.att.W_query.bias' in tensors,
    }
    model = GPTModel(cfg)
    model.load_state_dict(tensors, strict=True)
    logits = model(torch.tensor([[0, 1, 2]]))
    print(f'torch {torch.__version__}: load_state_dict(strict=True) took {checkpoint}; {cfg}; logits {tuple(logits.shape)}')


if __name__ == '__main__':
    main()
