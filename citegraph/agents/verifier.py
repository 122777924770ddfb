"""The citation verifier: no sentence reaches the user unless the source it cites supports it.

For each sentence of an answer: it must carry at least one [n] marker, every marker must name a given
source, and some passage of the cited source(s) (one sentence, or two adjacent ones) must support it:

* **agreement**: every number and every named entity of the sentence occurs in that passage, so
  "Watson is an American opera singer [1]" fails when [1] says it of Irene Adler;
* **support**: the passage says much the same thing: enough of the sentence's content words occur in it
  (lexical) or its embedding is close (semantic).

The checks are deliberately conservative: a sentence that is true but not *shown* by its source fails.
"""

from __future__ import annotations

import itertools
import re
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from langgraph.runtime import Runtime

from citegraph.answers import Answer, abstention, markers, strip_markers
from citegraph.context import RagContext
from citegraph.ingest.chunking import sentence_spans
from citegraph.resources import pipeline_for, shared
from citegraph.retrieval.embeddings import Embedder
from citegraph.retrieval.tokenizer import tokenize
from citegraph.state import RagState

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_CAPITALISED = re.compile(r"\b[A-Z][\w'’-]*")
_WORD = re.compile(r"[\w'’-]+")
_POSSESSIVE = re.compile(r"['’]s?$")
_NUMBER_WORDS = {
    w: str(i)
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
        "sixteen seventeen eighteen nineteen twenty".split()
    )
} | {
    "thirty": "30",
    "forty": "40",
    "fifty": "50",
    "sixty": "60",
    "seventy": "70",
    "eighty": "80",
    "ninety": "90",
}
# Capitalised words that are not names: sentence openers, pronouns, titles, months are handled as names.
_NOT_NAMES = frozenset(
    "a an the it its he she his her him they them their there this that these those i we our you your my "
    "in on at of for from to with by as after before during since if then so but and or nor yet when where "
    "who whom whose what which why how yes no not all some many most one each every both either neither "
    "mr mrs ms dr sir st".split()
)


# BM25's stop list keeps pronouns and auxiliaries ("she", "was", "out"); a claim's support must come
# from its content words, or "She was a pirate" would half-match any sentence about "she".
_FUNCTION_TERMS = frozenset(
    tokenize(
        " ".join(_NOT_NAMES)
        + " is was were be been being am are has have had do does did out up down off over very also just"
        " only then there here than too much more most such own same other"
    )
)


def content_terms(text: str) -> set[str]:
    """The stemmed content words of ``text`` (BM25 tokens without function words)."""
    return set(tokenize(text)) - _FUNCTION_TERMS


def numbers(text: str) -> set[str]:
    """Numbers in ``text`` as digit strings ("nine" -> "9", "1,200" -> "1200")."""
    found = {n.replace(",", "") for n in _NUMBER.findall(text)}
    found |= {_NUMBER_WORDS[w] for w in _WORD.findall(text.lower()) if w in _NUMBER_WORDS}
    return found


def _bare(word: str) -> str:
    """Lower-cased, possessive dropped: "Adler's" -> "adler"."""
    return _POSSESSIVE.sub("", word.lower())


def entities(text: str) -> set[str]:
    """Capitalised words that look like names (not sentence openers or pronouns), lower-cased."""
    return {_bare(w) for w in _CAPITALISED.findall(text) if w.lower() not in _NOT_NAMES}


def words(text: str) -> set[str]:
    return {_bare(w) for w in _WORD.findall(text)}


def mentions(passage_words: set[str], name: str) -> bool:
    """A name is mentioned if a passage word is it or shares its stem ("America" ~ "American")."""
    if name in passage_words:
        return True
    return len(name) >= 4 and any(
        len(w) >= 4 and (w.startswith(name) or name.startswith(w)) for w in passage_words
    )


@dataclass(frozen=True)
class SentenceCheck:
    """The verdict on one sentence of an answer."""

    text: str  # the sentence with its markers
    claim: str  # the sentence without markers
    markers: tuple[int, ...]
    supported: bool
    reason: str = ""  # why it failed; empty when supported
    support: float = 0.0  # best support score over the cited passages
    evidence: str = ""  # the passage that supports it


@dataclass(frozen=True)
class Verification:
    """The verdict on a whole answer."""

    checks: list[SentenceCheck] = field(default_factory=list)

    @property
    def verified(self) -> bool:
        """True when there is at least one sentence and every sentence is supported."""
        return bool(self.checks) and all(c.supported for c in self.checks)

    @property
    def supported_text(self) -> str:
        """The answer with the unsupported sentences removed."""
        return " ".join(c.text for c in self.checks if c.supported)

    def feedback(self) -> str:
        """What to fix, for an LLM asked to rewrite its answer."""
        return "\n".join(f'- "{c.claim}": {c.reason}' for c in self.checks if not c.supported)


def split_answer(answer: str) -> list[tuple[str, str, tuple[int, ...]]]:
    """(sentence with markers, claim without markers, markers) for each sentence of an answer.

    Markers belong to the sentence they end: "A [1]. B [2]" and "A. [1] B. [2]" both give A->1, B->2,
    also after closing quotes ('He said "no." [1]').
    """
    # Move markers that follow the full stop in front of it, so sentence splitting keeps them together.
    normalized = re.sub(r"([.!?][\"'”’)]*)((?:\s*\[\d+\])+)", r"\2\1", answer.strip())
    result = []
    for start, end in sentence_spans(normalized):
        sentence = normalized[start:end]
        claim = " ".join(strip_markers(sentence).split())
        if claim.strip(" .!?"):
            result.append((sentence, claim, tuple(markers(sentence))))
    return result


