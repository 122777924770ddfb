"""Helpers shared by the benchmarks: BEIR corpora as files, chunk texts, JSON output."""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Collection
from pathlib import Path
from typing import Any

import psutil


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    return {
        "cpu_count": psutil.cpu_count(logical=True),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


def read_beir_corpus(folder: Path, limit: int | None = None) -> list[tuple[str, str]]:
    """(doc id, "title\\n\\ntext") for each line of a BEIR corpus.jsonl."""
    docs = []
    with (folder / "corpus.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            title = (row.get("title") or "").strip()
            docs.append((str(row["_id"]), f"{title}\n\n{row['text']}" if title else row["text"]))
            if limit and len(docs) >= limit:
                break
    return docs


def write_beir_as_files(folder: Path, out: Path, limit: int | None = None) -> int:
    """Write each BEIR document as ``<id>.txt`` so it goes through the real file-ingest path."""
    out.mkdir(parents=True, exist_ok=True)
    docs = read_beir_corpus(folder, limit)
    for doc_id, text in docs:
        (out / f"{doc_id}.txt").write_text(text, encoding="utf-8")
    return len(docs)


def save(
    result: dict[str, Any],
    path: Path | None,
    *,
    indent: int = 2,
    ensure_ascii: bool = True,
    echo: bool = True,
    echo_without: Collection[str] = (),
) -> None:
    """Write ``result`` as UTF-8 JSON to ``path`` (when given; folders are made) and print it.

    ``indent`` and ``ensure_ascii`` are json.dumps'; each benchmark keeps the layout its saved results
    already have, so re-running one changes only the figures in a diff. ``echo=False`` prints nothing (for
    benchmarks that print their own table); ``echo_without`` leaves bulky keys out of the printed copy
    while the file keeps them.
    """
    if echo:
        shown = {k: v for k, v in result.items() if k not in echo_without}
        print(json.dumps(shown, indent=indent, ensure_ascii=ensure_ascii))
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=indent, ensure_ascii=ensure_ascii) + "\n", encoding="utf-8")


def make_verifier() -> tuple[Any, str]:
    """The verifier of whichever CiteGraph is imported, and what judges support in it: the judge (since
    issue 14) or the bi-encoder (before). ``benchmarks/side_by_side.py`` runs a benchmark under both."""
    from citegraph.agents.verifier import Verifier

    try:
        from citegraph.models.judge.judge import judge_at
    except ImportError:
        from citegraph.retrieval.embeddings import Embedder

        return Verifier(Embedder()), "bi-encoder"  # type: ignore[arg-type]
    return Verifier(judge_at()), "judge"
