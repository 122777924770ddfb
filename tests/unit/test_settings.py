"""Settings: one object, read from CITEGRAPH_* variables, validated."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from citegraph.settings import Settings, default_store_dir


def test_environment_overrides_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CITEGRAPH_STORE_DIR", str(tmp_path / "s"))
    monkeypatch.setenv("CITEGRAPH_CHUNK_SIZE", "500")
    monkeypatch.setenv("CITEGRAPH_BM25_WEIGHT", "0.25")
    settings = Settings()
    assert (
        settings.store_dir == tmp_path / "s" and settings.chunk_size == 500 and settings.bm25_weight == 0.25
    )
    assert Settings(chunk_size=900).chunk_size == 900  # keyword arguments win over the environment


def test_default_store_dir_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_store_dir() == tmp_path / "citegraph" / "store"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert default_store_dir() == Path.home() / ".local" / "share" / "citegraph" / "store"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("chunk_overlap", 900, "must be below chunk_size"),
        ("chunk_size", 10, "greater than or equal to 100"),
        ("collection", "a", "should match pattern"),
        ("top_k", 0, "greater than or equal to 1"),
    ],
)
def test_invalid_values_are_refused(field: str, value: object, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings(**{field: value})
