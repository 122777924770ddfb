"""What the chat models that run in this process (``scratch:``, ``lora:``) share."""

from __future__ import annotations

from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel, LangSmithParams


class LocalChatModel(BaseChatModel):
    """A chat model of ours: traced with ``ls_provider`` "citegraph" and its own ``ls_model_name``."""

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        """LangSmith's parameters: the base class reads ls_model_name from a call's ``model``, else the
        model's ``model_name``; the provider is us."""
        params = super()._get_ls_params(stop=stop, **kwargs)
        params["ls_provider"] = "citegraph"
        return params
