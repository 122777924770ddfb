"""The answer agent: turns retrieved chunks into an answer whose every sentence cites its source.

Two strategies. *extract* (no LLM) has the judge (a cross-encoder trained here) pick the sentence of the
retrieved chunks that answers the question, and the short answer inside it, and cites it, quoting the exact
characters of the source; the judge also decides whether to abstain. For a question in a language the
judge cannot read (Thai), the sentence holding most of the question's weighted terms answers instead
(``judged_by_terms``). *generate* numbers the chunks as sources and has a chat model write the answer with
[n] markers (``prompts.answer_messages``). Either way the draft goes to the verifier; ``finalize``
publishes what survives it.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langgraph.config import get_stream_writer
from langgraph.runtime import Runtime

from citegraph.agents.prompts import Source, answer_messages
from citegraph.answers import (
    BULLETED,
    MARKER,
    NUMBERED,
    Answer,
    Citation,
    abstention,
    cite,
    introduces_next,
    is_fragment,
    joined,
    markers,
    renumbered,
    says_documents_do_not_answer,
    strip_markers,
)
from citegraph.context import RagContext
from citegraph.ingest.chunking import BULLET, ITEM_NUMBER, fenced_spans, sentence_spans
from citegraph.ingest.outline import Heading, SourceText, heading_at
from citegraph.ingest.thai import has_thai
from citegraph.models.judge import lexical
from citegraph.models.judge.gate import shipped_gate
from citegraph.models.judge.judge import ANSWERABLE_SENTENCES, AnswerJudgment, Judge, judge_for
from citegraph.models.registry import load_chat_model
from citegraph.resources import pipeline_for
from citegraph.retrieval.query import named_terms
from citegraph.retrieval.store import Hit, HybridStore
from citegraph.retrieval.tokenizer import words
from citegraph.state import RagState, Turn


def span_key(source: str, start: int) -> str:
    """Identifies a cited span across drafts (a rejected sentence is not offered again)."""
    return f"{source}:{start}"


@dataclass
class Candidate:
    """A retrieved sentence that could answer: where it is, the sentence before it (the judge reads it
    for context), its closeness to the question (the bi-encoder's score; for a question the judge cannot
    read, its term coverage), the judge's verdict once judged, and ``rank``, what candidates are ordered
    by (``ranked_score``)."""

    hit: Hit
    start: int
    end: int
    text: str
    previous: str
    score: float = 0.0
    judgment: AnswerJudgment | None = None
    rank: float = 0.0

    @property
    def answer_score(self) -> float:
        return self.judgment.score if self.judgment else 0.0


# A reference-list entry: a bracketed number, then the authors.
REFERENCE_ENTRY = re.compile(r"^\s*\[\d+\]\s+\S")
# A heading line glued to the sentence under it ("Worker Failure\nThe master pings every worker ..."): at
# most four words, each capitalised or a section number, no closing punctuation, then a capitalised line.
LEADING_HEADING = re.compile(
    r"^(?:(?:\d+(?:\.\d+)*\.?|[A-Z][\w’'-]*)[ \t]+){0,3}"  # up to three words or section numbers
    r"[A-Z][\w’'-]*[ \t]*\n(?=[A-Z])"  # a last capitalised word ending the line
)


# A number as a figure's axis or a table's cell has it: "0.4", "1,200", "15%", "-3".
NUMBER_TOKEN = re.compile(r"[-+]?[\d.,]*\d[\d.,%]*")
# A line of eight or more tokens, this share of them numbers, is a table row or an axis.
TABLE_NUMBER_SHARE = 0.4


def _is_debris(sentence: str) -> bool:
    """Text a PDF extractor made of a figure or a table, not a sentence: it opens inside a parenthesis
    ("chunk locations) GFS master ..."), is four or more lines of mostly one or two words or numbers alone
    ("Cluster\nA\nB\nChunkservers\n342 ...", an axis "0 5 10 15\nNumber of clients N\n0\n50"), or is
    mostly numbers ("Q1.1 2.7 9.9 1.0 69.7 107.2 Q1.2 ..."). Code blocks are not debris: their lines are
    short too."""
    if "```" in sentence or ">>>" in sentence:
        return False
    close, open_ = sentence.find(")"), sentence.find("(")
    # Two or more words before the unopened ")": a list label ("1) Start the master.") is not that.
    if close >= 0 and (open_ < 0 or close < open_) and " " in sentence[:close].strip():
        return True
    tokens = sentence.split()
    numbers = sum(bool(NUMBER_TOKEN.fullmatch(t)) for t in tokens)
    if len(tokens) >= 8 and numbers >= TABLE_NUMBER_SHARE * len(tokens):
        return True
    lines = [line.split() for line in sentence.splitlines() if line.strip()]
    bare = sum(len(line) <= 2 or all(NUMBER_TOKEN.fullmatch(t) for t in line) for line in lines)
    return len(lines) >= 4 and bare > len(lines) / 2


# A Markdown heading line ("#### Custom JSON serialization").
MARKDOWN_HEADING = re.compile(r"#{1,6}[ \t]+[^\n]*")
# Fewer words than this make a heading or a fragment, never an answer on its own.
MIN_SENTENCE_WORDS = 4


def _is_answer_shaped(sentence: str) -> bool:
    """Whether a sentence could answer: four words or more (Thai counted in segmented words), not a
    question itself, not a Markdown heading, not an entry of a paper's reference list ("[8] GHEMAWAT, S.,
    ..."), not the debris of a figure or table."""
    count = len(words(sentence)) if has_thai(sentence) else len(sentence.split())
    question = sentence.rstrip("\"'”’) ").endswith("?")
    return (
        count >= MIN_SENTENCE_WORDS
        and not question
        and not MARKDOWN_HEADING.fullmatch(sentence)
        and not REFERENCE_ENTRY.match(sentence)
        and not _is_debris(sentence)
    )


def _without_heading(sentence: str) -> int:
    """How many leading characters of ``sentence`` are a heading line glued to it (0 when none)."""
    match = LEADING_HEADING.match(sentence)
    return match.end() if match and len(sentence) - match.end() > 20 else 0


