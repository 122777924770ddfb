"""Training examples for the judge, built from public training sets in the formats they ship in.

``read_folder`` recognises each file by its shape (a folder named ``eval_only`` is never read, nor one named
``docs``: the documents of written questions):

* extractive QA: SQuAD-explorer article pages (HTML), SQuAD-format JSON (``data/paragraphs/qas``, with
  ``is_impossible``), QED / Natural Questions JSON lines (``question_text``, ``paragraph_text``,
  ``answer_spans``);
* questions written over documents: JSON lines with ``doc`` (a file under ``docs/`` beside them),
  ``question``, ``sentence`` (the text that answers it, verbatim), ``short`` (the answer inside it) or
  ``unanswerable`` with ``near`` (a passage on the topic that does not answer); each becomes a QA item
  over the chunk of the document that holds it, as CiteGraph ingests it;
* review QA: SubjQA CSV (``question``, ``review``, ``human_ans_indices``; "ANSWERNOTFOUND" = unanswerable);
* answer-sentence selection: CSV ``qtext,label,atext`` (TrecQA), a folder with ``a.toks``, ``b.toks`` and
  ``sim.txt`` (WikiQA as castorini ships it);
* NLI: SICK (``sentence_A``, ``sentence_B``, ``entailment_judgment``), SNLI/MultiNLI JSON lines or TSV
  (``sentence1``, ``sentence2``, ``gold_label`` or ``label``), or any TSV/CSV with ``premise``,
  ``hypothesis``, ``label``.

``build_examples`` turns them into (head, text_a, text_b, label[, span]) examples with the input formats
of ``judge.py``, adding negatives the sets lack: the other sentences of a paragraph, the paragraph with its
answer sentence removed (what the abstention gate faces when retrieval misses), page furniture (headings,
page footers, tables of contents), and claims with a number or name swapped or a negation added.
"""

from __future__ import annotations

import csv
import hashlib
import html
import json
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from citegraph.ingest.chunking import sentence_spans
from citegraph.models.judge.judge import answer_pair, answerable_pair, support_pair
from citegraph.retrieval.tokenizer import tokenize

csv.field_size_limit(10_000_000)


@dataclass
class QAItem:
    """An extractive QA question over its paragraph; ``answers`` are (start, end) character spans
    (empty for an unanswerable question)."""

    source: str
    question: str
    context: str
    answers: list[tuple[int, int]] = field(default_factory=list)


@dataclass
class SelectionItem:
    """An answer-sentence-selection judgment: does ``sentence`` answer ``question``."""

    source: str
    question: str
    sentence: str
    label: int


@dataclass
class PairItem:
    """An NLI pair: does ``premise`` entail ``hypothesis`` (1) or not (0: neutral or contradiction)."""

    source: str
    premise: str
    hypothesis: str
    label: int


@dataclass
class Example:
    """One training example for one head; ``span`` is the answer's character span in the sentence."""

    head: str
    text_a: str
    text_b: str
    label: int
    span: tuple[int, int] | None = None
    source: str = ""


