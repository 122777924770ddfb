"""Lexical signals the answer step weighs beside the judge: the question's weighted terms a sentence
holds, and whether a question asking for a quantity meets a sentence stating one.

The judge's encoder (MiniLM, an English WordPiece vocabulary) reads every Thai word as ``[UNK]``, so on a
Thai question its scores are noise. For such questions a sentence's answer score is its *coverage*: the
share of the question's content terms (PyThaiNLP words, question words left out), each weighted by its
inverse document frequency in the store, found in the sentence (half weight for a term found only in the
sentence before it). Extractive questions are mostly paraphrases of the sentence that answers them, so the
sentence that holds the rare terms of the question is usually the one; when no retrieved sentence holds
enough of them, the documents do not answer.

``ANSWER_COVERAGE`` was chosen on the train split of the iApp Thai Wikipedia QA set
(``benchmarks/lexical_gate_choose.py``; never on XQuAD, our evaluation set).

For English questions the judge reads, the quantity match is added to its answer score
(``answerer.ranked_score``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence

from citegraph.retrieval.tokenizer import tokenize

# A retrieved sentence holding at least this share of the question's weighted terms answers it.
ANSWER_COVERAGE = 0.425
# Question words: they ask, they never occur in the sentence that answers ("ทีม...ที่คะแนนเท่าไร").
QUESTION_WORDS = frozenset(
    "อะไร ใคร ที่ไหน ไหน เมื่อใด เมื่อไร เมื่อไหร่ เท่าไร เท่าไหร่ อย่างไร ยังไง ทำไม เพราะอะไร กี่ ไหม หรือไม่ "
    "บ้าง ใด อันไหน แบบไหน คนไหน ปีใด ปีไหน ประเภทใด".split()
)
# Weight of a question term found only in the sentence before the candidate (it may name the subject).
PREVIOUS_WEIGHT = 0.5


def question_terms(question: str) -> list[str]:
    """The question's content terms (BM25 terms: Thai segmented, stop and question words out), once each."""
    return list(dict.fromkeys(t for t in tokenize(question) if t not in QUESTION_WORDS))


def term_weights(
    terms: Sequence[str], document_frequency: Mapping[str, int], documents: int
) -> dict[str, float]:
    """Inverse document frequency of each term among ``documents`` chunks (BM25's form, never negative);
    a term no chunk holds gets the highest weight."""
    return {
        t: math.log(
            1 + (documents - document_frequency.get(t, 0) + 0.5) / (document_frequency.get(t, 0) + 0.5)
        )
        for t in terms
    }


def coverage(weights: Mapping[str, float], sentence: str, previous: str = "") -> float:
    """Share of the weighted question terms in ``sentence`` (``PREVIOUS_WEIGHT`` for those only in
    ``previous``), in [0, 1]; 0 when the question has no content terms."""
    total = sum(weights.values())
    if total <= 0:
        return 0.0
    here, before = set(tokenize(sentence)), set(tokenize(previous)) if previous else set()
    found = sum(w if t in here else PREVIOUS_WEIGHT * w if t in before else 0.0 for t, w in weights.items())
    return found / total


def coverages(
    question: str,
    sentences: Sequence[str],
    previous: Sequence[str],
    document_frequency: Callable[[Sequence[str]], Mapping[str, int]],
    documents: int,
) -> list[float]:
    """``coverage`` of each sentence for ``question``, terms weighted by the store's document frequencies."""
    terms = question_terms(question)
    weights = term_weights(terms, document_frequency(terms), documents)
    return [coverage(weights, s, p) for s, p in zip(sentences, previous, strict=True)]


def says_answers(score: float) -> bool:
    """Whether a coverage says the sentence answers the question."""
    return score >= ANSWER_COVERAGE


# Questions whose answer is a quantity: a count, a size, a duration, a rate, a date, a version, a code.
QUANTITY_QUESTION = re.compile(
    r"\bhow (?:many|much|long|big|large|small|old|often|far|fast|quickly|high|low)\b"
    r"|\bhow (?:\w+ )?(?:faster|slower|larger|smaller|more|less)\b"
    r"|\bwhen (?:was|were|did|is|does|do)\b"
    r"|\b(?:what|which) (?:\w+ ){0,3}(?:size|number|range|percentage|proportion|fraction|timeout|limit|year"
    r"|date|port|status|code|factor|speedup|rate|amount|count|duration|length|capacity|version)s?\b",
    re.IGNORECASE,
)
NUMBER_WORDS = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundred"
    "|thousand|million|billion|dozen|twice|half"
)
NUMBER = re.compile(rf"\d|\b(?:{NUMBER_WORDS})\b", re.IGNORECASE)
# Numbers that point elsewhere instead of stating a quantity: reference markers ("[18, 19]") and
# "Section 3.1", "Figure 2", "Table 4".
POINTERS = re.compile(
    r"\[[\d,;\s–-]+\]|\b(?:section|figure|fig\.|table|equation|eq\.|chapter|§)\s*\d[\d.]*"
    r"|^\s*\d{1,2}[.)]\s",  # a numbered list item's number ("3. We break down ...")
    re.IGNORECASE | re.MULTILINE,
)


def asks_for_quantity(question: str) -> bool:
    """Whether ``question`` asks for a quantity ("How long ...?", "What chunk size ...?", "When did ...?")."""
    return bool(QUANTITY_QUESTION.search(question))


def states_quantity(sentence: str) -> bool:
    """Whether ``sentence`` states a number (digits or a number word), reference markers and section,
    figure and table numbers aside."""
    return bool(NUMBER.search(POINTERS.sub(" ", sentence)))
