"""The citation verifier: no sentence reaches the user unless the source it cites supports it.

For each sentence of an answer: it must carry at least one [n] marker, every marker must name a given
source, and some passage of the cited source(s) (one sentence, or two adjacent ones) must support it:

* **agreement**: every number and every named entity of the sentence occurs in that passage, so
  "Watson is an American opera singer [1]" fails when [1] says it of Irene Adler;
* **support**: the judge (a cross-encoder trained here, ``citegraph train judge``) says the passage states
  the sentence; a sentence quoted verbatim from its source needs no judge.

A fragment of fewer than ``answers.MIN_CLAIM_WORDS`` words is no claim: unmarked, it is read with the
sentence after it ("Keep-Alive. Defaults to 5 seconds [1]."); marked, with an unmarked sentence before it
("Set the maximum message size. Default: 16 [1]."); with its own markers after a claim, or alone
("GFS masters [2]."), it never passes.

The checks are deliberately conservative: a sentence that is true but not *shown* by its source fails.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from langgraph.runtime import Runtime

from citegraph.answers import (
    UNVERIFIED_TEXTS,
    Answer,
    abstention,
    introduces_next,
    is_fragment,
    joined,
    markers,
    strip_markers,
)
from citegraph.context import RagContext
from citegraph.ingest.chunking import ITEM_NUMBER, sentence_spans
from citegraph.ingest.thai import has_thai
from citegraph.models.judge.judge import Judge, judge_at, judge_for
from citegraph.state import RagState

# Where a cited sentence ends: markers then terminal punctuation, or markers then a capitalised word,
# code, an option or a numbered list's item (a quoted sentence with no full stop of its own, "... chunk
# 2ef0 [1] GFS identifies ...", "... do: ```python ...``` [1] `--reload` and ...", "... ``` [1] -I,
# --no-ignore Do not ...", "... in increasing order of priority: [1]\n1. Environment variables ..."), or
# a marker right after a code block's closing fence, whatever follows ("``` [1] b'HIT') ...": no sentence
# goes on past its code block).
_CITED_END = re.compile(
    rf"\[\d+\](?:[.!?…]+[\"'”’)]*(?=\s)|(?=\s+(?:[A-Z`]|--?\w|{ITEM_NUMBER}\s)))|(?:(?<=```)|(?<=```\s))\[\d+\]"
)
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
    """The verdict on one sentence of an answer. ``evidence`` is the passage that supports it (or, when
    it fails, the closest one), at ``evidence_span`` = (source number, start, end) of that source's text."""

    text: str  # the sentence with its markers
    claim: str  # the sentence without markers
    markers: tuple[int, ...]
    supported: bool
    reason: str = ""  # why it failed; empty when supported
    support: float = 0.0  # the judge's probability that the evidence states the claim (1.0: quoted verbatim)
    evidence: str = ""
    evidence_span: tuple[int, int, int] | None = None


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
        return joined([c.text for c in self.checks if c.supported])

    def feedback(self) -> str:
        """What to fix, for an LLM asked to rewrite its answer."""
        return "\n".join(f'- "{c.claim}": {c.reason}' for c in self.checks if not c.supported)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``verified`` and one verdict per sentence."""
        return {
            "verified": self.verified,
            "sentences": [
                {
                    "sentence": c.text,
                    "claim": c.claim,
                    "cites": list(c.markers),
                    "supported": c.supported,
                    "reason": c.reason,
                    "support": round(c.support, 4),
                    "evidence": c.evidence,
                    "evidence_span": (
                        dict(zip(("source", "start", "end"), c.evidence_span, strict=True))
                        if c.evidence_span
                        else None
                    ),
                }
                for c in self.checks
            ],
        }


def split_answer(answer: str) -> list[tuple[str, str, tuple[int, ...]]]:
    """(sentence with markers, claim without markers, markers) for each sentence of an answer.

    Markers belong to the sentence they end: "A [1]. B [2]" and "A. [1] B. [2]" both give A->1, B->2,
    also after closing quotes ('He said "no." [1]').
    """
    # Move markers that follow the full stop (or an ellipsis: "... do so explicitly... [2]") in front of it,
    # so sentence splitting keeps them together.
    normalized = re.sub(r"([.!?…]+[\"'”’)]*)((?:\s*\[\d+\])+)", r"\2\1", answer.strip())
    # Thai has no sentence-final punctuation, and an answer's spacing is not its source's: there a claim is
    # the text up to its markers, not what a sentence splitter makes of it.
    if has_thai(normalized):
        spans = claim_spans(normalized)
    else:
        # Cited terminal punctuation always ends a sentence, even before a lower-case word (a quoted
        # sentence may start "chunk locations) ..."), which the splitter would take for a continuation;
        # so does a marker before a capitalised word, code or an option.
        spans = []
        cursor = 0
        for end in [m.end() for m in _CITED_END.finditer(normalized)] + [len(normalized)]:
            spans += sentence_spans(normalized, cursor, end)
            cursor = end
    result: list[tuple[str, str, tuple[int, ...]]] = []
    for start, end in spans:
        sentence = normalized[start:end]
        claim = " ".join(strip_markers(sentence).split())
        if not claim.strip(" .!?"):
            continue
        cites = tuple(markers(sentence))
        # A fragment is read with its neighbour (see the module docstring): a quoted list item ("Keep-Alive.
        # Defaults to 5 seconds [1].") is one claim with one marker; so is a sentence introducing a code
        # block ("... you need to do so explicitly..." then the code [2]).
        if result and not result[-1][2]:
            before_claim = result[-1][1]
            fragment = is_fragment(before_claim) or (cites and is_fragment(claim))
            if fragment or (introduces_next(before_claim) and claim.startswith("```")):
                before, before_claim, _ = result.pop()
                sentence, claim = f"{before} {sentence}", f"{before_claim} {claim}"
        result.append((sentence, claim, cites))
    return result


def claim_spans(answer: str) -> list[tuple[int, int]]:
    """Spans of ``answer`` that each run up to and including a group of markers (and the rest, if any)."""
    spans, cursor = [], 0
    for match in re.finditer(r"(?:\s*\[\d+\])+", answer):
        spans.append((cursor, match.end()))
        cursor = match.end()
    spans.append((cursor, len(answer)))
    return [(b - len(answer[a:b].lstrip()), b) for a, b in spans if answer[a:b].strip()]


def passages(source: str) -> list[tuple[int, int]]:
    """Spans of the passages a claim may rest on: each sentence of the source and each adjacent pair."""
    sentences = sentence_spans(source) or [(0, len(source))]
    return sentences + [(a[0], b[1]) for a, b in itertools.pairwise(sentences)]


def _plain(text: str) -> str:
    """Lower-cased words between single spaces (and at both ends, so whole words match), without
    bracketed numbers: a paper's own references ("GFS [8] stores ...") are not part of what it says."""
    return f" {' '.join(_WORD.findall(strip_markers(text).lower()))} "


