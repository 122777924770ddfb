"""CiteGraph: LangGraph agents that answer questions over your documents, every sentence cited."""

from typing import Any

from citegraph.settings import Settings, force_offline

force_offline()

__all__ = ["Settings", "verify"]


def __getattr__(name: str) -> Any:
    # ``citegraph.verify`` without making ``import citegraph`` pay for torch and the judge.
    if name == "verify":
        from citegraph.agents.verifier import verify_answer

        return verify_answer
    raise AttributeError(f"module 'citegraph' has no attribute {name!r}")


__version__ = "0.1.0"
