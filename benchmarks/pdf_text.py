"""How a PDF's text reads once loaded, per PDF: words run together, words broken apart, lines read twice,
load time.

- Run together: a run of 20 or more letters ("Wehaveimplementedacommercialenterprise"). English words
  that long are rare; code names such as "ConsumerRebalanceListener" count too.
- Broken apart: pieces of one or two letters that are no English word, per 1,000 words ("Asso ciation",
  "Rak esh Agra w al"). A paper's variables ("k", "C") count too.
- Read twice: a line of 20 or more characters that occurs again on its page (a page drawn twice reads
  every line twice).

Runs under whichever CiteGraph is imported, so ``benchmarks/side_by_side.py`` compares versions:

    P=/tmp/papers  # raft.pdf, gfs.pdf, vm-ft.pdf: github.com/Nori-onigiri/Distrubted-Paper at a4282ec;
                   # apriori.pdf: "ML/Association Rule Learning.pdf", github.com/meetchandan/pdfs at 4ef4100;
                   # mapreduce-osdi04.pdf, rdd-nsdi12.pdf, column-stores.pdf: the real_docs fetch scripts
    python benchmarks/side_by_side.py --baseline bac8206 --rounds 3 \\
        --json benchmarks/results/pdf_text_side_by_side.json -- \\
        python benchmarks/pdf_text.py --json {json} $P/*.pdf
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for benchmarks.common

from benchmarks.common import machine, save
from citegraph.ingest.loaders import IngestError, Page, load_document

RUN_TOGETHER = re.compile(r"[A-Za-z]{20,}")
LONG_LINE = 20
PIECE = re.compile(r"(?<![\w/])[A-Za-z]{1,2}(?![\w/])")
SHORT_WORDS = frozenset(
    "a i an as at be by do go he if in is it me my no of on or so to up us we am ok id vs eg ie".split()
)


def lines_read_twice(text: str, pages: tuple[Page, ...]) -> int:
    """Lines of ``LONG_LINE`` characters or more that occur again on their page."""
    twice = 0
    for page in pages:
        lines = [line.strip() for line in text[page.start : page.end].split("\n")]
        long_lines = [line for line in lines if len(line) >= LONG_LINE]
        twice += len(long_lines) - len(set(long_lines))
    return twice


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("pdfs", type=Path, nargs="+")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    per_pdf = {}
    for path in args.pdfs:
        start = time.perf_counter()
        try:
            document = load_document(path, max_bytes=1 << 30)
        except IngestError as error:  # a scanned paper: no text to measure
            per_pdf[path.name] = {"error": str(error).split(": ", 1)[-1]}
            continue
        seconds = time.perf_counter() - start
        text = document.text
        runs = RUN_TOGETHER.findall(text)
        pieces = [p for p in PIECE.findall(text) if p.lower() not in SHORT_WORDS]
        per_pdf[path.name] = {
            "words": len(text.split()),
            "run_together": len(runs),
            "examples": runs[:3],
            "pieces_per_1000_words": round(1000 * len(pieces) / max(len(text.split()), 1), 1),
            "lines_read_twice": lines_read_twice(text, document.pages),
            "load_seconds": round(seconds, 3),
        }
    read = [p for p in per_pdf.values() if "error" not in p]
    save(
        {
            "benchmark": "pdf_text",
            "machine": machine(),
            "pdfs_read": len(read),
            "run_together": sum(p["run_together"] for p in read),
            "pieces_per_1000_words": round(
                sum(p["pieces_per_1000_words"] * p["words"] for p in read)
                / max(sum(p["words"] for p in read), 1),
                1,
            ),
            "lines_read_twice": sum(p["lines_read_twice"] for p in read),
            "load_seconds": round(sum(p["load_seconds"] for p in read), 3),
            "pdfs": per_pdf,
        },
        args.json,
    )


if __name__ == "__main__":
    main()