# A list item of a manual or a Markdown page: a bullet or a number opening a line, then every line up to a
# blank line, the next item or a heading.
_ITEM_MARK = rf"[ \t]*(?:{BULLET}|{ITEM_NUMBER})[ \t]+"
LIST_ITEM = re.compile(rf"^{_ITEM_MARK}\S.*(?:\n(?!{_ITEM_MARK}|[ \t]*(?:\n|$)|#).*)*", re.M)


def is_item_mark(text: str) -> bool:
    """Whether ``text`` is only a list item's bullet or number ("1."), which the sentence splitter may
    take for a sentence of its own."""
    return re.fullmatch(_ITEM_MARK, text + " ") is not None


# A longer item is read sentence by sentence, like prose.
MAX_ITEM_WORDS = 80
# A list whose items are this short (bullet included) is one answer, quoted with the sentence introducing it.
LISTED_WORDS = 12
# A longer code block is a program or a listing, not an answer to quote whole.
MAX_CODE_WORDS = 80


def quotable_code(block: str) -> bool:
    """Whether a code block can be quoted as an answer: at most ``MAX_CODE_WORDS`` words, and no
    bracketed number (``argv[1]``) the verifier would read as a citation marker."""
    return len(block.split()) <= MAX_CODE_WORDS and not MARKER.search(block)


# A sentence this short leans on the ones around it ("Defaults to 5 seconds.", "**Default:** *16777216*
# (16 MB).").
FRAGMENT_WORDS = 5


# A line of a command's help listing: an option opening the line, its description after it, and the
# lines indented under it ("  -d, --max-depth <depth>   Set maximum search depth (default: none)").
OPTION_LINE = re.compile(r"^([ \t]*)-{1,2}[A-Za-z].*(?:\n\1[ \t]+(?!-)\S.*)*", re.M)
# What comes before such a line when it opens an option's entry: a blank line, or nothing, or (a listing
# being indented) any line. A flush-left line after another is prose wrapped before an option's name ("...
# blank lines are ignored unless the\n--posix-pattern-file option is also provided. An empty file contains
# no"), whose line is no unit: quoted, it ends mid-sentence.
ENTRY_START = re.compile(r"(?:\A|\n[ \t]*\n)\Z")


def opens_entry(text: str, line: re.Match[str]) -> bool:
    """Whether the ``OPTION_LINE`` match ``line`` opens an option's entry of a listing in ``text``."""
    return bool(line.group(1)) or ENTRY_START.search(text, 0, line.start()) is not None


def answer_units(text: str) -> list[tuple[int, int, str]]:
    """The spans an answer can quote, in reading order, each with the sentence before it: every sentence (a
    code block is one, if ``quotable_code``; a sentence ending in ":" or "..." (``introduces_next``) only
    with the code block or the list of short items, ``LISTED_WORDS``, it introduces; any other sentence
    before a code block also with it), every option's line
    of a help listing (``OPTION_LINE``), and, whole, every short list item with a fragment in it. An
    option's item ("* Keep-Alive. Defaults to 5 seconds. Between requests, ...") holds its answer in a
    fragment that means nothing without the rest of the item. The item's sentences stay candidates on their
    own, and an item of whole sentences is not made one, because the judge scores a longer text higher
    whether or not it answers."""
    sentences = sentence_spans(text)
    before = {a: text[c:d] for (a, _), (c, d) in zip(sentences[1:], sentences, strict=False)}
    units = [(a, b, before.get(a, "")) for a, b in sentences]
    items = [match.span() for match in LIST_ITEM.finditer(text)]
    for i, j in items:
        inside = [(a, b) for a, b in sentences if i <= a < j]
        fragment = any(
            len(text[a:b].split()) <= FRAGMENT_WORDS and not is_item_mark(text[a:b]) for a, b in inside
        )
        if len(inside) > 1 and fragment and len(text[i:j].split()) <= MAX_ITEM_WORDS:
            a = inside[0][0]
            units.append((a, max(b for _, b in inside), before.get(a, "")))
    # A code block is a unit when it is short enough to quote (a whole program or help listing is not; the
    # listing's option lines are) and holds no bracketed number, which would read as a citation marker. A
    # sentence introducing one ("To set headers on the client you can do:") goes with it, and is no unit
    # alone: it only promises the answer, and the judge ranks it above the block, which lacks the question's
    # words. The block stays a unit of its own too (dropping it lost answers on real_docs_code). Any other
    # sentence right before a block is a unit with it as well, and one alone: manuals often lead into an
    # example without a colon ("For more complicated data structures you'll often want to use JSON encoding
    # instead." then the block passing ``json=data``), and the block alone lacks the question's words.
    units = [
        unit for unit in units if not text.startswith("```", unit[0]) or quotable_code(text[slice(*unit[:2])])
    ]
    promises = set()
    for (a, b), (c, d) in itertools.pairwise(sentences):
        if text.startswith("```", a) or not text.startswith("```", c) or not quotable_code(text[c:d]):
            continue
        if introduces_next(text[a:b]):
            promises.add((a, b))
        elif not _is_answer_shaped(text[a:b]):
            continue  # a table row or a figure's debris before the block
        units.append((a, d, before.get(a, "")))
    # Likewise a sentence introducing a list of short items ("The order in which configuration values are
    # read is:" then "* From an environment variable." ...): the list is what it promises, quoted with it.
    # A list with a longer item is a series of statements, each a candidate of its own: never a part of it.
    for a, b in sentences:
        if not introduces_next(text[a:b]):
            continue
        end, short = b, True
        for i, j in items:
            if i < end:
                continue
            if text[end:i].strip():
                break
            short = short and len(text[i:j].split()) <= LISTED_WORDS
            end = j
        if end > b and short and len(text[a:end].split()) <= MAX_ITEM_WORDS:
            units.append((a, end, before.get(a, "")))
            promises.add((a, b))
    units = [unit for unit in units if unit[:2] not in promises]
    # A help listing's lines are one sentence to the splitter; each option's line is a unit of its own.
    whole = set(sentences)
    units += [
        (m.start() + len(m.group(1)), m.end(), "")
        for m in OPTION_LINE.finditer(text)
        if opens_entry(text, m)
        and len(m.group().split()) <= MAX_ITEM_WORDS
        and (m.start() + len(m.group(1)), m.end()) not in whole
    ]
    return sorted(units, key=lambda unit: (unit[0], -unit[1]))


