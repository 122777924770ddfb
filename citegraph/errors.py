"""Errors shared across CiteGraph's layers, in one import-light module.

The CLI and the server catch these to report one clear line (exit code 2, HTTP 400) instead of a
traceback; keeping them here, with no torch/transformers/chromadb imports, lets those front ends import
them without loading any model stack.
"""

from __future__ import annotations


class ModelNotFoundError(FileNotFoundError):
    """A model spec or path that does not resolve to a local model: a missing folder, a folder without a
    model in it, an unknown spec kind. CiteGraph never downloads models, so this is always the user's to
    fix (a path or a spec), never a transient failure."""


class ModelUnavailableError(ModelNotFoundError):
    """A model spec that names a model CiteGraph cannot reach as set up now: its provider package is not
    installed, its API key is not set, or its server does not answer. The message names the fix. A
    subclass of ModelNotFoundError, so the CLI and the server report it the same way (one line, exit 2 /
    HTTP 400)."""