@dataclass
class Collection:
    """Everything read from a data folder, and what was skipped (with why)."""

    qa: list[QAItem] = field(default_factory=list)
    selection: list[SelectionItem] = field(default_factory=list)
    pairs: list[PairItem] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Items per source, for the log and the model card."""
        counts: dict[str, int] = {}
        for item in [*self.qa, *self.selection, *self.pairs]:
            counts[item.source] = counts.get(item.source, 0) + 1
        return counts


# -- readers ------------------------------------------------------------------------------------------


def _squad(path: Path, raw: dict) -> Iterator[QAItem]:
    for article in raw["data"]:
        for paragraph in article.get("paragraphs", []):
            context = paragraph["context"]
            for qa in paragraph.get("qas", []):
                spans = []
                if not qa.get("is_impossible"):
                    for answer in qa.get("answers", []):
                        start = int(answer["answer_start"])
                        if context[start : start + len(answer["text"])] == answer["text"]:
                            spans.append((start, start + len(answer["text"])))
                    if not spans:
                        continue  # an answer that is not where it says: unusable
                yield QAItem(path.parent.name, qa["question"], context, spans)


_PARAGRAPH = re.compile(r'<div class="para-wrap">.*?<pre>(.*?)</pre>(.*?)(?=<div class="para-wrap">|$)', re.S)
_QUESTION = re.compile(r'<strong class="question">(.*?)</strong>(.*?)(?=<div class="qa-wrap">|$)', re.S)
_ANSWER = re.compile(r'<span class="answer">(.*?)</span>', re.S)


def explorer_page(path: Path, page: str) -> Iterator[QAItem]:
    """QA items of one SQuAD-explorer article page (HTML with no answer offsets: an answer's first
    occurrence in its paragraph is taken as its place)."""
    for context_html, rest in _PARAGRAPH.findall(page):
        context = html.unescape(context_html)
        for question, answers_html in _QUESTION.findall(rest):
            for answer in (html.unescape(a).strip() for a in _ANSWER.findall(answers_html)):
                if answer and (start := context.find(answer)) >= 0:
                    yield QAItem(
                        path.parent.name,
                        html.unescape(question).strip(),
                        context,
                        [(start, start + len(answer))],
                    )
                    break


def json_lines(path: Path) -> Iterator[dict]:
    """The JSON objects of a JSON-lines file, blank lines skipped."""
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


def _verbatim(text: str) -> re.Pattern[str]:
    """``text`` matched with any whitespace between its words (a PDF's line breaks fall anywhere)."""
    return re.compile(r"\s+".join(re.escape(word) for word in text.split()))


def labelled_questions(path: Path, rows: list[dict]) -> tuple[list[QAItem], list[str]]:
    """QA items of questions written over documents (``docs/`` beside ``path``), and why any question
    was left out. The context is the chunk of the document holding the answer (or, for an unanswerable
    question, its ``near`` passage), chunked as ingestion chunks it, so training sees the passages the
    answer step sees."""
    from citegraph.ingest.loaders import IngestError, load_document
    from citegraph.ingest.pipeline import chunk_document
    from citegraph.settings import Settings

    settings = Settings()
    chunked: dict[str, tuple[str, list[tuple[int, int]]] | str] = {}
    items: list[QAItem] = []
    left_out: list[str] = []
    for row in rows:
        name = row["doc"]
        if name not in chunked:
            try:
                doc = load_document(path.parent / "docs" / name, 1 << 30)
                chunked[name] = (doc.text, [(c.start, c.end) for c in chunk_document(doc, name, settings)])
            except IngestError as error:
                chunked[name] = str(error)
        if isinstance(loaded := chunked[name], str):
            left_out.append(f"{path}: {loaded} (asked: {row['question']!r})")
            continue
        text, chunks = loaded
        if row.get("unanswerable"):
            found = _verbatim(row["near"]).search(text)
            where = (found.start(), found.end()) if found else None
        else:
            sentence = _verbatim(row["sentence"]).search(text)
            short = sentence and _verbatim(row["short"]).search(text, sentence.start(), sentence.end())
            where = (short.start(), short.end()) if short else None
        chunk = where and next((c for c in chunks if c[0] <= where[0] and where[1] <= c[1]), None)
        if chunk is None:
            left_out.append(f"{path}: {name}: no chunk holds the text quoted for {row['question']!r}")
            continue
        start, end = chunk
        answers = [] if row.get("unanswerable") else [(where[0] - start, where[1] - start)]
        items.append(QAItem(path.parent.name, row["question"], text[start:end], answers))
    return items, left_out


def _nli_label(value: str) -> int | None:
    value = value.strip().lower()
    if value in {"entailment", "entails", "1"}:
        return 1
    if value in {"neutral", "contradiction", "not_entailment", "0", "2"}:
        return 0
    return None


def _rows(path: Path) -> list[dict[str, str]]:
    # TSV training sets (SICK, GLUE) quote nothing: a '"' inside a sentence is just a character.
    delimiter, quoting = (",", csv.QUOTE_MINIMAL) if path.suffix == ".csv" else ("\t", csv.QUOTE_NONE)
    with path.open(encoding="utf-8", newline="") as handle:
        rows = csv.DictReader(handle, delimiter=delimiter, quoting=quoting)
        # Column names as the sets spell them vary in case and some start with a byte-order mark.
        return [{k.lstrip("\ufeff").strip().lower(): v for k, v in row.items() if k} for row in rows]


def _read_table(path: Path, found: Collection) -> bool:
    rows = _rows(path)
    columns = set(rows[0]) if rows else set()
    name = path.parent.name
    for a, b, label in (
        ("sentence_a", "sentence_b", "entailment_judgment"),
        ("sentence1", "sentence2", "gold_label"),
        ("sentence1", "sentence2", "label"),
        ("premise", "hypothesis", "label"),
    ):
        if {a, b, label} <= columns:
            for row in rows:
                if (value := _nli_label(row[label])) is not None:
                    found.pairs.append(PairItem(name, row[a], row[b], value))
            return True
    if {"question", "review", "human_ans_indices"} <= columns:
        for row in rows:
            context = row["review"].removesuffix("ANSWERNOTFOUND").rstrip()
            start, end = (int(x) for x in re.findall(r"\d+", row["human_ans_indices"])[:2])
            answers = [(start, end)] if end <= len(context) and end > start else []
            found.qa.append(QAItem(name, row["question"], context, answers))
        return True
    if {"qtext", "atext", "label"} <= columns:
        found.selection += [
            SelectionItem(name, row["qtext"], row["atext"], int(float(row["label"]) > 0)) for row in rows
        ]
        return True
    return False


def read_folder(folder: Path) -> Collection:
    """Every training set under ``folder`` whose format is recognised (see the module docstring)."""
    found = Collection()
    for path in sorted(folder.rglob("*")):
        # eval_only: never trained on; docs: the documents written questions ask about, read with them.
        parts = set(path.relative_to(folder).parts)
        if {"eval_only", "docs"} & parts or path.name.lower().startswith("readme"):
            continue
        if path.suffix == ".txt" and (path.parent / "a.toks").is_file():
            continue  # part of a WikiQA-style folder, read with it
        try:
            if path.is_dir() and {"a.toks", "b.toks", "sim.txt"} <= {p.name for p in path.iterdir()}:
                questions, sentences, labels = (
                    (path / name).read_text(encoding="utf-8").splitlines()
                    for name in ("a.toks", "b.toks", "sim.txt")
                )
                found.selection += [
                    SelectionItem(path.parent.name, q, s, int(float(y) > 0))
                    for q, s, y in zip(questions, sentences, labels, strict=True)
                ]
            elif path.suffix == ".html":
                page = path.read_text(encoding="utf-8")
                if 'class="para-wrap"' in page:
                    found.qa += explorer_page(path, page)
            elif path.suffix == ".json":
                raw = json.loads(path.read_text(encoding="utf-8"))
                if not isinstance(raw, dict) or "data" not in raw:
                    found.skipped.append(f"{path}: not SQuAD format")
                    continue
                found.qa += _squad(path, raw)
            elif path.suffix in {".jsonl", ".jsonlines"}:
                rows = list(json_lines(path))
                if rows and {"doc", "question"} <= set(rows[0]):
                    items, left_out = labelled_questions(path, rows)
                    found.qa += items
                    found.skipped += left_out
                    continue
                for row in rows:
                    if "question_text" in row and "paragraph_text" in row:
                        spans = [(int(a), int(b)) for a, b in row.get("answer_spans", [])]
                        found.qa.append(
                            QAItem(path.parent.name, row["question_text"], row["paragraph_text"], spans)
                        )
                    elif "sentence1" in row and (label := _nli_label(row.get("gold_label", ""))) is not None:
                        found.pairs.append(
                            PairItem(path.parent.name, row["sentence1"], row["sentence2"], label)
                        )
            elif path.suffix in {".txt", ".tsv", ".csv"} and path.is_file() and not _read_table(path, found):
                found.skipped.append(f"{path}: unrecognised columns")
        except (OSError, ValueError, KeyError, UnicodeDecodeError) as error:
            found.skipped.append(f"{path}: {error}")
    return found


# -- examples ------------------------------------------------------------------------------------------


def answer_sentence(context: str, start: int) -> str | None:
    """The sentence of ``context`` holding the character at ``start`` (an answer's first character)."""
    return next((context[a:b] for a, b in sentence_spans(context) if a <= start < b), None)


def held_out(key: str, share: float) -> bool:
    """A stable split by content: the same question/paragraph always falls on the same side."""
    return int(hashlib.sha1(key.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF < share


def _overlap(question: str, sentence: str) -> float:
    terms = set(tokenize(question))
    return len(terms & set(tokenize(sentence))) / max(len(terms), 1)


def furniture(rng: random.Random, sentence: str, title: str = "") -> str:
    """Page furniture made from a paragraph's own words: what a PDF or manual puts near the answer but
    what never answers anything (a heading, a footer, a table-of-contents line, a figure label)."""
    words = [w for w in re.findall(r"[A-Za-z][\w-]+", title or sentence) if len(w) > 2][:6] or ["Overview"]
    phrase = " ".join(w.capitalize() for w in words[: rng.randint(2, min(5, max(2, len(words))))])
    n = rng.randint(1, 40)
    return rng.choice(
        [
            f"{rng.randint(1, 9)}.{rng.randint(1, 9)} {phrase}",
            f"Chapter {n}: {phrase}",
            f"{phrase} .......... {n}",
            f"Page {n} of {n + rng.randint(1, 60)}",
            f"{phrase} {n}",
            f"Figure {n}: {phrase}.",
            f"Table of Contents {phrase} {n} {phrase.split()[0]} {n + 3}",
            f"Copyright © {rng.randint(1990, 2025)} {phrase}. All rights reserved.",
        ]
    )


_NUMBER = re.compile(r"\b\d+(?:[.,]\d+)?\b")
_NAME = re.compile(r"(?<=\s)[A-Z][a-z]{2,}\b")


def corrupted(rng: random.Random, claim: str, other: str) -> str | None:
    """``claim`` made false while staying close in words: a number changed, a name swapped for one from
    ``other``, or a negation added. ``None`` when none applies."""
    numbers = _NUMBER.findall(claim)
    names = _NAME.findall(claim)
    other_names = [n for n in _NAME.findall(other) if n not in names]
    options = []
    if numbers:
        number = rng.choice(numbers)
        options.append(claim.replace(number, str(int(float(number.replace(",", ""))) + rng.randint(1, 9)), 1))
    if names and other_names:
        options.append(claim.replace(rng.choice(names), rng.choice(other_names), 1))
    for verb in (" is ", " was ", " are ", " were ", " can ", " has ", " will "):
        if verb in claim:
            options.append(claim.replace(verb, f"{verb}not ", 1))
            break
    return rng.choice(options) if options else None


def _qa_examples(item: QAItem, rng: random.Random, others: list[str]) -> Iterator[Example]:
    spans = sentence_spans(item.context)
    if not spans:
        return
    sentences = [item.context[a:b] for a, b in spans]
    previous = ["", *sentences[:-1]]
    target = None
    if item.answers:
        start, end = item.answers[0]
        target = next((i for i, (a, b) in enumerate(spans) if a <= start and end <= b), None)
        if target is None:
            return  # the answer crosses sentences: no single sentence is "the" answer
    ranked = sorted(range(len(sentences)), key=lambda i: -_overlap(item.question, sentences[i]))
    distractors = [i for i in ranked if i != target]
    src = item.source
    if target is not None:
        a, _ = spans[target]
        start, end = item.answers[0]
        q, b = answer_pair(item.question, sentences[target], previous[target])
        yield Example("answer", q, b, 1, (start - a, end - a), src)
        # Three negatives: the two closest sentences of the paragraph (hard) and page furniture.
        best = sorted([target, *distractors[:2]])
        yield Example(
            "answerable", *answerable_pair(item.question, [sentences[i] for i in best]), 1, None, src
        )
    for i in distractors[:2]:
        yield Example("answer", *answer_pair(item.question, sentences[i], previous[i]), 0, None, src)
    if rng.random() < 0.5:
        yield Example("answer", *answer_pair(item.question, furniture(rng, sentences[0])), 0, None, src)
    # The paragraph without its answer (or an unanswerable question's paragraph), plus a near sentence of
    # another paragraph: the passages a retriever returns when the answer is not in the collection.
    near = sorted(distractors[:2])
    shown = [sentences[i] for i in near] + ([rng.choice(others)] if others and rng.random() < 0.5 else [])
    if shown:
        yield Example("answerable", *answerable_pair(item.question, shown), 0, None, src)


def capped(items: list, limit: int, rng: random.Random) -> list:
    """At most ``limit`` items of each source (a random sample of the larger ones), in their order."""
    by_source: dict[str, list[int]] = {}
    for i, item in enumerate(items):
        by_source.setdefault(item.source, []).append(i)
    keep = sorted(
        i
        for indices in by_source.values()
        for i in (indices if len(indices) <= limit else rng.sample(indices, limit))
    )
    return [items[i] for i in keep]


def build_examples(
    found: Collection, seed: int = 0, held_out_share: float = 0.05, max_per_source: int = 30_000
) -> tuple[list[Example], list[Example]]:
    """(train, held-out) examples for every head; held-out ones choose the thresholds. No source gives
    more than ``max_per_source`` items (SQuAD alone would drown the rest)."""
    rng = random.Random(seed)
    found = Collection(
        capped(found.qa, max_per_source, rng),
        capped(found.selection, max_per_source, rng),
        capped(found.pairs, max_per_source, rng),
        found.skipped,
    )
    train: list[Example] = []
    held: list[Example] = []
    pool = [s for item in found.qa[:: max(1, len(found.qa) // 2000)] for s in [item.context[:300]]]
    for item in found.qa:
        examples = list(_qa_examples(item, rng, pool))
        (held if held_out(item.question + item.context[:50], held_out_share) else train).extend(examples)
    for item in found.selection:
        example = Example("answer", *answer_pair(item.question, item.sentence), item.label, None, item.source)
        (held if held_out(item.question, held_out_share) else train).append(example)
    for item in found.pairs:
        examples = [
            Example("support", *support_pair(item.premise, item.hypothesis), item.label, None, item.source)
        ]
        if item.label == 1 and (false := corrupted(rng, item.hypothesis, item.premise)):
            examples.append(Example("support", *support_pair(item.premise, false), 0, None, item.source))
        (held if held_out(item.premise + item.hypothesis, held_out_share) else train).extend(examples)
    # Extractive QA gives support pairs too: the paragraph states its answer sentence, not a corrupted one.
    for item in found.qa[::2]:
        if not item.answers:
            continue
        sentence = answer_sentence(item.context, item.answers[0][0])
        if sentence is None or len(sentence.split()) < 5:
            continue
        passage = item.context[: max(600, item.answers[0][1] + 200)]
        examples = [Example("support", *support_pair(passage, sentence), 1, None, item.source)]
        if (false := corrupted(rng, sentence, item.context)) is not None:
            examples.append(Example("support", *support_pair(passage, false), 0, None, item.source))
        (held if held_out(item.question + item.context[:50], held_out_share) else train).extend(examples)
    rng.shuffle(train)
    return train, held
