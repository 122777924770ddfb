"""How a PDF's text reads once loaded, per PDF: words run together, lines read twice, load time.

A run of 20 or more letters is counted as words run together ("Wehaveimplementedacommercialenterprise");
English words that long are rare enough not to matter (code names such as "ConsumerRebalanceListener" are
counted too). A line of 20 or more characters that occurs again on its page counts as read twice (a page
drawn twice reads every line twice). Runs under whichever CiteGraph is imported, so
``benchmarks/side_by_side.py`` compares versions:

    P=/tmp/papers   # raft.pdf, gfs.pdf, vm-ft.pdf from github.com/Nori-onigiri/Distrubted-Paper at a4282ec
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
from citegraph.ingest.loaders import Page, load_document

RUN_TOGETHER = re.compile(r"[A-Za-z]{20,}")
LONG_LINE = 20


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
        document = load_document(path, max_bytes=1 << 30)
        seconds = time.perf_counter() - start
        text = document.text
        runs = RUN_TOGETHER.findall(text)
        per_pdf[path.name] = {
            "words": len(text.split()),
            "run_together": len(runs),
            "examples": runs[:3],
            "lines_read_twice": lines_read_twice(text, document.pages),
            "load_seconds": round(seconds, 3),
        }
    save(
        {
            "benchmark": "pdf_text",
            "machine": machine(),
            "run_together": sum(p["run_together"] for p in per_pdf.values()),
            "lines_read_twice": sum(p["lines_read_twice"] for p in per_pdf.values()),
            "load_seconds": round(sum(p["load_seconds"] for p in per_pdf.values()), 3),
            "pdfs": per_pdf,
        },
        args.json,
    )


if __name__ == "__main__":
    main()