def chunks_inside_code(hits: list[Hit], store: HybridStore) -> frozenset[str]:
    """The chunk ids of the ``hits`` that open inside a code block begun before them: a block longer than
    a chunk is cut between chunks. Each source is read and scanned once."""
    inside: set[str] = set()
    for source_id in {hit.source_id for hit in hits}:
        record = store.source(source_id)
        if record is None:
            continue
        mine = [hit for hit in hits if hit.source_id == source_id]
        code = fenced_spans(record.text, 0, max(hit.end for hit in mine))
        inside |= {hit.chunk_id for hit in mine if any(a < hit.start < b for a, b in code)}
    return frozenset(inside)


# An opening fence put before the text of a chunk that opens inside a code block, so that the block's
# closing fence pairs with it: read alone, that fence would pair with the next opening one, the log lines
# before it would read as a sentence and the prose after it as code.
_REOPENED = "```\n"


def candidate_sentences(
    hits: list[Hit], exclude: frozenset[str] = frozenset(), in_code: frozenset[str] = frozenset()
) -> list[Candidate]:
    """Every sentence (and short list item: ``answer_units``) of the hits that could answer something,
    in source offsets; the hits whose chunk ids are ``in_code`` open inside a code block
    (``chunks_inside_code``), whose rest is read as code: only its help listing's option lines are units.

    Overlapping chunks repeat sentences: each (source, span) is kept once. Questions ("And what of Irene
    Adler?"), headings and fragments under four words, and sentences a reviewer rejected (``exclude``:
    ``span_key``s) are never answers.
    """
    seen: set[tuple[str, int, int]] = set()
    candidates = []
    for hit in hits:
        reopened = _REOPENED if hit.chunk_id in in_code else ""
        for a, b, previous in answer_units(reopened + hit.text):
            if a < len(reopened):
                continue  # the rest of the block: not quotable whole
            a, b = a - len(reopened), b - len(reopened)
            a += _without_heading(hit.text[a:b])  # the heading is not part of the answer
            if mark := re.match(_ITEM_MARK, hit.text[a:b]):
                a += mark.end()  # nor is a list item's bullet or number
            sentence = hit.text[a:b]
            key = (hit.source_id, hit.start + a, hit.start + b)
            fit = _is_answer_shaped(sentence)
            if key not in seen and fit and span_key(hit.source, hit.start + a) not in exclude:
                seen.add(key)
                candidates.append(Candidate(hit, hit.start + a, hit.start + b, sentence, previous))
    # A chunk ending in a sentence that introduces a code block ("To send files, write:") has the block in
    # the next chunk; where that chunk was retrieved too, the sentence goes only with its block there.
    introduced = {(c.hit.source_id, c.start) for c in candidates if not introduces_next(c.text)}
    return [
        c for c in candidates if not introduces_next(c.text) or (c.hit.source_id, c.start) not in introduced
    ]


# The judge reads only the bi-encoder's best candidates: each judged sentence costs a cross-encoder pass,
# and on SQuAD-style training data the answer sentence is nearly always among the first eight.
JUDGED_SENTENCES = 8
# Of those places, this many go to the candidates holding most of the question's weighted terms
# (``lexical.coverage``) that the bi-encoder did not put first. In a manual every sentence naming its
# command ("pcre2grep ...") is close to every question about it, and the sentence that answers ("Exit
# status is 0 if any matches were found, 1 if no matches were found") came ninth. Chosen on the
# development question sets (real_docs_dev, real_docs_cli and real_docs_code, 78 questions;
# benchmarks/answer_rank_choose.py): 0 places 48 right, 1 to 3 places 49 (the least is kept), 4 places
# 48; judging 12 sentences without such places also scored 48. One more place goes to the closest
# sentence giving what the question asks for (a number, a default) when none of those does: "The default
# timeout for network inactivity is five seconds." came 20th of 40 for "If I don't set a timeout, how long
# will httpx wait before giving up on a request?", and ``QUANTITY_WEIGHT`` lifts only a judged sentence.
# On SQuAD v1.1 train (48 articles) it changes nothing (the top sentence holds the answer for 0.814 of the
# questions either way); the development question sets lose one unanswerable question, answered with
# Nginx's default for uvicorn's; the evaluation set gains two (HTTPX's five seconds, GFS's 32-bit checksum).
COVERAGE_PLACES = 1
# The abstention gate (``gate.shipped_gate``, a small network fitted on SQuAD v1.1 train questions asked
# with their paragraph and with it removed; benchmarks/answerable_gate_choose.py) reads ``gate_signals``:
# the bi-encoder closeness of the closest candidate, the judge's answer score of the best, the retrieved
# passages' closeness to the question, and how much of the question's weighted terms
# (``lexical.coverage``) and names the passages and the best sentence's passage hold. Term coverage is
# what the bi-encoder and the judge miss: a passage about the same article, close in topic, lacks the
# question's rarest terms. Cross-validated by article on 240 articles (5,534 questions): 0.084 abstention
# with the paragraph, 0.799 without, against 0.080 and 0.771 for the logistic regression over four signals
# it replaced (XQuAD, all questions: 0.8555 and 0.0605 against 0.8277 and 0.0664). On papers and manuals it
# abstains less: on the development question sets 13 of 21 unanswerable questions against 16, and 1 of 82
# answerable ones against 5 (75 right against 76; no shift of its threshold does better there). Refitted the
# same way for the judge adapted to papers and manuals: 0.083 and 0.802 cross-validated, XQuAD 0.863 and
# 0.064, and 265 of the 494 real_docs_tech questions right against 261 with the gate fitted before it. The
# judge's listwise stage, trained with a "no answer" slot and rehearsing that judge's examples, keeps its
# scores' scale and this gate (XQuAD 0.866 and 0.077; real_docs_tech 284 right, 40 of 96 unanswerable
# questions refused against 39; refitted on its scores, the gate scored 279 and refused 35;
# benchmarks/results/judge_listwise_rehearsal.json). The
# answerable head earned nothing beside these signals, for one more pass of the judge per question, and
# the rarest question term the passages lack (which SQuAD's annotators, writing from the paragraph,
# always use) made the gate abstain on users' own words (networks reading it: mostly 68 to 73 right there), so
# neither is read.
GATE_SIGNALS = (
    "closeness",
    "answer",
    "passage_similarity",
    "best_passage_coverage",
    "best_coverage",
    "name_coverage",
)

