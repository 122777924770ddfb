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
(``answerer.ranked_score``), and a sentence holding the exact names the question gives
(``retrieval.query.named_terms``: an option, code, a quoted phrase) goes before one that does not.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence

from citegraph.ingest.chunking import ITEM_NUMBER
from citegraph.retrieval.query import OPTION, holds_name
from citegraph.retrieval.tokenizer import stem, tokenize

# A retrieved sentence holding at least this share of the question's weighted terms answers it.
ANSWER_COVERAGE = 0.425
# Question words: they ask, they never occur in the sentence that answers ("ทีม...ที่คะแนนเท่าไร"). The
# English ones and the auxiliaries a question opens with are not BM25 stop words, and "what" (in no
# passage) would weigh the most of all. So would "about" of a follow-up made standalone, "What about reads
# in Quorra?", which a sentence on Quorra's reads need not say.
QUESTION_WORDS = frozenset(
    "อะไร ใคร ที่ไหน ไหน เมื่อใด เมื่อไร เมื่อไหร่ เท่าไร เท่าไหร่ อย่างไร ยังไง ทำไม เพราะอะไร กี่ ไหม หรือไม่ "
    "บ้าง ใด อันไหน แบบไหน คนไหน ปีใด ปีไหน ประเภทใด "
    "what which who whom whose when where why how whether do does did can could would should shall may might "
    "must has have had many much about i me my you your we our".split()
)
STEMMED_QUESTION_WORDS = frozenset(stem(w) for w in QUESTION_WORDS)
# Weight of a question term found only in the sentence before the candidate (it may name the subject).
PREVIOUS_WEIGHT = 0.5


def question_terms(question: str) -> list[str]:
    """The question's content terms (BM25 terms: Thai segmented, stop and question words out), once each."""
    return list(dict.fromkeys(t for t in tokenize(question) if t not in STEMMED_QUESTION_WORDS))


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


def question_weights(
    question: str, document_frequency: Callable[[Sequence[str]], Mapping[str, int]], documents: int
) -> dict[str, float]:
    """The question's content terms (``question_terms``) weighted by ``term_weights`` among ``documents``
    chunks, ``document_frequency`` giving each term's (the store's BM25 one)."""
    terms = question_terms(question)
    return term_weights(terms, document_frequency(terms), documents)


def coverage(weights: Mapping[str, float], sentence: str, previous: str = "") -> float:
    """Share of the weighted question terms in ``sentence`` (``PREVIOUS_WEIGHT`` for those only in
    ``previous``), in [0, 1]; 0 when the question has no content terms."""
    total = sum(weights.values())
    if total <= 0:
        return 0.0
    here, before = set(tokenize(sentence)), set(tokenize(previous)) if previous else set()
    found = sum(w if t in here else PREVIOUS_WEIGHT * w if t in before else 0.0 for t, w in weights.items())
    return found / total


def proper_name_coverage(question: str, text: str) -> float:
    """Share of the question's names (its capitalised words but the first and "I", and its numbers) that
    ``text`` holds, in any case; 1 when it names none."""
    asked = re.findall(r"\w+", question)[1:]
    names = {w.lower() for w in asked if (w[0].isupper() and w != "I") or w[0].isdigit()}
    here = {w.lower() for w in re.findall(r"\w+", text)}
    return len(names & here) / len(names) if names else 1.0


def says_answers(score: float) -> bool:
    """Whether a coverage says the sentence answers the question."""
    return score >= ANSWER_COVERAGE


