"""LangChain's standard chat-model suites (``ChatModelUnitTests``, ``ChatModelIntegrationTests``) on the
chat models CiteGraph implements itself, over tiny random weights (fixed seeds): ``scratch:`` and ``lora:``
(a random Mistral-shaped base with a random adapter). The flags are honest: no tool calling, no
structured output (plain-text models), usage metadata reported.
(``gguf:`` runs the integration suite against a real llama.cpp server in
tests/integration/test_langchain_standard.py.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from langchain_core.language_models import BaseChatModel
from langchain_tests.integration_tests import ChatModelIntegrationTests
from langchain_tests.unit_tests import ChatModelUnitTests

from citegraph.models.lora.adapters import AdapterChatModel
from citegraph.models.lora.tiny import tiny_mistral
from citegraph.models.registry import load_chat_model
from citegraph.models.scratch.chat_model import ScratchChatModel
from citegraph.models.scratch.model import GPT, GPTConfig
from citegraph.models.scratch.tokenizer import CharTokenizer
from tests.unit.test_lora import _random_adapter

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def scratch_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scratch checkpoint directory with random weights (2 layers, 32 wide) and a character tokenizer."""
    directory = tmp_path_factory.mktemp("scratch_random")
    tokenizer = CharTokenizer.train(
        ["abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ.,:!?'\n0123456789"]
    )
    tokenizer.save(directory)
    torch.manual_seed(0)
    config = GPTConfig(vocab_size=tokenizer.vocab_size, block_size=64, n_layer=2, n_head=2, n_embd=32)
    torch.save({"model_config": config.to_dict(), "model": GPT(config).state_dict()}, directory / "model.pt")
    return directory


class PlainTextModel:
    """The flags both local models share: they write text, nothing else."""

    @property
    def has_tool_calling(self) -> bool:
        return False

    @property
    def has_structured_output(self) -> bool:
        return False

    @property
    def supports_model_override(self) -> bool:
        return False  # the model is its weights on disk, not a name a call can switch

    @property
    def standard_chat_model_params(self) -> dict[str, Any]:
        # 8 new tokens, not the suite's 100: random weights write noise, and it keeps these tests fast.
        return {**super().standard_chat_model_params, "max_tokens": 8}  # type: ignore[misc]


class ScratchSuite(PlainTextModel):
    """What both suites need: the class and its parameters (fixed seed; the suite sets temperature 0)."""

    @pytest.fixture(autouse=True)
    def _directory(self, scratch_dir: Path) -> None:
        self._params = {"model_dir": str(scratch_dir), "seed": 0}

    @property
    def chat_model_class(self) -> type[BaseChatModel]:
        return ScratchChatModel

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return self._params


class TestScratchChatModelUnit(ScratchSuite, ChatModelUnitTests):
    pass


class TestScratchChatModelIntegration(ScratchSuite, ChatModelIntegrationTests):
    pass


@pytest.fixture(scope="module")
def lora_model(tmp_path_factory: pytest.TempPathFactory) -> AdapterChatModel:
    """``lora:<tiny random base>+<random adapter>`` through the registry (fixed seeds)."""
    root = tmp_path_factory.mktemp("lora_random")
    texts = ["Irene Adler sang in Warsaw.", "Who designed the Kestrel bridge? Agnes Thorne did [1]."] * 20
    base = tiny_mistral(root / "base", texts, seed=0)
    adapter = _random_adapter(base, root / "adapters", "answer", seed=1)
    return load_chat_model(f"lora:{base}+{adapter}")


class LoraSuite(PlainTextModel):
    """Both suites on the loaded model's parts: the shared base, its pipeline and the adapter name."""

    @pytest.fixture(autouse=True)
    def _model(self, lora_model: AdapterChatModel) -> None:
        self._params = {"inner": lora_model.inner, "shared": lora_model.shared, "adapter": lora_model.adapter}

    @property
    def chat_model_class(self) -> type[BaseChatModel]:
        return AdapterChatModel

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return self._params


class TestLoraChatModelUnit(LoraSuite, ChatModelUnitTests):
    pass


class TestLoraChatModelIntegration(LoraSuite, ChatModelIntegrationTests):
    pass
