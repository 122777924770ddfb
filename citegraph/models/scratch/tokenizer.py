"""Tokenizers for the scratch model: byte-level BPE (trained with ``tokenizers``) or single characters.

Both expose the same small interface (:class:`ScratchTokenizer`) and save to ``tokenizer.json`` in the
model directory, so a checkpoint directory is self-contained.

- ``bpe``: byte-level BPE, so any text (any language, emoji, control characters) encodes without unknown
  tokens. One special token, ``<|endoftext|>``, separates documents in the training stream.
- ``char``: one id per character of the training text's alphabet, as in nanoGPT's shakespeare_char;
  small vocabularies make the baby benchmark comparable. Characters outside the alphabet are dropped
  when encoding (a char model cannot represent them), which matters only for chat prompts.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Literal, Protocol

TokenizerKind = Literal["bpe", "char"]
TOKENIZER_FILE = "tokenizer.json"
EOT = "<|endoftext|>"


class ScratchTokenizer(Protocol):
    kind: TokenizerKind
    vocab_size: int
    eot_id: int | None  # document separator, if the tokenizer has one

    def encode(self, text: str) -> list[int]: ...
    def decode(self, ids: Iterable[int]) -> str: ...
    def save(self, directory: Path) -> None: ...


class CharTokenizer:
    """One token per character of a fixed alphabet."""

    kind: TokenizerKind = "char"
    eot_id: int | None = None

    def __init__(self, chars: Iterable[str]) -> None:
        self.chars = sorted(set(chars))
        if not self.chars:
            raise ValueError("a char tokenizer needs a non-empty alphabet (is the training text empty?)")
        self.stoi = {c: i for i, c in enumerate(self.chars)}
        self.vocab_size = len(self.chars)

    @classmethod
    def train(cls, texts: Iterable[str]) -> CharTokenizer:
        alphabet: set[str] = set()
        for text in texts:
            alphabet.update(text)
        return cls(alphabet)

    def encode(self, text: str) -> list[int]:
        return [self.stoi[c] for c in text if c in self.stoi]

    def decode(self, ids: Iterable[int]) -> str:
        return "".join(self.chars[i] for i in ids)

    def save(self, directory: Path) -> None:
        payload = {"kind": "char", "chars": self.chars}
        (Path(directory) / TOKENIZER_FILE).write_text(
            json.dumps(payload, ensure_ascii=False), encoding="utf-8"
        )


class BPETokenizer:
    """Byte-level BPE backed by a ``tokenizers.Tokenizer``."""

    kind: TokenizerKind = "bpe"

    def __init__(self, tok) -> None:
        self.tok = tok
        self.vocab_size = tok.get_vocab_size()
        self.eot_id = tok.token_to_id(EOT)

    @classmethod
    def train(cls, texts: Iterable[str], vocab_size: int = 4096) -> BPETokenizer:
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

        if vocab_size < 257:
            raise ValueError(
                f"vocab_size={vocab_size}: byte-level BPE needs at least 256 bytes + 1 special token"
            )
        tok = Tokenizer(models.BPE())
        # add_prefix_space=False: the text is encoded exactly as written, so decode(encode(t)) == t.
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            special_tokens=[EOT],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # every byte, seen or not: no unknowns
            show_progress=False,
        )
        tok.train_from_iterator(texts, trainer=trainer)
        return cls(tok)

    def encode(self, text: str) -> list[int]:
        return self.tok.encode(text).ids

    def decode(self, ids: Iterable[int]) -> str:
        return self.tok.decode(list(ids), skip_special_tokens=True)

    def save(self, directory: Path) -> None:
        self.tok.save(str(Path(directory) / TOKENIZER_FILE))


def train_tokenizer(kind: TokenizerKind, texts: list[str], vocab_size: int = 4096) -> ScratchTokenizer:
    """Train a tokenizer of ``kind`` on ``texts``."""
    if kind == "char":
        return CharTokenizer.train(texts)
    if kind == "bpe":
        return BPETokenizer.train(texts, vocab_size)
    raise ValueError(f"unknown tokenizer kind {kind!r}; expected 'bpe' or 'char'")


def load_tokenizer(directory: Path) -> ScratchTokenizer:
    """Load the tokenizer saved in a model directory."""
    path = Path(directory) / TOKENIZER_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no {TOKENIZER_FILE} in {directory}")
    payload = json.loads(path.read_text(encoding="utf-8"))
    if payload.get("kind") == "char":
        return CharTokenizer(payload["chars"])
    from tokenizers import Tokenizer

    return BPETokenizer(Tokenizer.from_file(str(path)))