# The judge's answer score that one of the best sentences must reach, whatever the gate says. The gate,
# fitted on SQuAD, reads the best one's answer score beside closeness and term coverage; on papers and
# manuals close sentences holding the question's terms pass it though the judge gives them no answer
# ("Follow the directions on the page to determine where your Ollama Public Key is located.", 0.08, and
# the next step, 0.07, for which file holds the key). Chosen on the development question sets
# (real_docs_tech, _dev, _cli, _click, _code, _gunicorn; 597 questions) among the answers the shipped
# system gave: below 0.1 lay 2 unanswerable questions answered and no answerable one; below 0.15, 11 and
# 2 answered right; below 0.2, 16 and 4. Run: 3 more unanswerable questions refused, no answer lost
# (reading the best sentence alone, 5 refused and one right answer lost: Click's count=True, quoted as
# the runner-up). On SQuAD v1.1 train it trades worse than the gate's own threshold (60 articles: 0.0856
# abstention with the paragraph against 0.0802, 0.8519 without it against 0.8480), so it is kept low
# (benchmarks/results/least_answer_score.json).
LEAST_ANSWER_SCORE = 0.1

# The bi-encoder reads "--follow" as "follow": when the best sentence holds every name the question gives,
# its closeness counts as at least this (the closeness gate's threshold before the judge, set
# in issue 4 on a tenth of XQuAD).
NAMED_CLOSENESS = 0.60
# What a stated quantity adds to the judge's answer score when the question asks for one: on papers and
# manuals the judge often prefers a sentence restating the question ("After a file is deleted, GFS does not
# immediately reclaim the available physical storage.") to the one holding the number asked for ("three
# days"). "one" counts as a number, so "one of the ..." gets the bonus too (it did when the weight was
# chosen). Chosen on benchmarks/data/real_docs_dev (40 questions over papers and manuals outside the
# evaluation set) by answers right: 14 -> 17 of 40 (benchmarks/answer_rank_choose.py). Adding the question's
# term coverage, or abstaining below a least score, earned nothing there without abstaining on far more
# answerable questions (a gate that caught the 10 unanswerable ones also abstained on 17 of the 30
# answerable ones). A sentence speaking of a default, for a question asking for one, gets the same lift
# (the weight not chosen again; the development set scores 24/40 with and without that lift).
QUANTITY_WEIGHT = 0.1
# An extract answer quotes the best sentence and at most this many in all.
ANSWER_SENTENCES = 2
# A short answer is shown when the judge is this sure of it: the answer score of its sentence times the
# span's probability (how likely the sentence answers, and this span is its answer). The span head's own
# threshold (0.089, held-out training examples) shows spans the judge barely believes in; on papers and
# manuals those are mostly wrong ("Safety" for the states a Raft server can be in, 0.03; "pointer" for
# what "#" returns, 0.04). Chosen on the development question sets (real_docs_dev, _cli, _code, _click,
# _gunicorn; benchmarks/results/short_answer_likelihood.json): of the 15 short answers shown there, the 9
# right ones score 0.144 and up, 4 of the 6 wrong ones below 0.08 (the other two 0.12 and 0.50). On XQuAD
# 0.56 of the answerable questions keep a short answer instead of 0.72, and 0.505 of those are exact
# instead of 0.432 (of the ones hidden, 0.18 were).
SHORT_ANSWER_LIKELIHOOD = 0.1
# An abstention over retrieved passages shows this many of the best-ranked sentences (in different
# sections) as where to read on: the gate refuses some answerable questions whose answer is a few lines
# from the sentences it judged ("The default value is 200" under the pause's description in Lua's manual).
CLOSEST_SHOWN = 3
# The runner-up goes along when its answer score is at least this share of the best one's. On papers and
# manuals the judge's scores are low and flat ("keep the errors RDD in memory": 0.25 for a sentence on
# counting errors, 0.22 for "errors.persist()"), so which of the two answers is close to a coin toss; on
# encyclopedic text the best one mostly stands out and is quoted alone. Chosen on the development question
# sets (real_docs_dev, _cli, _code, _click; benchmarks/answer_rank_choose.py): without it 65 of 88 right,
# 0.9: 66, 0.8: 67, 0.7 to 0.5: 68, the answers 35.4 words long on average without, 39.1 at 0.7.
RUNNER_UP_SHARE = 0.7


def ranked_score(answer_score: float, kind_match: bool) -> float:
    """A candidate's rank: the judge's answer probability, plus ``QUANTITY_WEIGHT`` when the sentence
    gives the kind of thing the question asks for (``lexical.gives_what_is_asked``: a quantity, or a
    default, which "Defaults to 5 seconds." gives and the judge ranks low)."""
    return answer_score + QUANTITY_WEIGHT * kind_match


@dataclass
class Judged:
    """The candidate sentences ordered by how well they answer the question; whether the best of them
    answer it at all; and the rule that says whether one sentence's answer score is an answer."""

    ranked: list[Candidate]
    answerable: bool
    answers: Callable[[float], bool]


def closest_first(question: str, candidates: list[Candidate], judge: Judge) -> list[Candidate]:
    """``candidates`` scored by their closeness to the question (``Judge.closeness``, the bi-encoder:
    cheap, and the sentence vectors are cached), closest first."""
    if not candidates:
        return []
    scores = judge.closeness([question] * len(candidates), [c.text for c in candidates])
    for candidate, score in zip(candidates, scores.tolist(), strict=True):
        candidate.score = score
    return sorted(candidates, key=lambda c: -c.score)


