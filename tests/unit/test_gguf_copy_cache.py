"""Where the plain copy of a GGUF file is cached: by content, so a reinstalled file finds its old copy."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from citegraph.models.hf import KEY_BYTES, _gguf_cache_dir


def test_the_copy_is_keyed_by_content_not_by_mtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    first, reinstalled, other = (tmp_path / folder / "m.gguf" for folder in "abc")
    body = random.Random(0).randbytes(3 * KEY_BYTES)
    for path, data in ((first, body), (reinstalled, body), (other, body[:-1] + bytes([body[-1] ^ 1]))):
        path.parent.mkdir()
        path.write_bytes(data)
    os.utime(reinstalled, (1_000_000, 1_000_000))
    assert _gguf_cache_dir(first) == _gguf_cache_dir(reinstalled)
    assert _gguf_cache_dir(other) != _gguf_cache_dir(first)  # the last bytes differ
    assert _gguf_cache_dir(first).parent == tmp_path / "cache" / "citegraph" / "models"