# Questions whose answer is a quantity: a count, a size, a duration, a rate, a date, a version, a code.
QUANTITY_QUESTION = re.compile(
    r"\bhow (?:many|much|long|big|large|small|old|often|far|fast|quickly|high|low)\b"
    r"|\bhow (?:\w+ )?(?:faster|slower|larger|smaller|more|less)\b"
    r"|\bwhen (?:was|were|did|is|does|do)\b"
    r"|\b(?:what|which) (?:\w+ ){0,3}(?P<noun>size|number|range|percentage|proportion|fraction|timeout|limit"
    r"|year|date|port|status|code|factor|speedup|rate|amount|count|duration|length|capacity|version)s?\b",
    re.IGNORECASE,
)
# The forms of such questions (``quantity_form``) whose answer sentence states a number in at least 95% of
# the SQuAD v1.1 train questions of that form (forms with 20 questions or more;
# benchmarks/quantity_gate_choose.py). For these, sentences stating no number do not answer. Not for the
# others: "How long ...?" is answered by "for months", "How often ...?" by "annually".
COUNTED_FORMS = frozenset(
    {"how many", "how old", "how high", "when was", "when did", "year", "date", "percentage", "fraction"}
)
NUMBER_WORDS = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundred"
    "|thousand|million|billion|dozen|twice|half"
)
# A number opens a word ("1881", "3GB", "v2.0", "exit(0)"); a digit inside a name ("pcre2grep",
# "PCRE2GREP_RC", "x86") states no quantity.
NUMBER = re.compile(rf"(?<!\w)v?\d|\b(?:{NUMBER_WORDS})\b", re.IGNORECASE)
# Numbers that point elsewhere instead of stating a quantity: reference markers ("[18, 19]"),
# "Section 3.1", "Figure 2", "Table 4", and the digits of a web address ("discussions/1785").
POINTERS = re.compile(
    r"\[[\d,;\s–-]+\]|\b(?:section|figure|fig\.|table|equation|eq\.|chapter|§)\s*\d[\d.]*"
    r"|\b(?:https?://|www\.)[^\s)>\]]+"
    rf"|^\s*{ITEM_NUMBER}\s",  # a numbered list item's number ("3. We break down ...")
    re.IGNORECASE | re.MULTILINE,
)


def quantity_form(question: str) -> str | None:
    """How ``question`` asks for a quantity: "how long", "when did", or the noun of "what chunk size"
    ("size"); None when it does not ask for one."""
    match = QUANTITY_QUESTION.search(question)
    if not match:
        return None
    return match["noun"].lower() if match["noun"] else " ".join(match.group().lower().split()[:2])


def asks_for_quantity(question: str) -> bool:
    """Whether ``question`` asks for a quantity ("How long ...?", "What chunk size ...?", "When did ...?")."""
    return quantity_form(question) is not None


def asks_for_number(question: str) -> bool:
    """Whether ``question`` asks for a quantity in one of the ``COUNTED_FORMS``, whose answers state one."""
    return quantity_form(question) in COUNTED_FORMS


def states_quantity(sentence: str) -> bool:
    """Whether ``sentence`` states a number (digits or a number word), reference markers and section,
    figure and table numbers aside."""
    return bool(NUMBER.search(POINTERS.sub(" ", sentence)))


# A question asking for a default ("What is the largest request body uvicorn accepts by default?") is
# answered by text that speaks of one ("Keep-Alive. Defaults to 5 seconds.", "**Default:** *16777216*").
# Manuals mark their defaults so; in the judge's training sets (SQuAD v1.1 train, QED, COVID-QA, SubjQA)
# 17 of the 21 answerable questions with "default" have it in the answer sentence.
DEFAULT = re.compile(r"\bdefault", re.IGNORECASE)


def gives_what_is_asked(question: str, sentence: str) -> bool:
    """Whether ``sentence`` gives the kind of thing ``question`` asks for: a number for a question asking
    for a quantity (any form), a default for one asking for a default. The answer step ranks such a
    sentence higher."""
    return (asks_for_quantity(question) and states_quantity(sentence)) or bool(
        DEFAULT.search(question) and DEFAULT.search(sentence)
    )


def states_what_is_asked(question: str, texts: Sequence[str]) -> bool:
    """Whether ``texts`` (the sentences an answer would quote) can answer ``question`` by kind: one of
    them states a number when the question's form asks for one (``asks_for_number``), and one speaks of a
    default when the question asks for a default."""
    if asks_for_number(question) and not any(states_quantity(t) for t in texts):
        return False
    return not DEFAULT.search(question) or any(DEFAULT.search(t) for t in texts)