def shortlist(question: str, candidates: list[Candidate], weights: Mapping[str, float]) -> list[Candidate]:
    """The candidates the judge reads, from ``candidates`` closest first: the ``JUDGED_SENTENCES`` closest,
    in the last ``COVERAGE_PLACES`` places those holding most of the question's ``weights`` (terms weighted
    by ``lexical.question_weights``) among the rest, and after them the closest of the rest that gives
    what the question asks for (``lexical.gives_what_is_asked``: a number, a default), if none does yet."""
    closest = candidates[: JUDGED_SENTENCES - COVERAGE_PLACES]
    rest = candidates[len(closest) :]
    covering = sorted(rest, key=lambda c: -lexical.coverage(weights, c.text, c.previous))
    chosen = closest + covering[:COVERAGE_PLACES]
    if not any(lexical.gives_what_is_asked(question, c.text) for c in chosen):
        chosen += [c for c in rest if c not in chosen and lexical.gives_what_is_asked(question, c.text)][:1]
    return chosen


def named_first(terms: list[str], candidates: list[Candidate]) -> list[Candidate]:
    """``candidates`` with those holding more of the question's exact names (``terms``, from
    ``named_terms``: an option, code, a quoted phrase) first, the order kept otherwise."""
    if not terms:
        return candidates
    return sorted(candidates, key=lambda c: -lexical.named_share(terms, c.text, c.previous))


def weighted_terms(question: str, store: HybridStore) -> dict[str, float]:
    """The question's content terms weighted by their BM25 document frequencies in ``store``
    (``lexical.question_weights``): what ``lexical.coverage`` measures a sentence by."""
    return lexical.question_weights(question, store.bm25_document_frequency, max(len(store), 1))


def judged_by_terms(question: str, candidates: list[Candidate], store: HybridStore) -> Judged:
    """For a question the judge cannot read (Thai): every candidate scored by the share of the
    question's weighted terms it holds (``lexical.coverage``); ties keep retrieval order."""
    weights = weighted_terms(question, store)
    for candidate in candidates:
        score = lexical.coverage(weights, candidate.text, candidate.previous)
        candidate.score = candidate.rank = score
        candidate.judgment = AnswerJudgment(score)
    ranked = sorted(candidates, key=lambda c: -c.rank)
    return Judged(ranked, bool(ranked) and lexical.says_answers(ranked[0].score), lexical.says_answers)


def closest_candidates(
    question: str, hits: list[Hit], judge: Judge, store: HybridStore, exclude: frozenset[str] = frozenset()
) -> list[Candidate]:
    """The candidate sentences of ``hits`` (``candidate_sentences``) ordered for the judge's shortlist:
    those naming what the question names first (``named_first``), the closest to it first otherwise
    (``closest_first``)."""
    candidates = candidate_sentences(hits, exclude, chunks_inside_code(hits, store))
    return named_first(named_terms(question), closest_first(question, candidates, judge))


def judged(
    question: str, hits: list[Hit], judge: Judge, store: HybridStore, exclude: frozenset[str] = frozenset()
) -> Judged:
    """The candidate sentences of the hits judged for ``question``: by the judge (a ``shortlist`` of the
    closest by the bi-encoder, those naming what the question names first, and of those holding most of
    its weighted terms, ordered by ``ranked_score``, again those naming it first; answerable when they
    ``could_answer`` it and the abstention gate says so: ``answers_at_all``), or by terms when the judge
    cannot read it."""
    if not judge.reads(question):
        candidates = candidate_sentences(hits, exclude, chunks_inside_code(hits, store))
        return judged_by_terms(question, candidates, store)
    terms = named_terms(question)
    weights = weighted_terms(question, store)
    candidates = shortlist(question, closest_candidates(question, hits, judge, store, exclude), weights)
    if not candidates:
        return Judged([], False, lambda p: judge.says("answer", p))
    judgments = judge.answers(
        question,
        [c.text for c in candidates],
        [c.previous for c in candidates],
        [c.score for c in candidates],
    )
    for candidate, judgment in zip(candidates, judgments, strict=True):
        candidate.judgment = judgment
        candidate.rank = ranked_score(judgment.score, lexical.gives_what_is_asked(question, candidate.text))
    ranked = named_first(terms, sorted(candidates, key=lambda c: -c.rank))
    answerable = could_answer(question, ranked) and answers_at_all(
        gate_signals(question, weights, ranked, hits, passage_similarity(question, hits, judge))
    )
    return Judged(ranked, answerable, lambda p: judge.says("answer", p))


def could_answer(question: str, ranked: list[Candidate]) -> bool:
    """Whether the best ``ANSWER_SENTENCES`` of the judged ``ranked`` candidates could answer ``question``
    at all, before the abstention gate weighs them: the judge gives one of them at least
    ``LEAST_ANSWER_SCORE``, and they state what kind of thing the question asks for. A question whose
    answers state a number is not answered by sentences that state none ("How many bytes trigger the high
    water mark?" - "If the write buffer passes a high water mark, ..."), nor one asking for a default by
    sentences that speak of none, however close."""
    best = ranked[:ANSWER_SENTENCES]
    return max(c.answer_score for c in best) >= LEAST_ANSWER_SCORE and lexical.states_what_is_asked(
        question, [c.text for c in best]
    )


def passage_similarity(question: str, hits: list[Hit], judge: Judge) -> float:
    """The closest hit's dense similarity to the question: retrieval's, or for a hit that carries none (a
    BM25-only hit, an app's pipeline) the judge's bi-encoder cosine; the gate must not read it as 0."""
    known = [h.similarity for h in hits if h.similarity is not None]
    unscored = [h.text for h in hits if h.similarity is None]
    if unscored:
        vectors = judge.embedder.embed_sentences([question, *unscored])
        known += (vectors[1:] @ vectors[0]).tolist()
    return max(known, default=0.0)


