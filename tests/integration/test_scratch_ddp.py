"""DDP training of the scratch model: two CPU processes under torchrun (gloo) end with identical weights."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def test_two_process_ddp_run_finishes_and_ranks_agree(tmp_path: Path) -> None:
    data = tmp_path / "text.txt"
    data.write_text("It is a capital mistake to theorize before one has data. " * 60, encoding="utf-8")
    run = tmp_path / "run"
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    args = (
        "train scratch --tokenizer char --n-layer 1 --n-head 2 --n-embd 16 --block-size 16 --batch-size 4 "
        "--max-iters 6 --eval-interval 3 --eval-iters 1 --device cpu --dropout 0.1 --quiet"
    ).split()
    cmd = [*torchrun, "-m", "citegraph.cli", *args, "--data", str(data), "--out", str(run)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    wrote_log = (run / "log.json").is_file()
    assert proc.returncode == 0, f"log.json written: {wrote_log}\n{proc.stderr[-3000:]}"
    log = json.loads((run / "log.json").read_text())
    assert log["world_size"] == 2 and log["iters"] == 6
    assert log["tokens_seen"] == 6 * 4 * 16 * 2  # both ranks' batches counted
    sums = log["param_checksums"]
    assert len(sums) == 2 and sums[0] == sums[1]  # gradients were all-reduced: the replicas never diverged
    assert log["history"]["eval"][-1]["val"] < log["history"]["eval"][0]["val"]
    # The checkpoint holds both ranks' RNG states, so a DDP run can resume exactly.
    import torch

    ckpt = torch.load(run / "ckpt.pt", weights_only=False)
    assert len(ckpt["rng"]) == 2 and not torch.equal(ckpt["rng"][0]["torch"], ckpt["rng"][1]["torch"])