@dataclass
class Verifier:
    """Checks answers against numbered sources: names and numbers must agree, and the judge's support
    head (threshold chosen at training time) must say the passage states the claim."""

    judge: Judge

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
        if is_fragment(claim):  # "GFS masters [2]." is verbatim in any GFS paper and says nothing
            return SentenceCheck(sentence, claim, markers, False, "a fragment, not a statement to check")
        claim_numbers, claim_entities = numbers(claim), entities(claim)
        agreeing: list[tuple[int, int, int]] = []  # (source n, start, end) of passages naming what it names
        disagreement: tuple[int, str] | None = None
        plain_claim = _plain(claim)
        for n in dict.fromkeys(markers):
            text = sources[n]
            if plain_claim.strip() and plain_claim in _plain(text):
                # Quoted verbatim (up to spacing, case and punctuation): nothing for a model to judge.
                quoted = claim.rstrip(".")
                where = text.lower().find(quoted.lower())
                span = (n, where, where + len(quoted)) if where >= 0 else None
                evidence = text[where : where + len(quoted)] if where >= 0 else text
                return SentenceCheck(sentence, claim, markers, True, "", 1.0, evidence, span)
            for start, end in passages(text):
                passage_words = words(text[start:end])
                missing = sorted(e for e in claim_entities if not mentions(passage_words, e))
                missing += sorted(claim_numbers - numbers(text[start:end]))
                if missing and (disagreement is None or len(missing) < disagreement[0]):
                    # Report the passage that comes closest: the fewest names and numbers missing.
                    disagreement = (
                        len(missing),
                        f"[{n}] does not mention {', '.join(repr(w) for w in missing)}",
                    )
                elif not missing:
                    agreeing.append((n, start, end))
        if not agreeing:
            reason = disagreement[1] if disagreement else "the cited source is empty"
            return SentenceCheck(sentence, claim, markers, False, reason)
        texts = [sources[n][a:b] for n, a, b in agreeing]
        support = self.judge.support(texts, claim)
        best = int(support.argmax())
        probability = float(support[best])
        if self.judge.says("support", probability):
            return SentenceCheck(sentence, claim, markers, True, "", probability, texts[best], agreeing[best])
        n = agreeing[best][0]
        reason = f"[{n}] does not say this (support {probability:.2f})"
        return SentenceCheck(
            sentence, claim, markers, False, reason, probability, texts[best], agreeing[best]
        )

    def verify(self, answer: str, sources: Mapping[int, str]) -> Verification:
        """Check every sentence of ``answer`` against ``sources`` (marker number -> cited text)."""
        return Verification([self.check(s, c, m, sources) for s, c, m in split_answer(answer)])


