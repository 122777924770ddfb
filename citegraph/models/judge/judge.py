"""The judge at work: what each head is shown (the one home of the input formats training also uses),
batched scoring, and the short-answer span.

``Judge.answers`` scores candidate sentences against a question, ``Judge.answerable`` decides whether the
best of them answer it at all, ``Judge.support`` whether passages state a claim, ``Judge.rerank`` how
relevant chunks are to a query. Scores are probabilities; ``Judge.says(head, p)`` applies the threshold
chosen at training time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from citegraph.models.judge.model import JudgeModel, load_judge
from citegraph.retrieval.embeddings import Embedder, shared_embedder
from citegraph.retrieval.tokenizer import tokenize
from citegraph.settings import Settings, force_offline

if TYPE_CHECKING:
    from citegraph.context import RagContext

SHIPPED_JUDGE = Path(__file__).parent / "weights"
# How many of the best candidate sentences the answerable head reads (what an answer would be made of).
ANSWERABLE_SENTENCES = 3
MAX_SPAN_TOKENS = 24  # a short answer is a name, a date, a phrase: not half a sentence
# A text with more unknown word pieces than this is in a language the judge cannot read (a Thai question
# is nearly all [UNK]; an English one with a Thai name in it is not).
MAX_UNKNOWN_SHARE = 0.25


def native_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 in hardware (AVX512-BF16 or AMX). Where it does, the judge runs
    under bfloat16 autocast: an answer-step call 1.45-1.64x faster (two runs), and on 1,000 held-out
    training examples per head the same decision as float32 on all but one (benchmarks/judge_precision.py).
    Where it does not, bfloat16 products would be emulated in software, so the judge stays in float32."""
    cpu = torch.cpu
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")  # private: absent in some torch builds
    return any(getattr(cpu, name, lambda: False)() for name in checks)


def answer_pair(question: str, sentence: str, previous: str = "") -> tuple[str, str]:
    """What the answer head reads: the question, then the sentence, then the sentence before it (so "It
    was built in 1850" can be judged knowing what "it" is). The sentence comes first in the second
    segment so truncation cuts the context, never the sentence."""
    return question, f"{sentence} [SEP] {previous}" if previous else sentence


def answerable_pair(question: str, sentences: Sequence[str]) -> tuple[str, str]:
    """What the answerable head reads: the question and the best candidate sentences, joined."""
    return question, " ".join(sentences)


def support_pair(passage: str, claim: str) -> tuple[str, str]:
    """What the support head reads: the claim first (never truncated), then the passage."""
    return claim, passage


def rerank_pair(query: str, passage: str) -> tuple[str, str]:
    """What the rerank head reads: the query, then the chunk."""
    return query, passage


@dataclass(frozen=True)
class AnswerJudgment:
    """The answer head's verdict on one sentence: how likely it answers, and the short answer inside it
    (character offsets into the sentence; ``None`` when no span is likely enough)."""

    score: float
    span: tuple[int, int] | None = None
    span_score: float = 0.0


def best_span(
    start_logits: torch.Tensor, end_logits: torch.Tensor, offsets: list[tuple[int, int]], limit: int
) -> tuple[tuple[int, int], float] | None:
    """The likeliest (start <= end < start + MAX_SPAN_TOKENS) token span among the sentence's tokens, as
    character offsets into the sentence, with its probability (start prob x end prob)."""
    tokens = [i for i, (a, b) in enumerate(offsets) if b > a and b <= limit]
    if not tokens:
        return None
    index = torch.tensor(tokens)
    start = torch.softmax(start_logits[index], dim=0)
    end = torch.softmax(end_logits[index], dim=0)
    joint = torch.triu(start[:, None] * end[None, :])
    joint = torch.tril(joint, diagonal=MAX_SPAN_TOKENS - 1)
    flat = int(torch.argmax(joint))
    i, j = divmod(flat, len(tokens))
    return (offsets[tokens[i]][0], offsets[tokens[j]][1]), float(joint[i, j])