def gate_signals(
    question: str, weights: Mapping[str, float], ranked: list[Candidate], hits: list[Hit], similarity: float
) -> dict[str, float]:
    """What the abstention gate (``gate.shipped_gate``) reads for judged ``ranked`` candidates of ``hits``
    (``GATE_SIGNALS``); ``weights``: the question's ``weighted_terms``, ``similarity``: the hits'
    ``passage_similarity``."""
    terms = named_terms(question)
    closeness = max(c.score for c in ranked)
    if terms and lexical.named_share(terms, ranked[0].text, ranked[0].previous) == 1.0:
        closeness = max(closeness, NAMED_CLOSENESS)
    best = ranked[:ANSWERABLE_SENTENCES]
    return {
        "closeness": closeness,
        "answer": ranked[0].answer_score,
        "passage_similarity": similarity,
        # The question's terms held together in the best sentence's passage, and in the best sentences.
        "best_passage_coverage": lexical.coverage(weights, ranked[0].hit.text),
        "best_coverage": lexical.coverage(weights, "\n".join(f"{c.previous} {c.text}" for c in best)),
        "name_coverage": lexical.proper_name_coverage(question, "\n".join(h.text for h in hits)),
    }


def answers_at_all(signals: Mapping[str, float]) -> bool:
    """The abstention gate's verdict on ``gate_signals``: whether the best sentences answer at all."""
    return shipped_gate().answers(signals)


# A line break before a list's item ("\n* From the `.env` file."): kept in a quote, so the list reads as
# one. Before a numbered item only after a sentence or its introduction has ended ("priority:\n\n1.
# Environment variables"): in a PDF's text a line wrapped mid-sentence may open with "3. ".
LIST_BREAK = re.compile(rf"\n(?={BULLETED.pattern})|(?<=[.:!?])[ \t]*\n\s*(?={NUMBERED.pattern})")


def folded(text: str) -> str:
    """``text`` with single spaces, on one line but for its code blocks, kept line for line, and its list
    items, each on a line of its own (``LIST_BREAK``)."""

    def prose(part: str) -> str:
        return "\n".join(" ".join(line.split()) for line in LIST_BREAK.split(part) if line.strip())

    parts, cursor = [], 0
    for a, b in fenced_spans(text):
        parts += [prose(text[cursor:a]), text[a:b].strip()]
        cursor = b
    parts.append(prose(text[cursor:]))
    return " ".join(part for part in parts if part)


def sentence_before(text: str, start: int) -> tuple[int, int] | None:
    """The span of the whole sentence before ``text[start:]``, looking back at most 400 characters and not
    into a code block; ``None`` when there is none or it may be cut."""
    # From the end of the code block before it, if it is near: a window starting inside that block would
    # pair its closing fence with the next opening one.
    fence = text.rfind("```", 0, start)
    window = max(0, start - 400, fence + 3 if fence >= 0 else 0)
    spans = sentence_spans(text, window, start)
    if not spans or (len(spans) == 1 and window == start - 400 > 0):  # its first sentence may be cut
        return None
    return spans[-1]


def introduction_start(text: str, start: int) -> int:
    """Where the sentence introducing the code block at ``text[start:]`` begins ("To disable this, use the
    `-H` option:" right before it), else ``start``: a code block is quoted with its introduction, which the
    judge often ranks below the bare block, or which the chunk holding the block may have left out."""
    span = sentence_before(text, start)
    if span and introduces_next(text[slice(*span)]) and not text[span[1] : start].strip():
        return span[0]
    return start


# A sentence opening with a pronoun or "this"/"that" standing for what the sentence before it named ("This
# can be used to open the default application associated with a URL", after "Click supports launching
# applications through `launch`.").
LEANS_BACK = re.compile(r"(?:It|Its|This|That|These|Those|They|Their|Such)\b")


def referent_start(text: str, start: int) -> int:
    """Where the sentence before the one at ``text[start:]`` begins when that one leans back on it
    (``LEANS_BACK``) and both are in one paragraph, else ``start``: quoted alone, "This can be used to ..."
    does not say what "this" is."""
    span = sentence_before(text, start) if LEANS_BACK.match(text, start) else None
    if span is None or "\n\n" in text[span[0] : start] or "```" in text[slice(*span)]:
        return start
    return span[0] if _is_answer_shaped(text[slice(*span)]) else start


# At most this many characters (spaces, line breaks) between two sentences next to each other.
ADJOINING_GAP = 2


def adjoins(candidate: Candidate, best: Candidate) -> bool:
    """Whether ``candidate`` is the sentence right before or after ``best``: by its offsets, or where a
    chunk's edge cut them apart, by the sentence each reads before it. A code block after it does not
    count: "Uses a 307 status code by default." needs no example program after it."""
    same_source = candidate.hit.source_id == best.hit.source_id
    follows = same_source and 0 <= candidate.start - best.end <= ADJOINING_GAP
    precedes = same_source and 0 <= best.start - candidate.end <= ADJOINING_GAP
    after = (follows or candidate.previous == best.text) and not candidate.text.startswith("```")
    return after or precedes or candidate.text == best.previous


def goes_along(candidate: Candidate, best: Candidate, answers: Callable[[float], bool]) -> bool:
    """Whether ``candidate``, the runner-up, is quoted with the ``best`` sentence for its score:
    ``answers`` says its answer score is an answer, or it scores at least ``RUNNER_UP_SHARE`` of the best
    one's. (The sentence right before or after the best one goes along whatever its score: ``adjoins``.)"""
    return answers(candidate.answer_score) or candidate.answer_score >= RUNNER_UP_SHARE * best.answer_score


def repeats(candidate: Candidate, best: Candidate) -> bool:
    """Whether quoting ``candidate`` beside ``best`` would say nothing new: it overlaps ``best`` in the same
    source, or it has the same words (a PDF may draw a page's text twice: VM-FT's page 8 quoted one
    sentence as [1] and [2])."""
    same_source = candidate.hit.source_id == best.hit.source_id
    overlapping = same_source and candidate.start < best.end and best.start < candidate.end
    return overlapping or candidate.text.split() == best.text.split()


