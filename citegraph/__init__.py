"""CiteGraph: LangGraph agents that answer questions over your documents, every sentence cited."""

from citegraph.settings import Settings, force_offline

force_offline()

__all__ = ["Settings"]
__version__ = "0.1.0"
