"""Helpers shared by the benchmarks: BEIR corpora as files, chunk texts, JSON output."""

from __future__ import annotations

import json
import platform
import time
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


def save(result: dict[str, Any], path: Path | None) -> None:
    """Print the result and write it as JSON."""
    text = json.dumps(result, indent=2)
    print(text)
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")
