"""The scratch model's CLI: train scratch, generate, eval lm, and their errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from citegraph.cli import app

runner = CliRunner()
TINY = (
    "--tokenizer char --n-layer 1 --n-head 2 --n-embd 16 --block-size 16 --batch-size 4 --max-iters 4 "
    "--eval-interval 2 --eval-iters 1 --quiet"
).split()


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_train_generate_eval_round_trip(tmp_path: Path) -> None:
    data = tmp_path / "text.txt"
    data.write_text("the quick brown fox jumps over the lazy dog. " * 40, encoding="utf-8")
    run = tmp_path / "run"
    result = runner.invoke(app, ["train", "scratch", "--data", str(data), "--out", str(run), *TINY])
    assert result.exit_code == 0, result.output
    assert json.loads((run / "log.json").read_text())["iters"] == 4

    result = runner.invoke(
        app,
        [
            "generate",
            "--model",
            f"scratch:{run}",
            "--prompt",
            "the ",
            "--temperature",
            "0",
            "--max-new-tokens",
            "5",
        ],
    )
    assert result.exit_code == 0, result.output
    assert (
        result.stdout.startswith("the ") and len(result.stdout) == len("the ") + 5 + 1
    )  # 5 chars and a newline

    result = runner.invoke(app, ["eval", "lm", "--model", f"scratch:{run}", "--data", str(data), "--json"])
    assert result.exit_code == 0, result.output
    score = json.loads(result.stdout)
    assert score["tokens"] == len("the quick brown fox jumps over the lazy dog. " * 40) - 1
    assert 1.0 < score["perplexity"] < 40 and score["bits_per_byte"] > 0

    # Resume to a later iteration from the same directory.
    result = runner.invoke(
        app,
        [
            "train",
            "scratch",
            "--data",
            str(data),
            "--out",
            str(run),
            *TINY[:-5],
            "--max-iters",
            "6",
            "--resume",
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads((run / "log.json").read_text())["iters"] == 6


def test_cli_errors_are_clear(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["train", "scratch", "--data", str(tmp_path / "none.txt"), "--out", str(tmp_path / "r"), *TINY]
    )
    assert result.exit_code == 2 and "data file not found" in result.output
    result = runner.invoke(app, ["generate", "--model", f"scratch:{tmp_path / 'nothing'}", "--prompt", "x"])
    assert result.exit_code == 2 and "not found" in result.output
    result = runner.invoke(
        app, ["eval", "lm", "--model", f"scratch:{tmp_path}", "--data", str(tmp_path / "none.txt")]
    )
    assert result.exit_code == 2 and "no scratch checkpoint" in result.output


def test_cli_module_does_not_import_torch() -> None:
    code = "import sys, citegraph.cli; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