def verify_answer(
    answer: str, sources: Mapping[int, str] | Mapping[str, str], judge: Judge | str | None = None
) -> Verification:
    """Check any RAG system's answer: ``answer`` is text whose sentences end in ``[n]`` markers,
    ``sources`` maps each n (an int or a digit string, as JSON gives it) to the text it cites.

    Returns per-sentence verdicts (``supported``, ``reason``, ``evidence`` and its ``evidence_span``) and
    ``.verified``. ``judge``: a loaded ``Judge``, a folder with one, or ``None`` for the shipped one.
    This is ``citegraph.verify``; its signature is kept stable for other tools.
    """
    if not isinstance(answer, str) or not answer.strip():
        raise ValueError("the answer to verify is empty")
    numbered: dict[int, str] = {}
    for key, text in sources.items():
        if not str(key).strip().isdigit() or not isinstance(text, str):
            raise ValueError(f"sources map source numbers to their text; got {key!r}: {type(text).__name__}")
        numbered[int(key)] = text
    if not isinstance(judge, Judge):
        judge = judge_at(str(judge) if judge else None)
    return Verifier(judge).verify(answer, numbered)


def checked(draft: Answer, verification: Verification) -> Answer:
    """``draft`` with its unsupported sentences removed and ``verified`` set; citations no remaining
    sentence uses are dropped. With nothing supported it says so (``UNVERIFIED_TEXTS``): the documents may
    answer the question, but this draft cannot be shown as theirs."""
    text = verification.supported_text
    if not text:
        return abstention(draft["question"], UNVERIFIED_TEXTS)
    used = set(markers(text))
    citations = [c for c in draft["citations"] if c["n"] in used]
    answer = Answer(
        question=draft["question"], answer=text, citations=citations, abstained=False, verified=True
    )
    if "short_answer" in draft and draft["short_answer"] in text:
        answer["short_answer"] = draft["short_answer"]
    return answer


# -- node and route ------------------------------------------------------------------------------------


def verify(state: RagState, runtime: Runtime[RagContext]) -> dict[str, Any]:
    """Check every sentence of the draft against the sources it cites. A generated draft with unsupported
    sentences goes back to be rewritten with the verifier's feedback (bounded retries); otherwise the
    unsupported sentences are removed, and with nothing supported the answer abstains."""
    context = runtime.context or RagContext()
    draft = state["draft"]
    if draft["abstained"]:
        return {"retry": False}
    verification = Verifier(judge_for(context)).verify(
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
