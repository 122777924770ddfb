"""Tokenizers of the scratch model: byte-level BPE and char-level, round trips and persistence."""

from __future__ import annotations

from pathlib import Path

import pytest

from citegraph.models.scratch.tokenizer import (
    EOT,
    BPETokenizer,
    CharTokenizer,
    load_tokenizer,
    train_tokenizer,
)

TEXT = "Holmes looked at Watson. “Elementary,” he said — naïve café, 東京, emoji 🙂.\n" * 30


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_bpe_round_trips_any_text_and_respects_vocab_size(tmp_path: Path) -> None:
    tok = BPETokenizer.train([TEXT], vocab_size=320)
    assert 257 <= tok.vocab_size <= 320 and tok.eot_id == tok.tok.token_to_id(EOT)
    unseen = "Zebra ¿qué? Ωmega \x07 tab\there 🦊"  # characters never seen in training still encode (bytes)
    for text in (TEXT[:200], unseen):
        assert tok.decode(tok.encode(text)) == text
    assert len(tok.encode(TEXT)) < len(TEXT.encode("utf-8")) / 2  # merges were learned
    tok.save(tmp_path)
    again = load_tokenizer(tmp_path)
    assert again.kind == "bpe" and again.encode(TEXT) == tok.encode(TEXT)


def test_char_tokenizer_round_trip_unknowns_and_persistence(tmp_path: Path) -> None:
    tok = train_tokenizer("char", ["hello world", "hold"])
    assert tok.vocab_size == len(set("hello worldhold")) and tok.eot_id is None
    assert tok.decode(tok.encode("hello")) == "hello"
    assert tok.decode(tok.encode("help!")) == "hel"  # outside the alphabet: dropped
    tok.save(tmp_path)
    again = load_tokenizer(tmp_path)
    assert isinstance(again, CharTokenizer) and again.chars == tok.chars


def test_bad_tokenizer_requests_fail_clearly(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown tokenizer"):
        train_tokenizer("wordpiece", ["x"])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least 256"):
        train_tokenizer("bpe", ["x"], vocab_size=100)
    with pytest.raises(ValueError, match="empty"):
        CharTokenizer([])
    with pytest.raises(FileNotFoundError, match=r"tokenizer\.json"):
        load_tokenizer(tmp_path)
