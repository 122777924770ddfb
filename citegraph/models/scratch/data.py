"""Token data on disk: encode text files once into flat ``train.bin`` / ``val.bin`` arrays, then sample
training windows from a memory map (nothing but the sampled windows is ever read into memory).

The split is per file: the last ``val_fraction`` of each file's characters is held out, so every
document is represented in validation and no window straddles the train/val boundary.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from citegraph.models.scratch.tokenizer import ScratchTokenizer, TokenizerKind, train_tokenizer

META_FILE = "meta.json"


class DataError(ValueError):
    """The training data is missing, empty or too short for the requested context."""


def read_texts(files: list[Path]) -> list[str]:
    """Read UTF-8 text files, failing with a clear message on anything missing or empty."""
    if not files:
        raise DataError("no data files given")
    texts = []
    for f in map(Path, files):
        if not f.is_file():
            raise DataError(f"data file not found: {f}")
        text = f.read_text(encoding="utf-8", errors="replace")
        if not text.strip():
            raise DataError(f"data file is empty: {f}")
        texts.append(text)
    return texts


def split_texts(texts: list[str], val_fraction: float) -> tuple[list[str], list[str]]:
    """Hold out the tail of each text: (train parts, val parts)."""
    if not 0.0 < val_fraction < 1.0:
        raise DataError(f"val_fraction must be in (0, 1), got {val_fraction}")
    train, val = [], []
    for text in texts:
        cut = int(len(text) * (1.0 - val_fraction))
        train.append(text[:cut])
        val.append(text[cut:])
    return train, val


def _encode_stream(tokenizer: ScratchTokenizer, parts: list[str]) -> np.ndarray:
    """Concatenate the encoded parts, separated by the end-of-text token when the tokenizer has one."""
    ids: list[int] = []
    for part in parts:
        ids.extend(tokenizer.encode(part))
        if tokenizer.eot_id is not None:
            ids.append(tokenizer.eot_id)
    # uint16 halves the file size for vocabularies that fit (all the ones this project trains).
    dtype = np.uint16 if tokenizer.vocab_size <= 2**16 else np.uint32
    return np.asarray(ids, dtype=dtype)


def prepare_data(
    files: list[Path],
    out_dir: Path,
    kind: TokenizerKind = "bpe",
    vocab_size: int = 4096,
    val_fraction: float = 0.1,
) -> ScratchTokenizer:
    """Train a tokenizer on the training split of ``files`` and write ``tokenizer.json``, ``train.bin``,
    ``val.bin`` and ``meta.json`` into ``out_dir``.

    The char tokenizer's alphabet is taken from the whole text (as nanoGPT does): it is only the set of
    symbols, and a validation character outside it could not be scored at all.
    """
    texts = read_texts(files)
    train_parts, val_parts = split_texts(texts, val_fraction)
    tokenizer = train_tokenizer(kind, texts if kind == "char" else train_parts, vocab_size)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tokenizer.save(out_dir)
    train_ids, val_ids = _encode_stream(tokenizer, train_parts), _encode_stream(tokenizer, val_parts)
    train_ids.tofile(out_dir / "train.bin")
    val_ids.tofile(out_dir / "val.bin")
    meta = {
        "files": [str(f) for f in files],
        "dtype": str(train_ids.dtype),
        "vocab_size": tokenizer.vocab_size,
        "train_tokens": int(train_ids.size),
        "val_tokens": int(val_ids.size),
    }
    (out_dir / META_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return tokenizer


@dataclass
class TokenData:
    """Memory-mapped train/val token arrays in a directory written by :func:`prepare_data`."""

    train: np.ndarray
    val: np.ndarray

    @classmethod
    def open(cls, directory: Path) -> TokenData:
        meta = json.loads((Path(directory) / META_FILE).read_text(encoding="utf-8"))
        dtype = np.dtype(meta["dtype"])
        return cls(
            train=np.memmap(Path(directory) / "train.bin", dtype=dtype, mode="r"),
            val=np.memmap(Path(directory) / "val.bin", dtype=dtype, mode="r"),
        )

    def check(self, block_size: int) -> None:
        for name, arr in (("train", self.train), ("val", self.val)):
            if len(arr) < block_size + 1:
                raise DataError(
                    f"the {name} split has {len(arr)} tokens, too few for block_size={block_size}; "
                    "give more text or a smaller --block-size"
                )

    def batch(
        self, split: str, batch_size: int, block_size: int, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``batch_size`` random windows (inputs, next-token targets), drawn with ``generator``.

        Drawing offsets from an explicit generator (not the global RNG) makes the data order part of the
        checkpoint, so a resumed run sees exactly the batches the uninterrupted run would have seen.
        """
        data = self.train if split == "train" else self.val
        starts = torch.randint(len(data) - block_size, (batch_size,), generator=generator).numpy()
        # One fancy-indexing read of all windows (B, T+1) instead of a Python loop over examples: the
        # memmap still reads only these rows, and x/y are two views of the same int64 block.
        window = torch.from_numpy(data[starts[:, None] + np.arange(block_size + 1)].astype(np.int64))
        return window[:, :-1], window[:, 1:]