class Judge:
    """A loaded judge model with its tokenizer; thread-safe for scoring (inference only)."""

    def __init__(
        self,
        model: JudgeModel,
        tokenizer: Any,
        batch_size: int = 32,
        thresholds: dict[str, float] | None = None,
        embedder: Embedder | None = None,
        bf16: bool | None = None,
    ) -> None:
        self.model = model.eval()
        # Matrix products in bfloat16, the rest (layer norms, softmax) in float32: see ``native_bf16``.
        self.bf16 = native_bf16() if bf16 is None else bf16
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self._embedder = embedder
        # The model's own thresholds unless told otherwise (a copy: two judges may share one model).
        self.thresholds = {**model.config.thresholds, **(thresholds or {})}

    @property
    def config(self) -> Any:
        return self.model.config

    @property
    def embedder(self) -> Embedder:
        """The bundled bi-encoder, for ``closeness``: the one the store uses by default (with its default
        batch size), so a process holds one copy."""
        if self._embedder is None:
            self._embedder = shared_embedder()
        return self._embedder

    def closeness(self, first: Sequence[str], second: Sequence[str]) -> np.ndarray:
        """The bi-encoder's view of each pair: cosine similarity plus 0.3 x the share of the first text's
        terms found in the second (the score the answer step ranked sentences by before the judge)."""
        if not first:
            return np.zeros(0, dtype=np.float32)
        a, b = self.embedder.embed_sentences(list(first)), self.embedder.embed_sentences(list(second))
        overlap = []
        for x, y in zip(first, second, strict=True):
            terms = set(tokenize(x))
            overlap.append(len(terms & set(tokenize(y))) / max(len(terms), 1))
        return (a * b).sum(axis=1) + 0.3 * np.array(overlap, dtype=np.float32)

    def probability(self, head: str, logits: np.ndarray, closeness: np.ndarray | None = None) -> np.ndarray:
        """The head's probability: its own, or (when the judge was calibrated with a stack for this head)
        a logistic combination of its logit with the bi-encoder closeness, fitted on held-out data."""
        weights = self.config.stack.get(head)
        if not weights or closeness is None:
            return 1 / (1 + np.exp(-logits))
        return 1 / (1 + np.exp(-(weights[0] * logits + weights[1] * closeness + weights[2])))

    def stacked(self, head: str) -> bool:
        return bool(self.config.stack.get(head))

    def reads(self, text: str) -> bool:
        """Whether the judge can read ``text``: at most ``MAX_UNKNOWN_SHARE`` of its word pieces are
        ``[UNK]`` (MiniLM's English vocabulary has no Thai, so every Thai word is one)."""
        pieces = self.tokenizer.tokenize(text)
        unknown = sum(p == self.tokenizer.unk_token for p in pieces)
        return bool(pieces) and unknown <= MAX_UNKNOWN_SHARE * len(pieces)

    def says(self, head: str, probability: float) -> bool:
        """Whether ``probability`` from ``head`` clears the threshold chosen for it at training time."""
        return probability >= self.thresholds[head]

    def encode(self, head: str, pairs: Sequence[tuple[str, str]], offsets: bool = False) -> Any:
        """Tokenize pairs for ``head``: padded tensors, the longer segment cut from its end to fit."""
        return self.tokenizer(
            [a for a, _ in pairs],
            [b for _, b in pairs],
            truncation="longest_first",
            max_length=self.config.max_length[head],
            padding=True,
            return_tensors="pt",
            return_offsets_mapping=offsets,
        )

    @torch.inference_mode()
    def logits(self, head: str, pairs: Sequence[tuple[str, str]]) -> tuple[np.ndarray, list[Any]]:
        """Raw logits for ``pairs`` and, for ``answer``, each pair's (span logits, offsets)."""
        logits: list[np.ndarray] = []
        spans: list[Any] = []
        for i in range(0, len(pairs), self.batch_size):
            batch = self.encode(head, pairs[i : i + self.batch_size], offsets=head == "answer")
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
                logit, span = self.model(
                    head, batch["input_ids"], batch["attention_mask"], batch["token_type_ids"]
                )
            logit = logit.float()
            span = None if span is None else span.float()
            logits.append(logit.numpy())
            if span is not None:
                for row in range(len(logit)):
                    sequence = batch.sequence_ids(row)
                    # Offsets of second-segment tokens only; the question's tokens can never be the span.
                    offsets = [
                        tuple(o) if s == 1 else (0, 0)
                        for o, s in zip(batch["offset_mapping"][row].tolist(), sequence, strict=True)
                    ]
                    spans.append((span[row, :, 0], span[row, :, 1], offsets))
        if not logits:
            return np.zeros(0, dtype=np.float32), []
        return np.concatenate(logits), spans

    def answers(
        self,
        question: str,
        sentences: Sequence[str],
        previous: Sequence[str] | None = None,
        closeness: Sequence[float] | None = None,
    ) -> list[AnswerJudgment]:
        """How likely each sentence answers ``question`` (``previous[i]``: the sentence before it, or "")
        and the short answer inside each, where the span head is confident enough. ``closeness``: the
        caller's ``closeness`` of (question, sentence), when it has them already."""
        previous = previous or [""] * len(sentences)
        pairs = [answer_pair(question, s, p) for s, p in zip(sentences, previous, strict=True)]
        logits, spans = self.logits("answer", pairs)
        if self.stacked("answer") and closeness is None:
            closeness = self.closeness([question] * len(sentences), sentences)
        scores = self.probability("answer", logits, None if closeness is None else np.asarray(closeness))
        judgments = []
        for sentence, score, (start, end, offsets) in zip(sentences, scores, spans, strict=True):
            found = best_span(start, end, offsets, len(sentence))
            if found and self.says("span", found[1]):
                judgments.append(AnswerJudgment(float(score), found[0], found[1]))
            else:
                judgments.append(AnswerJudgment(float(score)))
        return judgments

    def answerable(self, question: str, sentences: Sequence[str], closeness: float | None = None) -> float:
        """Probability that these sentences (the best candidates, in reading order) answer ``question``.
        ``closeness``: the best (question, sentence) ``closeness``, when the caller has it already."""
        if not sentences:
            return 0.0
        logits = self.logits("answerable", [answerable_pair(question, sentences)])[0]
        close = None
        if self.stacked("answerable"):
            best = (
                closeness
                if closeness is not None
                else self.closeness([question] * len(sentences), sentences).max()
            )
            close = np.array([best], dtype=np.float32)
        return float(self.probability("answerable", logits, close)[0])

    def support(self, passages: Sequence[str], claim: str) -> np.ndarray:
        """Probability that each passage states ``claim``."""
        if not passages:
            return np.zeros(0, dtype=np.float32)
        logits = self.logits("support", [support_pair(p, claim) for p in passages])[0]
        close = self.closeness([claim] * len(passages), passages) if self.stacked("support") else None
        return self.probability("support", logits, close)

    def rerank(self, query: str, passages: Sequence[str]) -> np.ndarray:
        """Relevance probability of each passage to ``query``."""
        return self.probability("rerank", self.logits("rerank", [rerank_pair(query, p) for p in passages])[0])