@dataclass
class Verifier:
    """Checks answers against numbered sources. Thresholds are set on held-out data (see benchmarks)."""

    embedder: Embedder
    min_lexical: float = 0.5  # share of the claim's content words found in the passage
    min_semantic: float = 0.6  # cosine similarity of claim and passage embeddings
    cache_size: int = 4096  # sources whose embedded passages are kept (a long-running server stays bounded)
    _cache: OrderedDict[str, tuple[list[str], np.ndarray]] = field(default_factory=OrderedDict, repr=False)

    def _passages(self, source: str) -> tuple[list[str], np.ndarray]:
        """A source's sentences and adjacent pairs, with their embeddings (cached per source text)."""
        if source in self._cache:
            self._cache.move_to_end(source)
            return self._cache[source]
        sentences = [source[a:b] for a, b in sentence_spans(source)] or [source]
        passages = sentences + [f"{a} {b}" for a, b in itertools.pairwise(sentences)]
        self._cache[source] = (passages, self.embedder.embed_sentences(passages))
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return self._cache[source]

    def check(
        self, sentence: str, claim: str, markers: tuple[int, ...], sources: Mapping[int, str]
    ) -> SentenceCheck:
        """Verify one sentence against the sources it cites."""
        if not markers:
            return SentenceCheck(sentence, claim, markers, False, "cites no source")
        unknown = [n for n in markers if n not in sources]
        if unknown:
            return SentenceCheck(
                sentence, claim, markers, False, f"cites [{unknown[0]}], which is not a given source"
            )
        claim_vec = self.embedder.embed_query(claim)
        claim_terms = content_terms(claim)
        claim_numbers, claim_entities = numbers(claim), entities(claim)
        support: tuple[float, str] | None = None  # (score, passage) of the best supporting passage
        closest: tuple[float, str] | None = None  # (similarity, reason) of the most similar failing one
        for n in dict.fromkeys(markers):
            passages, vectors = self._passages(sources[n])
            for passage, similarity in zip(passages, (vectors @ claim_vec).tolist(), strict=True):
                lexical = len(claim_terms & set(tokenize(passage))) / max(len(claim_terms), 1)
                passage_words = words(passage)
                missing = sorted(e for e in claim_entities if not mentions(passage_words, e))
                missing += sorted(claim_numbers - numbers(passage))
                if missing:
                    reason = f"[{n}] does not mention {', '.join(repr(w) for w in missing)}"
                elif lexical >= self.min_lexical or similarity >= self.min_semantic:
                    if support is None or max(lexical, similarity) > support[0]:
                        support = (max(lexical, similarity), passage)
                    continue
                else:
                    reason = (
                        f"[{n}] does not say this (word overlap {lexical:.2f}, similarity {similarity:.2f})"
                    )
                if closest is None or similarity > closest[0]:
                    closest = (similarity, reason)
        if support is not None:
            return SentenceCheck(sentence, claim, markers, True, "", support[0], support[1])
        return SentenceCheck(
            sentence, claim, markers, False, closest[1] if closest else "the cited source is empty"
        )

    def verify(self, answer: str, sources: Mapping[int, str]) -> Verification:
        """Check every sentence of ``answer`` against ``sources`` (marker number -> cited text)."""
        return Verification([self.check(s, c, m, sources) for s, c, m in split_answer(answer)])


def verifier_for(embedder: Embedder) -> Verifier:
    """The citation verifier over ``embedder``: one per embedding model and process (it caches embedded
    passages)."""
    return shared(("verifier", id(embedder)), lambda: Verifier(embedder))


def checked(draft: Answer, verification: Verification) -> Answer:
    """``draft`` with its unsupported sentences removed (an abstention when none is left) and ``verified``
    set; citations no remaining sentence uses are dropped."""
    text = verification.supported_text
    if not text:
        return abstention(draft["question"])
    used = set(markers(text))
    citations = [c for c in draft["citations"] if c["n"] in used]
    return Answer(
        question=draft["question"], answer=text, citations=citations, abstained=False, verified=True
    )


# -- node and route ------------------------------------------------------------------------------------


def verify(state: RagState, runtime: Runtime[RagContext]) -> dict[str, Any]:
    """Check every sentence of the draft against the sources it cites. A generated draft with unsupported
    sentences goes back to be rewritten with the verifier's feedback (bounded retries); otherwise the
    unsupported sentences are removed, and with nothing supported the answer abstains."""
    context = runtime.context or RagContext()
    draft = state["draft"]
    if draft["abstained"]:
        return {"retry": False}
    verification = verifier_for(pipeline_for(context).store.embedder).verify(
        draft["answer"], {c["n"]: c["quote"] for c in draft["citations"]}
    )
    retry = (
        context.strategy == "generate"
        and not state.get("edited")
        and not verification.verified
        and state.get("attempts", 0) <= context.max_retries
    )
    if retry:
        return {"retry": True, "feedback": verification.feedback()}
    return {"retry": False, "draft": checked(draft, verification), "feedback": verification.feedback()}


def after_verify(state: RagState, runtime: Runtime[RagContext]) -> Literal["answer", "review", "finalize"]:
    """Rewrite a rejected generated draft; else a human reviews it when review is on (a reviewer's own
    edit only when the sources could not support all of it: ``feedback`` names what failed); else publish."""
    context = runtime.context or RagContext()
    if state.get("retry"):
        return "answer"
    unsupported_edit = bool(state.get("feedback")) or state["draft"]["abstained"]
    if context.review and (not state.get("edited") or unsupported_edit):
        return "review"
    return "finalize"
