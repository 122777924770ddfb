"""Words a PDF's text runs together: how many, and how long loading takes, per PDF.

A run of 20 or more letters is counted as words run together ("Wehaveimplementedacommercialenterprise");
English words that long are rare enough not to matter. Runs under whichever CiteGraph is imported, so
``benchmarks/side_by_side.py`` compares versions:

    P=/tmp/papers   # raft.pdf, gfs.pdf, vm-ft.pdf from github.com/Nori-onigiri/Distrubted-Paper at a4282ec
    python benchmarks/side_by_side.py --baseline bac8206 --rounds 1 \\
        --json benchmarks/results/pdf_word_breaks_side_by_side.json -- \\
        python benchmarks/pdf_word_breaks.py --json {json} $P/*.pdf
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for benchmarks.common

from benchmarks.common import machine, save
from citegraph.ingest.loaders import load_document

RUN_TOGETHER = re.compile(r"[A-Za-z]{20,}")


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
        text = load_document(path, max_bytes=1 << 30).text
        seconds = time.perf_counter() - start
        runs = RUN_TOGETHER.findall(text)
        per_pdf[path.name] = {
            "words": len(text.split()),
            "run_together": len(runs),
            "examples": runs[:3],
            "load_seconds": round(seconds, 3),
        }
    save(
        {
            "benchmark": "pdf_word_breaks",
            "machine": machine(),
            "run_together": sum(p["run_together"] for p in per_pdf.values()),
            "load_seconds": round(sum(p["load_seconds"] for p in per_pdf.values()), 3),
            "pdfs": per_pdf,
        },
        args.json,
    )


if __name__ == "__main__":
    main()
