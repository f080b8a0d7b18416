// The exported project's tokenizer.py, written by `llm101 export --pytorch` (src/export/pytorchProject.ts).
// Python source as it is (String.raw keeps the backslashes); it holds no backtick and no dollar-brace.
export const TOKENIZER_PY = String.raw`"""The checkpoint's tokenizer, from its llm101.tokenizer metadata, giving the same ids as LLM 101
Playground's:

- word: the book's chapter 2 tokenizer. Split on punctuation, "--" and whitespace, keep the
  punctuation, drop the whitespace; <|endoftext|> is one token wherever it is written; a piece
  missing from the vocabulary is <|unk|>. Decoding joins with spaces and removes the space
  before punctuation.
- bpe: byte-level byte-pair encoding. The text's UTF-8 bytes are the first tokens, and the saved
  merges are replayed in the order they were learned (merge i makes token 256 + i).
- gpt2: GPT-2's own tokenizer, which needs tiktoken (pip install tiktoken).
"""

import json
import re

END_OF_TEXT = '<|endoftext|>'
UNKNOWN = '<|unk|>'
_DELIMITER = re.compile(r'([,.:;?_!"()\']|--|\s)')
_SPACE_BEFORE_PUNCTUATION = re.compile(r'\s+([,.:;?!"()\'])')


class WordTokenizer:
    kind = 'word'

    def __init__(self, vocab):
        self.vocab = list(vocab)
        self.id_of = {entry: i for i, entry in enumerate(self.vocab)}
        self.unknown = self.id_of[UNKNOWN]
        self.end_of_text = self.id_of[END_OF_TEXT]

    def pieces(self, text):
        out = []
        for n, segment in enumerate(text.split(END_OF_TEXT)):
            if n > 0:
                out.append(END_OF_TEXT)
            out.extend(piece for piece in _DELIMITER.split(segment) if piece and not piece.isspace())
        return out

    def encode(self, text):
        return [self.end_of_text if p == END_OF_TEXT else self.id_of.get(p, self.unknown) for p in self.pieces(text)]

    def decode(self, ids):
        return _SPACE_BEFORE_PUNCTUATION.sub(r'\1', ' '.join(self.vocab[i] for i in ids))


class BpeTokenizer:
    kind = 'bpe'

    def __init__(self, merges):
        self.merges = [(left, right) for left, right in merges]
        self.rank = {pair: rank for rank, pair in enumerate(self.merges)}
        self.bytes_of = [bytes([b]) for b in range(256)]
        for left, right in self.merges:
            self.bytes_of.append(self.bytes_of[left] + self.bytes_of[right])

    def encode(self, text):
        ids = list(text.encode('utf-8', 'surrogatepass'))
        while len(ids) > 1:
            # the earliest-learned merge present; every occurrence left to right, as training made it
            rank = min(self.rank.get(pair, len(self.merges)) for pair in zip(ids, ids[1:]))
            if rank == len(self.merges):
                break
            pair, merged, out, i = self.merges[rank], 256 + rank, [], 0
            while i < len(ids):
                if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
                    out.append(merged)
                    i += 2
                else:
                    out.append(ids[i])
                    i += 1
            ids = out
        return ids

    def decode(self, ids):
        return b''.join(self.bytes_of[i] for i in ids).decode('utf-8', errors='replace')


class Gpt2Tokenizer:
    kind = 'gpt2'

    def __init__(self):
        try:
            import tiktoken
        except ImportError:
            raise SystemExit('this checkpoint uses the gpt2 tokenizer, which needs tiktoken: pip install tiktoken')
        self.encoding = tiktoken.get_encoding('gpt2')

    def encode(self, text):
        return self.encoding.encode(text, allowed_special={END_OF_TEXT})

    def decode(self, ids):
        return self.encoding.decode(ids)


def tokenizer_from_metadata(metadata):
    saved = metadata.get('llm101.tokenizer')
    if saved is None:
        raise SystemExit('the checkpoint carries no tokenizer (llm101.tokenizer); train it with llm101 train')
    saved = json.loads(saved)
    if saved['kind'] == 'word':
        return WordTokenizer(saved['vocab'])
    if saved['kind'] == 'bpe':
        return BpeTokenizer(saved['model']['merges'])
    if saved['kind'] == 'gpt2':
        return Gpt2Tokenizer()
    raise SystemExit(f'unknown tokenizer kind {saved["kind"]!r}')
`;