def widens(candidate: Candidate, best: Candidate) -> bool:
    """Whether ``best`` is a code block and ``candidate`` quotes it with the sentence leading into it
    (``answer_units``): going along, it is quoted instead of the bare block. A best sentence is not widened
    with the block after it: "Uses a 307 status code by default." needs no example program."""
    same_source = candidate.hit.source_id == best.hit.source_id
    inside = candidate.start < best.start and best.end <= candidate.end
    return same_source and inside and best.text.startswith("```")


def cited_quote(quote: str, n: int) -> str:
    """``quote`` with the marker [n] after each of its sentences, as the verifier reads claims: a fragment
    takes no marker of its own but goes with its neighbour ("Keep-Alive. Defaults to 5 seconds [1]."; a
    last fragment with the sentence before it), nor does a sentence introducing a code block
    (``introduces_next``). The quote's own bracketed references ("GFS [8] stores ...") are dropped: they
    would read as our markers. Spacing is ``folded``: a code block's lines and a list's items keep their
    line breaks."""
    text = folded(strip_markers(quote))
    spans: list[tuple[int, int]] = []
    for a, b in sentence_spans(text):
        if spans and is_item_mark(text[slice(*spans[-1])]):
            a = spans.pop()[0]  # a numbered item's number goes with its item: "1. Environment variables."
        elif spans and introduces_next(text[slice(*spans[-1])]) and text.startswith("```", a):
            a = spans.pop()[0]  # an introduction goes with its code: "the following configuration... ```"
        spans.append((a, b))
    parts = [text[a:b] for a, b in spans] or [text]
    marked = [not is_fragment(part) for part in parts]
    if len(parts) > 1 and not marked[-1]:
        marked[-2] = False
    marked[-1] = True
    return joined([f"{part} [{n}]" if mark else part for part, mark in zip(parts, marked, strict=True)])


def runs_into(text: str, before: tuple[Hit, int, int], hit: Hit, start: int) -> bool:
    """Whether the quote ``before`` (hit, start, end) of ``text`` runs into the one at ``start`` of the same
    source: they overlap, or only spaces part them ("... you could use this command:" then "pcre2grep -M
    'regular\\s+expression' <file>"; a PDF's "... clocks using NTP" then "and measured the mean time to
    recovery"). Quoted apart, the two read as one claim with two markers, which neither source states
    whole, and the verifier finds half of it unsupported."""
    other, _, b = before
    if other.source_id != hit.source_id:
        return False
    return start <= b or not text[b:start].strip()


def span_text(sentence: str, start: int, end: int) -> str:
    """The short answer at ``sentence[start:end]``: spacing folded, and without the bullet of a quoted
    list's item ("* From an environment variable")."""
    return re.sub(rf"^{_ITEM_MARK}", "", " ".join(sentence[start:end].split()))


def on_fence_line(text: str, offset: int) -> bool:
    """Whether ``text[offset]`` sits on a code fence's line: its language ("```ini") is no short answer."""
    line = text[text.rfind("\n", 0, offset) + 1 :].lstrip()
    return line.startswith(("```", "~~~"))


def source_text(hit: Hit, store: HybridStore, read: dict[str, str]) -> str:
    """The whole text of ``hit``'s source, which a candidate's offsets count in (the hit's own text where
    the store holds no record), read once per source into ``read``."""
    if hit.source_id not in read:
        record = store.source(hit.source_id)
        read[hit.source_id] = record.text if record else hit.text
    return read[hit.source_id]


def extractive_answer(
    question: str,
    hits: list[Hit],
    store: HybridStore,
    judge: Judge,
    max_sentences: int = ANSWER_SENTENCES,
    exclude: frozenset[str] = frozenset(),
    gate: bool = True,
) -> Answer:
    """Answer with the sentence the judge says answers the question best, plus the runner-up when it
    ``goes_along`` (a bare code block's lead-in instead of it, ``widens``), else the best-ranked sentence
    that ``adjoins`` it (at most ``max_sentences``, in reading order), each cited, text that ``runs_into``
    the next quoted as one; the short answer is the span the judge found in the best one.

    Abstains, in the question's language, when nothing was retrieved or (``gate``) ``judged`` says the
    sentences do not answer it.
    """
    verdict = judged(question, hits, judge, store, exclude)
    ranked = verdict.ranked
    if not ranked or (gate and not verdict.answerable):
        return abstention_over(question, ranked, store)
    best = ranked[0]
    picked = [best]
    for candidate in ranked[1:max_sentences]:
        if not goes_along(candidate, best, verdict.answers):
            continue
        if widens(candidate, best):
            picked[0] = candidate  # the code block best, quoted with the sentence leading into it
        elif not any(repeats(candidate, p) for p in picked):
            picked.append(candidate)
    # Failing that, the sentence right before or after the best one, wherever the judge ranked it: the
    # one naming the subject often outranks the next one that answers ("The Kestrel bridge replaced the
    # ford." before "It ... was designed by Agnes Thorne."; "... use an explicit mechanism to initiate the
    # addition and removal of nodes" before "An administrator uses a command line tool").
    neighbours = [c for c in ranked[1:] if adjoins(c, best) and not any(repeats(c, p) for p in picked)]
    picked += neighbours[: max_sentences - len(picked)]
    picked.sort(key=lambda c: (c.hit.source_id, c.start))

    source_texts: dict[str, str] = {}
    quoted: list[tuple[Hit, int, int]] = []  # (hit, start, end) of each quote, in reading order
    for candidate in picked:
        hit = candidate.hit
        text = source_text(hit, store, source_texts)
        start = (
            introduction_start(text, candidate.start)
            if candidate.text.startswith("```")
            else referent_start(text, candidate.start)
        )
        if quoted and runs_into(text, quoted[-1], hit, start):
            quoted[-1] = (quoted[-1][0], quoted[-1][1], max(quoted[-1][2], candidate.end))
        else:
            quoted.append((hit, start, candidate.end))
    citations: list[Citation] = []
    sentences: list[str] = []
    for n, (hit, start, end) in enumerate(quoted, start=1):
        citation = cite(n, hit.chunk_id, hit.source, source_texts[hit.source_id], start, end, hit.page)
        citations.append(citation)
        sentences.append(cited_quote(citation["quote"], n))
    answer = Answer(
        question=question, answer=" ".join(sentences), citations=citations, abstained=False, verified=False
    )
    if short := short_answer(question, best):
        answer["short_answer"] = short
    return answer


