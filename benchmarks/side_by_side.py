"""Run one benchmark command under an earlier commit and under the working tree, alternately, in one run
(the machines are noisy: compare ratios measured side by side, not figures from different days).

    python benchmarks/side_by_side.py --baseline f90835e --rounds 1 \
        --json benchmarks/results/judge_verifier_adversarial.json -- \
        python benchmarks/verifier_adversarial.py --json {json}

The baseline is unpacked with ``git archive`` into a temporary folder and gets the working tree's
``benchmarks/`` (so both run the same benchmark code; benchmarks that differ by version ask, e.g.
``common.make_verifier``). Each command runs with the tree as its working directory, so
``python -m citegraph.cli`` and ``benchmarks/*.py`` import that tree's ``citegraph``; ``{json}`` is
replaced by a file the command writes its JSON result to. Prints and saves both results and, for every
number they share, the ratio current / baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for benchmarks.common

from benchmarks.common import machine, save

ROOT = Path(__file__).resolve().parents[1]


def unpack(commit: str) -> Path:
    """The baseline commit's files (cached per commit) with the working tree's benchmarks copied in."""
    sha = subprocess.run(
        ["git", "rev-parse", commit], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    tree = Path(tempfile.gettempdir()) / f"citegraph-baseline-{sha[:12]}"
    if not (tree / "citegraph").is_dir():
        tree.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "archive", sha], cwd=ROOT, capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    shutil.copytree(ROOT / "benchmarks", tree / "benchmarks", dirs_exist_ok=True)
    return tree


def run(command: list[str], tree: Path) -> tuple[dict[str, Any], float]:
    """Run ``command`` in ``tree``; its JSON result and wall seconds."""
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "result.json"
        argv = [part.replace("{json}", str(out)) for part in command]
        environment = {**os.environ, "PYTHONPATH": str(tree)}
        start = time.perf_counter()
        subprocess.run(argv, cwd=tree, env=environment, check=True)
        seconds = time.perf_counter() - start
        return json.loads(out.read_text(encoding="utf-8")), seconds


def numbers(result: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """Every number of a (nested) result, keyed by its dotted path."""
    found: dict[str, float] = {}
    for key, value in result.items():
        if isinstance(value, bool):
            continue
        if isinstance(value, int | float):
            found[prefix + key] = float(value)
        elif isinstance(value, dict) and key != "machine":
            found |= numbers(value, f"{prefix}{key}.")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--baseline", required=True, help="The earlier commit to compare with.")
    parser.add_argument("--rounds", type=int, default=1, help="Alternating runs of each (order flips).")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command, with {json}.")
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command or not any("{json}" in part for part in command):
        parser.error("give the command after --, with {json} where it writes its result")
    command = [sys.executable if part == "python" else part for part in command]

    trees = {"baseline": unpack(args.baseline), "current": ROOT}
    runs: dict[str, list[dict[str, Any]]] = {"baseline": [], "current": []}
    for round_ in range(args.rounds):
        order = ["baseline", "current"] if round_ % 2 == 0 else ["current", "baseline"]
        for label in order:
            result, seconds = run(command, trees[label])
            runs[label].append({"result": result, "seconds": round(seconds, 1)})

    def mean(label: str) -> dict[str, float]:
        values = [numbers(r["result"]) for r in runs[label]]
        keys = set.intersection(*(set(v) for v in values))
        return {k: sum(v[k] for v in values) / len(values) for k in keys}

    baseline, current = mean("baseline"), mean("current")
    ratios = {
        k: round(current[k] / baseline[k], 4)
        for k in sorted(set(baseline) & set(current))
        if baseline[k] and not k.startswith(("server.", "settings."))
    }
    save(
        {
            "command": " ".join(args.command[1:] if args.command[:1] == ["--"] else args.command),
            # The commit itself, not a name that moves ("HEAD", a branch).
            "baseline_commit": subprocess.run(
                ["git", "rev-parse", "--short", args.baseline], cwd=ROOT, capture_output=True, text=True
            ).stdout.strip()
            or args.baseline,
            "rounds": args.rounds,
            "baseline": runs["baseline"],
            "current": runs["current"],
            "ratio_current_over_baseline": ratios,
            "machine": machine(),
        },
        args.json,
    )


if __name__ == "__main__":
    sys.exit(main())