def load_tokenizer(base_path: Path | None = None) -> Any:
    """The base encoder's (fast, offset-giving) WordPiece tokenizer, loaded offline."""
    force_offline()
    from transformers import AutoTokenizer

    from citegraph.models.paths import bundled_embedding_path

    return AutoTokenizer.from_pretrained(str(base_path or bundled_embedding_path()), local_files_only=True)


def judge_at(folder: str | None = None) -> Judge:
    """The judge saved in ``folder`` (default: the one shipped in the package), loaded once per process
    (``resources.shared``: threads asking at once wait for the one load; transformers' lazy imports are
    not safe to race).

    Raises ``ModelNotFoundError`` when there is none, with the command that trains one."""
    from citegraph.errors import ModelNotFoundError
    from citegraph.resources import shared

    path = Path(folder).expanduser() if folder else SHIPPED_JUDGE

    def build() -> Judge:
        force_offline()
        try:
            model = load_judge(path)
        except FileNotFoundError as error:
            raise ModelNotFoundError(f"{error}; train one with `citegraph train judge`") from None
        return Judge(model, load_tokenizer())

    return shared(("judge", str(path)), build)


def judge_for_settings(settings: Settings) -> Judge:
    """The judge ``settings`` name (``judge_model``; ``CITEGRAPH_JUDGE_MODEL``), else the shipped one."""
    return judge_at(str(settings.judge_model) if settings.judge_model else None)


def judge_for(context: RagContext) -> Judge:
    """The judge a run uses: the one its store's settings name (``CITEGRAPH_JUDGE_MODEL``), else the
    shipped one; loaded once per process."""
    from citegraph.resources import pipeline_for

    return judge_for_settings(pipeline_for(context).settings)
