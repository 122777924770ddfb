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
