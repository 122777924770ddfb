"""The built wheel works on its own: ``citegraph demo`` from a fresh virtualenv, in a directory far from the
checkout, finds the demo corpus inside the installed package and prints a cited answer.

Offline and fast: the wheel is built without build isolation (setuptools is already in the dev venv) and
installed with ``--no-deps --no-index``; its dependencies come from the dev venv's site-packages through a
``.pth`` line. A path added that way is not a site directory, so the ``.pth`` files in it, among them the
editable install's finder for the checkout, are not run: ``import citegraph`` can only find the wheel.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from citegraph.retrieval.manifest import Manifest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DEMO_FILES = {"a_study_in_scarlet.txt", "adventures_of_sherlock_holmes.txt"}


def run(*args: str | Path, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, f"{args}\n{done.stdout}\n{done.stderr}"
    return done


def build_wheel(work: Path) -> Path:
    """The wheel of a copy of the sources (a build inside the checkout would reuse a stale ``build/lib``)."""
    src = work / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "citegraph", src / "citegraph", ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    dist = work / "dist"
    run(
        sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
        "--disable-pip-version-check", "-q", "-w", dist, src,
    )  # fmt: skip
    (wheel,) = dist.glob("citegraph-*.whl")
    return wheel


def make_venv(venv: Path, wheel: Path) -> Path:
    """A virtualenv holding only the wheel, then given the dev venv's dependencies; returns its python."""
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    # pip installs before the .pth exists, so it sees an empty environment (never the dev venv's
    # editable citegraph, which it might otherwise call "already satisfied").
    run(
        sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index",
        "--disable-pip-version-check", "-q", wheel,
    )  # fmt: skip
    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))").stdout.strip())
    (site / "citegraph_test_deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return python


@pytest.mark.timeout(1800)  # embeds the two demo books: ~1 min on 2 idle cores, much longer on a busy machine
def test_wheel_runs_the_demo_from_any_directory(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "build")
    names = zipfile.ZipFile(wheel).namelist()
    assert {f"citegraph/demo_corpus/{n}" for n in DEMO_FILES} <= set(names)
    assert "citegraph/server/static/index.html" in names
    assert not [n for n in names if n.startswith(("tests/", "benchmarks/", "examples/"))]

    venv = tmp_path / "venv"
    python = make_venv(venv, wheel)
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"}}
    env |= {
        "CITEGRAPH_STORE_DIR": str(tmp_path / "store"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    }
    where = run(python, "-c", "import citegraph; print(citegraph.__file__)", cwd=cwd, env=env)
    assert Path(where.stdout.strip()).is_relative_to(venv), where.stdout  # the wheel, not the checkout

    demo = run(venv / "bin" / "citegraph", "demo", cwd=cwd, env=env, timeout=1700)
    assert "Irene Adler" in demo.stdout and "[1]" in demo.stdout, demo.stdout
    assert "[1] adventures_of_sherlock_holmes.txt, lines " in demo.stdout, demo.stdout
    # What was ingested is the wheel's own copy of the corpus.
    manifest = Manifest(tmp_path / "store" / "manifest.sqlite")
    try:
        ingested = {Path(s.path) for s in manifest.sources()}
    finally:
        manifest.close()
    corpus = Path(where.stdout.strip()).parent / "demo_corpus"
    assert ingested == {corpus / name for name in DEMO_FILES}