def closest_passages(ranked: list[Candidate], store: HybridStore) -> list[Citation]:
    """Citations of the best of the ``ranked`` candidates, at most ``CLOSEST_SHOWN`` and one per section
    (of a page, for a PDF; per passage where the source has no headings), best first: what an abstention
    shows as where to read on."""
    closest: list[Citation] = []
    places: set[tuple[str, int | None, Heading | str]] = set()
    texts: dict[str, str] = {}
    for candidate in ranked:
        hit = candidate.hit
        text = source_text(hit, store, texts)
        section = heading_at(text.headings, candidate.start) if isinstance(text, SourceText) else None
        place = (hit.source_id, hit.page, section or hit.chunk_id)
        if place in places:
            continue
        places.add(place)
        n = len(closest) + 1
        closest.append(cite(n, hit.chunk_id, hit.source, text, candidate.start, candidate.end, hit.page))
        if len(closest) == CLOSEST_SHOWN:
            break
    return closest


def abstention_over(question: str, ranked: list[Candidate], store: HybridStore) -> Answer:
    """The abstention, with the ``closest_passages`` of the judged ``ranked`` candidates when any were."""
    answer = abstention(question)
    if closest := closest_passages(ranked, store):
        answer["closest"] = closest
    return answer


def short_answer(question: str, best: Candidate) -> str:
    """The span the judge found in the ``best`` sentence, where the judge is sure enough of it
    (``SHORT_ANSWER_LIKELIHOOD``) and it can be shown as the short answer to ``question``
    (``lexical.short_answer_fits``); "" otherwise. A quoted code block is its own short answer: a span of
    it is a fragment ("$ uvicorn main"), and so is a code fence's language."""
    judgment = best.judgment
    if not judgment or not judgment.span or best.text.startswith("```"):
        return ""
    if judgment.score * judgment.span_score < SHORT_ANSWER_LIKELIHOOD:
        return ""
    a, b = judgment.span
    short = span_text(best.text, a, b)
    return short if lexical.short_answer_fits(question, short) and not on_fence_line(best.text, a) else ""


def chunk_citation(n: int, hit: Hit, store: HybridStore) -> Citation:
    """Citation of a whole retrieved chunk as source [n] (the generate strategy cites chunks)."""
    record = store.source(hit.source_id)
    source_text = record.text if record else hit.text
    start, end = (hit.start, hit.end) if record else (0, len(hit.text))
    return cite(n, hit.chunk_id, hit.source, source_text, start, end, hit.page)


def numbered_sources(citations: list[Citation]) -> list[Source]:
    """The numbered sources an LLM is shown, in the prompt's shape."""
    return [
        Source(n=c["n"], source=Path(c["source"]).name, location=c["location"], text=c["quote"])
        for c in citations
    ]


def generated_answer(
    question: str,
    hits: list[Hit],
    store: HybridStore,
    chat_model: BaseChatModel,
    judge: Judge,
    feedback: str = "",
    history: list[Turn] | None = None,
) -> Answer:
    """Have ``chat_model`` answer from the hits numbered [1]..[k]; citations are the chunks it cites."""
    verdict = judged(question, hits, judge, store)
    if not verdict.answerable:  # the judge finds no answer in the passages: do not make the model guess
        return abstention_over(question, verdict.ranked, store)
    shown = [chunk_citation(n, hit, store) for n, hit in enumerate(hits, start=1)]
    turns = [(t["question"], t["answer"]) for t in history or []]
    messages = answer_messages(question, numbered_sources(shown), feedback, turns)
    reply = chat_model.invoke(messages, config={"tags": ["citegraph:draft"]})
    text = " ".join(str(reply.content).split())
    if says_documents_do_not_answer(text):
        return abstention(question)
    cited = set(markers(text))
    citations = [c for c in shown if c["n"] in cited]
    return Answer(question=question, answer=text, citations=citations, abstained=False, verified=False)


# -- nodes -----------------------------------------------------------------------------------------


def answer(state: RagState, runtime: Runtime[RagContext]) -> dict[str, Any]:
    """Write a draft answer from the selected passages (extract: cited sentences; generate: the model
    writes it with [n] markers), taking the verifier's or the reviewer's feedback into account."""
    context = runtime.context or RagContext()
    store = pipeline_for(context).store
    judge = judge_for(context)
    hits = state.get("hits", [])
    feedback = state.get("feedback", "")
    if context.strategy == "generate":
        model = load_chat_model(context.model)
        if model is None:
            raise ValueError(f"the generate strategy needs a chat model, not {context.model!r}")
        draft = generated_answer(
            state["question"], hits, store, model, judge, feedback, state.get("history", [])
        )
    else:
        # A reviewer's feedback says what they want instead: rank the sentences by it too.
        ask = " ".join(filter(None, [state.get("search_question") or state["question"], feedback]))
        # No answerability gate on a re-answer the reviewer asked for: they judge it before it is published.
        draft = extractive_answer(
            ask, hits, store, judge, exclude=frozenset(state.get("rejected", [])), gate=not feedback
        )
        draft["question"] = state["question"]
    return {"draft": draft, "attempts": state.get("attempts", 0) + 1, "edited": False}


def finalize(state: RagState) -> dict[str, Any]:
    """Publish the checked answer: renumber its citations, stream its text, remember the turn."""
    final = renumbered(state["draft"])
    search = state.get("search_question", "")
    if search and search != state["question"]:
        final["standalone_question"] = search  # show what a follow-up was searched as
    write = get_stream_writer()
    for piece in re.findall(r"\S+\s*", final["answer"]):
        write({"event": "token", "text": piece})
    return {"answer": final, "history": [Turn(question=state["question"], answer=final["answer"])]}
