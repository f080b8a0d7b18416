// The exported project's generate.py, written by `llm101 export --pytorch` (src/export/pytorchProject.ts).
// Python source as it is (String.raw keeps the backslashes); it holds no backtick and no dollar-brace.
export const GENERATE_PY = String.raw`"""Continues a prompt with the checkpoint, greedily by default (the most likely token each time),
as llm101 generate does:

    python generate.py --prompt "The sea" --max-new-tokens 20
    python generate.py --prompt "The sea" --temperature 0.8 --top-k 40 --seed 1

The context is cropped to the model's context length, as the book's generate_text_simple does.
Sampling (temperature above 0) uses torch's generator: the same seed gives the same text here, but
not the same as the extension's sampler.
"""

import argparse
import json
import os

import torch

from model import load_checkpoint
from tokenizer import tokenizer_from_metadata

HERE = os.path.dirname(os.path.abspath(__file__))


def generate(model, ids, max_new_tokens, temperature=0.0, top_k=None):
    context = model.cfg['context_length']
    ids = torch.tensor([ids], dtype=torch.long)
    new = []
    with torch.no_grad():
        for _ in range(max_new_tokens):
            logits = model(ids[:, -context:])[0, -1]  # (vocab,): the next token's
            if temperature == 0:
                next_id = int(torch.argmax(logits))
            else:
                if top_k:
                    kth = torch.topk(logits, top_k).values[-1]
                    logits = torch.where(logits < kth, torch.tensor(float('-inf')), logits)
                next_id = int(torch.multinomial(torch.softmax(logits / temperature, dim=-1), 1))
            new.append(next_id)
            ids = torch.cat([ids, torch.tensor([[next_id]])], dim=1)
    return new


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--checkpoint', default=os.path.join(HERE, 'model.safetensors'))
    parser.add_argument('--prompt', required=True)
    parser.add_argument('--max-new-tokens', type=int, default=20)
    parser.add_argument('--temperature', type=float, default=0.0)
    parser.add_argument('--top-k', type=int, default=None)
    parser.add_argument('--seed', type=int, default=123)
    parser.add_argument('--json', action='store_true', help='print {"prompt": ids, "generated": ids, "text"}')
    args = parser.parse_args()
    if args.max_new_tokens < 1 or args.temperature < 0:
        parser.error('--max-new-tokens must be at least 1 and --temperature at least 0')

    torch.manual_seed(args.seed)
    model, metadata = load_checkpoint(args.checkpoint)
    model.eval()
    tokenizer = tokenizer_from_metadata(metadata)
    prompt = tokenizer.encode(args.prompt)
    if not prompt:
        parser.error('the tokenizer finds no tokens in the prompt')
    new = generate(model, prompt, args.max_new_tokens, args.temperature, args.top_k)
    text = tokenizer.decode(new)
    print(json.dumps({'prompt': prompt, 'generated': new, 'text': text}) if args.json else text)


if __name__ == '__main__':
    main()
`;