def named_share(terms: Sequence[str], sentence: str, previous: str = "") -> float:
    """Share of ``terms`` (``named_terms``) found whole in ``sentence`` or the sentence before it (options
    as written, other names in any case; a quoted "it" is not found in "with"); 0 when there are none."""
    if not terms:
        return 0.0
    text = f"{previous}\n{sentence}"
    return sum(holds_name(text, t) for t in terms) / len(terms)


# A question answered yes or no: it opens with an auxiliary verb ("Can I use --reload and --workers
# together?"). No span of a sentence is its short answer.
YES_NO_QUESTION = re.compile(
    r"^\s*(?:can|could|is|are|was|were|does|do|did|should|will|would|has|have|had|may|must)\b", re.IGNORECASE
)


# A question asking how something is done, or why: its answer is a way or a reason, which the sentence
# gives and a span of it does not ("API" for "How does a Spark user ask for an RDD to be checkpointed?").
# On the development question sets (real_docs_dev, _cli, _code, _click) the 6-layer judge found a span
# for 12 such questions and 3 were right; "How long ...", "How many ..." keep theirs.
HOW_OR_WHY_QUESTION = re.compile(
    r"^\s*(?:how\s+(?:do|does|did|can|could|should|would|will|is|are|was|were|has|have|had|may|might|must|to)"
    r"\b|why\b)",
    re.IGNORECASE,
)


# A question asking what something does ("What does the --follow flag do?"): its answer is a description,
# and a span of it ("ripgrep can follow symlinks") reads as a fragment. Not "What does X mean?", which
# SQuAD-style text answers with a term ("chloroplast"). XQuAD has 4 "What ... do?" questions of 1,190.
WHAT_IT_DOES_QUESTION = re.compile(r"^\s*what\s+(?:does|do|did)\b.*\bdo\s*\?\s*$", re.IGNORECASE)
# A count in words ("five") alone answers only a question asking for a quantity: "Gunicorn reads
# configuration from five places" does not say which source comes first. (Bare digits do answer questions
# the quantity forms miss: "What was Warsaw's population in 1901?" - "711,988"; no XQuAD question that is
# not a quantity form has a number word for its answer.)
NUMBER_WORD = re.compile(NUMBER_WORDS, re.IGNORECASE)
# A command-line option alone ("-d": ``OPTION``) answers only a question asking for an option, a flag or a
# switch: "What is fd's default maximum search depth?" is not answered by the option that sets it.
ASKS_FOR_OPTION = re.compile(r"\b(?:option|flag|switch|argument|parameter)s?\b", re.IGNORECASE)


def short_answer_fits(question: str, span: str) -> bool:
    """Whether ``span`` can be shown as the short answer to ``question``: not for a yes/no question, nor
    one asking how something is done, why, or what something does; not without a number for a question
    asking for a quantity, nor a count in words for one that does not ("five" for "Which configuration
    source has the highest priority?"); not a span cutting through inline code ("ws-max-size <int>` -
    Set"), nor one pointing elsewhere ("Figure 5"), nor a bare option ("-d") for a question not asking for
    an option; and not a span made mostly of the question's own terms ("pcre2grep" for "In which release was
    pcre2grep's option added?"), which names the subject instead of answering."""
    if YES_NO_QUESTION.match(question) or HOW_OR_WHY_QUESTION.match(question):
        return False
    if WHAT_IT_DOES_QUESTION.match(question) or span.count("`") % 2 or POINTERS.fullmatch(span):
        return False
    if OPTION.fullmatch(span) and not ASKS_FOR_OPTION.search(question):
        return False
    asks = asks_for_quantity(question)
    if (asks and not states_quantity(span)) or (not asks and NUMBER_WORD.fullmatch(span)):
        return False
    terms = tokenize(span)
    asked = set(tokenize(question))
    return bool(terms) and sum(t in asked for t in terms) <= len(terms) / 2
