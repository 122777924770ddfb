"""Which retrieved sentences the extract strategy may answer with (no model needed)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from citegraph.agents.answerer import (
    CLOSEST_SHOWN,
    COVERAGE_PLACES,
    GATE_SIGNALS,
    JUDGED_SENTENCES,
    LEAST_ANSWER_SCORE,
    NAMED_CLOSENESS,
    QUANTITY_WEIGHT,
    RUNNER_UP_SHARE,
    SHORT_ANSWER_LIKELIHOOD,
    Candidate,
    adjoins,
    answers_at_all,
    candidate_sentences,
    chunks_inside_code,
    cited_quote,
    closest_passages,
    could_answer,
    gate_signals,
    goes_along,
    introduction_start,
    named_first,
    on_fence_line,
    passage_similarity,
    ranked_score,
    referent_start,
    repeats,
    runs_into,
    short_answer,
    shortlist,
    span_text,
    weighted_terms,
    widens,
)
from citegraph.agents.verifier import split_answer
from citegraph.ingest.outline import Heading, SourceText
from citegraph.models.judge import lexical
from citegraph.models.judge.gate import shipped_gate
from citegraph.models.judge.judge import AnswerJudgment
from citegraph.retrieval.query import named_terms
from citegraph.retrieval.store import Hit
from citegraph.retrieval.tokenizer import tokenize


def hit(text: str, start: int = 100, similarity: float | None = None) -> Hit:
    return Hit(
        "c1", text, "s1", "paper.pdf", "Paper", start, start + len(text), 3, 1.0, similarity=similarity
    )


def test_a_heading_glued_to_a_sentence_is_left_out_of_the_candidate() -> None:
    text = "Worker Failure\nThe master pings every worker periodically."
    (candidate,) = candidate_sentences([hit(text)])
    assert candidate.text == "The master pings every worker periodically."
    assert candidate.start == 100 + text.index("The master")
    # A line that merely wraps a sentence is not a heading.
    wrapped = "The master\nThen pings every worker that it knows about."
    assert candidate_sentences([hit(wrapped)])[0].text == wrapped


def test_a_markdown_heading_never_answers() -> None:
    text = (
        "#### Custom JSON serialization\n\nYou can subclass `JSONResponse` and override its `render` method."
    )
    assert [c.text for c in candidate_sentences([hit(text)])] == [text.split("\n\n")[1]]


def test_figure_and_table_debris_never_answers() -> None:
    figure = "chunk locations) GFS master File namespace /foo/bar holds the chunk handle."
    table = "Cluster\nA\nB\nChunkservers\n342\n227\nAvailable disk space\n72 TB"
    code = "```python\nclient = httpx.Client(follow_redirects=True)\n```"
    prose = "A default partitioning function is provided that uses hashing (e.g. hash(key) mod R)."
    listed = "2) The master pings every worker periodically."
    axis = "0 5 10 15\nNumber of clients N\n0\n50\n100Read rate (MB/s)\nNetwork limit\nAggregate read rate"
    row = "Q1.1 2.7 9.9 1.0 69.7 107.2 Q1.2 2.0 11.0 1.0 36.0 50.8"
    counted = "Of the 12 servers, 5 were in the first rack and 7 in the second, with 2 spares kept."
    texts = [figure, table, axis, row, code, prose, listed, counted]
    found = candidate_sentences([hit("\n\n".join(texts))])
    # The list label's number is no answer; a sentence with numbers in it is not a table.
    assert [c.text for c in found] == [code, prose, listed.removeprefix("2) "), counted]


def test_questions_asking_for_a_quantity_are_told_apart() -> None:
    asking = [
        "How long does uvicorn keep an idle connection open?",
        "What chunk size did the designers choose?",
        "How much faster was C-Store than the row-store?",
        "When was the first version written?",
        "What exit status does pcre2grep return when nothing matched?",
    ]
    not_asking = ["Who wrote the report?", "How do I turn on HTTP/2?", "Why are chunks replicated?"]
    assert all(lexical.asks_for_quantity(q) for q in asking)
    assert not any(lexical.asks_for_quantity(q) for q in not_asking)
    forms = [lexical.quantity_form(q) for q in asking]
    assert forms == ["how long", "size", "how much", "when was", "status"]
    # Only some forms are answered by a number nearly always ("How long?" - "for months").
    assert [lexical.asks_for_number(q) for q in asking] == [False, False, False, True, False]
    assert lexical.asks_for_number("How many bytes trigger the high water mark?")


def test_reference_markers_section_numbers_and_web_addresses_are_not_quantities() -> None:
    assert lexical.states_quantity("A file is kept for three days.")
    assert lexical.states_quantity("Defaults to 5 seconds.")
    assert not lexical.states_quantity("We use the benchmark [18, 19] described in Section 3.1.")
    assert not lexical.states_quantity("Figure 2 shows the master and its chunkservers.")
    assert not lexical.states_quantity("3. We break down the sources of column-store performance.")
    # The digits of a web address are no quantity; a number beside one is.
    assert not lexical.states_quantity(
        "We differ here [see why](https://github.com/encode/httpx/discussions/1785)."
    )
    assert lexical.states_quantity("It listens on port 8000 (http://localhost:8000).")


def test_a_list_item_with_a_fragment_is_a_candidate_whole_and_sentence_by_sentence() -> None:
    option = (
        "* Keep-Alive. Defaults to 5 seconds. Between requests, connections must receive new data "
        "within this period or be disconnected."
    )
    text = f"Uvicorn provides the following timeouts:\n\n{option}\n* Max requests. Defaults to none."
    found = [c.text for c in candidate_sentences([hit(text)])]
    assert found == [
        "Uvicorn provides the following timeouts:",
        option.removeprefix("* "),  # "Defaults to 5 seconds." means nothing without "Keep-Alive."
        "Defaults to 5 seconds.",
        "Between requests, connections must receive new data within this period or be disconnected.",
        "Max requests. Defaults to none.",  # alone, "Defaults to none." is too short to answer
    ]
    (whole,) = [c for c in candidate_sentences([hit(text)]) if c.text.startswith("Keep-Alive")]
    assert whole.previous == "Uvicorn provides the following timeouts:"
    assert whole.start == 100 + text.index("Keep-Alive") and whole.end == 100 + text.index("\n* Max")


def test_a_sentence_introducing_a_list_of_short_items_goes_with_it() -> None:
    listed = (
        "* From an environment variable.\n* From the `.env` file.\n* The default value given in `config`."
    )
    intro = "The order in which configuration values are read is:"
    text = f"{intro}\n\n{listed}\n\nIf none match, it raises an error."
    found = [c.text for c in candidate_sentences([hit(text)])]
    # The introduction alone only promises the answer: it is quoted with the list, never alone.
    assert found == [
        f"{intro}\n\n{listed}",
        "From an environment variable.",
        "From the `.env` file.",
        "The default value given in `config`.",
        "If none match, it raises an error.",
    ]
    assert span_text(found[0], found[0].index("* From"), found[0].index(".\n* From")) == (
        "From an environment variable"
    )
    assert span_text("Set nargs to\n -1 here.", 13, 16) == "-1"  # a minus sign is no bullet
    # Quoted, the list keeps its lines (a chat window shows it as a list), one claim per item.
    # Nor a part of a list with a longer item.
    long_item = "* A longer item that goes on to say a good deal more than a short item ever would."
    mixed = f"{intro}\n\n* From an environment variable.\n{long_item}\n* From the `.env` file."
    texts = [c.text for c in candidate_sentences([hit(mixed)])]
    assert intro in texts and not any(t.startswith(f"{intro}\n") for t in texts)
    quote = cited_quote(found[0], 1)
    assert quote == (
        f"{intro} [1]\n* From an environment variable. [1]\n* From the `.env` file. [1]\n"
        "* The default value given in `config`. [1]"
    )
    claims = [claim for _, claim, _ in split_answer(quote)]
    assert claims == [intro, *(line.removesuffix(" [1]") for line in quote.splitlines()[1:])]


def test_a_quoted_numbered_list_keeps_its_lines_and_its_numbers_with_their_items() -> None:
    intro = "Gunicorn reads configuration from three places, in increasing order of priority:"
    text = (
        f"{intro}\n\n1. Environment variables.\n2. A Python configuration file.\n3. Command-line arguments."
    )
    (listed, *_) = [c.text for c in candidate_sentences([hit(text)])]
    quote = cited_quote(listed, 1)
    # Not "priority: 1 [1]. Environment variables [1]. 2. A Python ...": an item a line, a claim an item.
    assert quote == (
        f"{intro} [1]\n1. Environment variables. [1]\n2. A Python configuration file. [1]\n"
        "3. Command-line arguments. [1]"
    )
    claims = [claim for _, claim, _ in split_answer(quote)]
    assert claims == [intro, *(line.removesuffix(" [1]") for line in quote.splitlines()[1:])]
    # In a PDF's text a line wrapped mid-sentence may open with a number: it stays on the line before.
    wrapped = "GFS reclaims storage as described in Section\n3. The master then deletes it."
    assert "\n" not in cited_quote(wrapped, 1)


def test_a_sentence_leaning_on_the_one_before_is_quoted_with_it() -> None:
    named = "Click supports launching applications through `launch`."
    leaning = "This can be used to open the default application associated with a URL."
    text = f"```python\nclick.edit('a')\n```\n\n## Launching\n\n{named} {leaning}"
    assert text[referent_start(text, text.index(leaning)) :] == f"{named} {leaning}"
    # Not for a sentence that names its subject, nor across a paragraph break, nor onto a heading.
    plain = "The launch function opens the default application."
    assert referent_start(f"{named} {plain}", len(named) + 1) == len(named) + 1
    apart = f"{named}\n\n{leaning}"
    assert referent_start(apart, apart.index(leaning)) == apart.index(leaning)
    headed = f"## Launching applications\n\n{leaning}"
    assert referent_start(headed, headed.index(leaning)) == headed.index(leaning)


def test_a_list_item_of_whole_sentences_stays_sentences() -> None:
    # The judge scores a longer text higher whether or not it answers: an item needs a fragment to be joined.
    item = (
        "3. We break down the sources of performance. Our results validate earlier claims on a new benchmark."
    )
    found = [c.text for c in candidate_sentences([hit(item)])]
    assert found == [
        "We break down the sources of performance.",
        "Our results validate earlier claims on a new benchmark.",
    ]


def test_a_stated_quantity_lifts_the_rank_only_for_a_question_asking_one() -> None:
    plain = ranked_score(0.5, kind_match=False)
    assert ranked_score(0.5, kind_match=True) == plain + QUANTITY_WEIGHT
    assert ranked_score(0.6, kind_match=False) > plain
    assert lexical.gives_what_is_asked("How long is the timeout?", "It is 5 seconds.")
    assert not lexical.gives_what_is_asked("Who wrote it?", "It is 5 seconds.")
    assert lexical.gives_what_is_asked("What is the default timeout?", "Defaults to five.")


def test_a_quoted_list_item_carries_a_marker_per_claim_the_verifier_reads() -> None:
    item = "Keep-Alive. Defaults to 5 seconds. Between requests, connections must receive new data [8]."
    text = cited_quote(item, 2)
    assert (
        text
        == "Keep-Alive. Defaults to 5 seconds. [2] Between requests, connections must receive new data. [2]"
    )
    claims = [(claim, cites) for _, claim, cites in split_answer(text)]
    assert claims == [
        ("Keep-Alive. Defaults to 5 seconds.", (2,)),
        ("Between requests, connections must receive new data.", (2,)),
    ]
    assert cited_quote("Set the maximum size. Default: 5.", 1) == "Set the maximum size. Default: 5. [1]"


def test_a_sentence_introducing_code_goes_with_it() -> None:
    code = '```python\nclient = TestClient(app)\n\n# Set headers. For all.\nclient.headers = {"A": "b"}\n```'
    program = "```python\n" + "x = 1\n" * 40 + "```"
    text = (
        f"For example, to set headers on the TestClient you can do:\n\n{code}\n\n"
        f"A whole program follows:\n\n{program}\n\n"
        "Read the first argument:\n\n```python\nsys.argv[1]\n```\n\nThen it raises an error.\n\n"
        "To send files, write:"
    )
    found = [c.text for c in candidate_sentences([hit(text)])]
    assert found == [
        f"For example, to set headers on the TestClient you can do:\n\n{code}",
        code,  # the block alone too, read with its introduction as the sentence before it
        # A program too long to quote is no unit (its introduction alone is), nor code with a bracketed
        # number (it would read as a citation marker).
        "A whole program follows:",
        "Read the first argument:",
        "Then it raises an error.",
        "To send files, write:",  # what it introduces is not in this chunk
    ]
    # Where the next chunk, with the block, was retrieved too, the introduction goes only with its block.
    block = "```python\nclient.post('/form', files=files)\n```"
    ending, next_chunk = "It raises on a failure. To send files, write:", f"To send files, write:\n\n{block}"
    both = candidate_sentences([hit(ending, 100), hit(next_chunk, 100 + ending.index("To send"))])
    assert [c.text for c in both] == ["It raises on a failure.", next_chunk, block]


def test_a_sentence_right_before_code_is_a_unit_with_it_and_alone() -> None:
    # HTTPX's quickstart leads into its JSON example without a colon; the block alone lacks "JSON".
    lead = "For more complicated data structures you'll often want to use JSON encoding instead."
    code = '```pycon\n>>> r = httpx.post("https://httpbin.org/post", json=data)\n```'
    row = "Q1.1 2.7 9.9 1.0 69.7 107.2 Q1.2 2.0 11.0 1.0 36.0 50.8"
    text = f"{lead}\n\n{code}\n\n{row}\n\n{code}"
    found = [c.text for c in candidate_sentences([hit(text)])]
    # A table row before a block is no lead-in: it stays debris.
    assert found == [f"{lead}\n\n{code}", lead, code, code]
    led_in, alone, block = candidate_sentences([hit(text)])[:3]
    # A bare block going along with its lead-in is quoted with it; a best sentence is never widened.
    assert widens(led_in, block) and not widens(led_in, alone) and not widens(block, led_in)


def test_a_sentence_ending_in_an_ellipsis_before_code_introduces_it() -> None:
    # HTTPX's docs introduce their examples so: "... but you need to do so explicitly..." then the code.
    code = "```python\nclient = httpx.Client(follow_redirects=True)\n```"
    intro = "You can still enable redirects, but you need to do so explicitly..."
    found = [c.text for c in candidate_sentences([hit(f"{intro}\n\n{code}\n\nThe chunk ends right here...")])]
    assert found == [f"{intro}\n\n{code}", code, "The chunk ends right here..."]
    text = cited_quote(found[0], 2)
    assert text == f"{intro} {code} [2]"
    ((_, claim, cites),) = split_answer(text)
    assert cites == (2,) and claim.startswith(intro)


def test_a_quoted_code_block_keeps_its_lines_and_one_marker() -> None:
    code = '```python\nclient = TestClient(app)\n\n# Set headers. Then send.\nclient.get("/")\n```'
    text = cited_quote(f"You can do:\n\n{code}", 1)
    assert text == f"You can do: {code} [1]"
    ((_, claim, cites),) = split_answer(text)
    assert cites == (1,) and claim.startswith("You can do: ```python client = TestClient(app)")


def test_a_code_block_is_quoted_with_the_sentence_introducing_it() -> None:
    text = "By default, hidden files are skipped. To search them, use the `-H` option:\n```bash\nfd -H x\n```"
    block = text.index("```")
    assert text[introduction_start(text, block) :].startswith("To search them, use the `-H` option:")
    # A document's first sentence is quoted whole (the look-back once began two characters in).
    first = "To send files, write:\n\n```python\nx = 1\n```"
    assert introduction_start(first, first.index("```")) == 0
    # No introduction: a sentence not ending in ":", or text between it and the block.
    plain = "Hidden files are skipped.\n```bash\nfd -H x\n```"
    assert introduction_start(plain, plain.index("```")) == plain.index("```")
    gap = "Use this:\n\nIt is short.\n\n```bash\nfd -H x\n```"
    assert introduction_start(gap, gap.index("```")) == gap.index("```")
    # A code block just before: its closing fence does not open one.
    listing = "fd x --an-option\n" * 30  # longer than the 400 characters looked back over
    two = f"First:\n```bash\n{listing}```\n\nThen, to search hidden files:\n```bash\nfd -H x\n```"
    second = two.rindex("```bash")
    assert two[introduction_start(two, second) :].startswith("Then, to search hidden files:")


def test_an_example_program_after_the_answer_does_not_tag_along() -> None:
    best = Candidate(hit("x"), 0, 10, "Uses a 307 status code by default.", "")
    code = Candidate(hit("x"), 11, 40, "```python\nRedirectResponse(url='/')\n```", best.text)
    after = Candidate(hit("x"), 11, 40, "It is cached.", best.text)
    assert not adjoins(code, best)
    assert adjoins(after, best) and adjoins(best, after)


def test_a_runner_up_scored_nearly_as_high_as_the_best_goes_along() -> None:
    def never(score: float) -> bool:
        return False

    def scored(text: str, score: float, start: int) -> Candidate:
        candidate = Candidate(hit("x"), start, start + len(text), text, "")
        candidate.judgment = AnswerJudgment(score)
        return candidate

    best = scored("The user can count the errors with errors.count().", 0.25, 0)
    close = scored("The user calls errors.persist() to keep the RDD in memory.", 0.25 * RUNNER_UP_SHARE, 500)
    far = scored("Spark runs on Mesos.", 0.25 * RUNNER_UP_SHARE - 0.01, 900)
    assert goes_along(close, best, never) and not goes_along(far, best, never)
    # On encyclopedic text the best one stands out and is quoted alone, unless the judge says the other
    # answers too.
    standout = scored("The bridge opened in 1955.", 0.9, 0)
    assert not goes_along(close, standout, never)
    assert goes_along(close, standout, lambda score: score >= 0.1)


def test_an_abstention_shows_the_closest_sentences_one_per_section() -> None:
    sections = ["## Pause\n\n", "The pause sets the wait. ", "The default value is 200.\n\n"]
    sections += ["## Step\n\n", "The step sets the speed.\n\n", "## Modes\n\n", "Two modes exist."]
    text = "".join(sections)
    headings = [Heading(text.index(f"## {t}"), 2, t) for t in ("Pause", "Step", "Modes")]
    source = SourceText(text, headings)

    class Sources:
        def source(self, source_id: str) -> SimpleNamespace:
            return SimpleNamespace(text=source)

    chunk = Hit("c1", text, "s1", "manual.md", "Manual", 0, len(text), None, 1.0)
    best_first = ["The pause sets the wait.", "The default value is 200.", "Two modes exist."]
    best_first.append("The step sets the speed.")
    ranked = [Candidate(chunk, text.index(s), text.index(s) + len(s), s, "") for s in best_first]
    closest = closest_passages(ranked, Sources())  # type: ignore[arg-type]
    # Best first, one per section (the default shares the pause's), each quoted exactly, numbered from 1.
    assert [c["quote"] for c in closest] == [
        "The pause sets the wait.",
        "Two modes exist.",
        "The step sets the speed.",
    ]
    assert [c["n"] for c in closest] == [1, 2, 3] and len(closest) == CLOSEST_SHOWN
    assert all(text[c["start"] : c["end"]] == c["quote"] for c in closest)
    assert closest[0]["location"].startswith("§ Pause") and closest[1]["location"].startswith("§ Modes")
    assert closest_passages([], Sources()) == []  # type: ignore[arg-type]
    # A source without headings: one per passage (chunk) instead.
    source = SourceText(text.replace("## ", "   "))
    other = Hit("c2", text, "s1", "manual.md", "Manual", 0, len(text), None, 1.0)
    ranked[2].hit = other
    assert [c["quote"] for c in closest_passages(ranked, Sources())] == [  # type: ignore[arg-type]
        "The pause sets the wait.",
        "Two modes exist.",
    ]


def test_a_runner_up_saying_the_same_words_again_is_not_quoted() -> None:
    sentence = "The logging channel could be a bottleneck."
    best = Candidate(hit("x"), 0, len(sentence), sentence, "")
    drawn_twice = Candidate(hit("x"), 900, 900 + len(sentence) + 1, sentence.replace(" ", "\n", 1), "")
    overlapping = Candidate(hit("x"), 10, 60, "channel could be a bottleneck. It is rare.", "")
    elsewhere = Candidate(hit("x"), 900, 940, "The channel carries log entries.", "")
    assert repeats(drawn_twice, best) and repeats(overlapping, best)
    assert not repeats(elsewhere, best)


def test_a_chunk_opening_inside_a_code_block_cut_between_chunks_reads_it_as_code() -> None:
    log = "\n".join(f"DEBUG [17:27:{n:02}] httpcore - step {n}" for n in range(30))
    listing = "  -d, --max-depth <depth>   Set maximum search depth (default: none)"
    source = (
        "To see it, run:\n\n```python\nhttpx.get(url)\n```\n\n"
        f"It prints:\n\n```\n{log}\n{listing}\n```\n\nEach line names its logger.\n\n```\nx = 1\n```"
    )

    class Sources:
        def source(self, source_id: str) -> SimpleNamespace:
            return SimpleNamespace(text=source)

    def chunk(start: int, end: int) -> Hit:
        return Hit(f"c{start}", source[start:end], "s1", "logging.md", "Logging", start, end, None, 1.0)

    inside = chunk(source.index("DEBUG [17:27:20]"), len(source))
    outside = [chunk(0, len(source)), chunk(source.index("Each"), len(source))]
    assert chunks_inside_code([inside, *outside], Sources()) == {inside.chunk_id}  # type: ignore[arg-type]
    # The rest of the block is code, its option lines aside; after its closing fence, prose is prose.
    found = [c.text for c in candidate_sentences([inside], in_code=frozenset({inside.chunk_id}))]
    led_in = "Each line names its logger.\n\n```\nx = 1\n```"  # the sentence with the block it leads into
    assert found == [listing.strip(), led_in, "Each line names its logger.", "```\nx = 1\n```"]
    # Read alone, the closing fence would pair with the next opening one: log lines read as a sentence.
    assert any(text.startswith("DEBUG") for text in [c.text for c in candidate_sentences([inside])])


def test_the_exact_names_a_question_gives_are_found() -> None:
    assert named_terms("Can I use --reload and --workers together?") == ["--reload", "--workers"]
    assert named_terms('What is "System X" in the paper? Is `max_age` the -M option?') == [
        "system x",
        "max_age",
        "-M",  # options are case-sensitive: "-M" is not "-m"
    ]
    assert named_terms("How do I unset HTTP_PROXY?") == ["http_proxy"]
    # Hyphenated words are not options.
    assert named_terms("How much faster was the column-store than C-Store?") == []


def test_the_judge_also_reads_the_sentences_holding_the_rare_terms_of_the_question() -> None:
    # Every sentence of a manual names its command, so the bi-encoder puts them all close to the
    # question; the one answering holds the question's other terms and would come last.
    close = [
        f"The pcre2grep command reads option {n} from its command line." for n in range(JUDGED_SENTENCES + 3)
    ]
    answer = "Exit status is 0 if any matches were found, 1 if no matches were found."
    candidates = candidate_sentences([hit(" ".join([*close, answer]))])
    question = "What exit status does pcre2grep return when nothing matched?"
    weights = lexical.question_weights(question, lambda terms: dict.fromkeys(terms, 1), 10)
    picked = shortlist(question, candidates, weights)
    assert len(picked) == JUDGED_SENTENCES
    assert picked[: JUDGED_SENTENCES - COVERAGE_PLACES] == candidates[: JUDGED_SENTENCES - COVERAGE_PLACES]
    assert answer in [c.text for c in picked[JUDGED_SENTENCES - COVERAGE_PLACES :]]
    assert shortlist(question, candidates[:3], weights) == candidates[:3]


def test_the_judge_also_reads_the_closest_sentence_giving_what_is_asked() -> None:
    # HTTPX's docs: the sentences about timeouts come closer to the question than the one with the number.
    names = "connect read write pool stream upload download redirect proxy handshake close".split()
    close = [f"HTTPX applies timeouts to every {name} operation it makes." for name in names]
    number = "The default timeout for network inactivity is five seconds."
    candidates = candidate_sentences([hit(" ".join([*close, "Servers wait long.", number]))])
    question = "How long will httpx wait before giving up on a request?"
    weights = lexical.question_weights(question, lambda terms: dict.fromkeys(terms, 1), 10)
    picked = [c.text for c in shortlist(question, candidates, weights)]
    assert len(picked) == JUDGED_SENTENCES + 1 and picked[-1] == number
    # A question asking for no quantity, or one whose shortlist states one already, gets no such place.
    assert len(shortlist("Why does httpx wait?", candidates, weights)) == JUDGED_SENTENCES
    assert shortlist(question, candidates[-3:], weights) == candidates[-3:]


def test_a_sentence_naming_what_the_question_names_goes_first() -> None:
    text = (
        "Uvicorn supports two versions of auto-reloading behavior. "
        "Run several worker processes for production. "
        "The `--reload` and `--workers` arguments are mutually exclusive."
    )
    candidates = candidate_sentences([hit(text)])
    ordered = named_first(named_terms("Can I use --reload and --workers together?"), candidates)
    assert ordered[0].text.startswith("The `--reload`")
    assert ordered[1:] == candidates[:2]  # the rest keep their order
    assert named_first(named_terms("Can I reload with several workers?"), candidates) == candidates
    # A name in the sentence before counts: the option's item names it, the next sentence answers.
    assert lexical.named_share(["--workers"], "It defaults to 1.", "The `--workers` option.") == 1.0
    assert lexical.named_share(["--workers", "--reload"], "Use --workers.") == 0.5
    assert lexical.named_share(["-H"], "This is the output of `fd -h`.") == 0.0
    assert lexical.named_share(["system x"], 'We call it "System X".') == 1.0
    # Names are found whole: a quoted "it" is not in "with", "--work" is not "--workers".
    assert lexical.named_share(["it"], "Start with a clean tree.") == 0.0
    assert lexical.named_share(["--work"], "Use --workers 4.") == 0.0
    assert lexical.named_share(["--max-columns"], "Pass --max-columns=150 on the command line.") == 1.0


def test_each_option_of_a_help_listing_is_a_candidate() -> None:
    listing = (
        "Options:\n"
        "  -H, --hidden                Search hidden files and directories\n"
        "  -d, --max-depth <depth>     Set maximum search depth (default: none)\n"
        "  -t, --type <filetype>       Filter by type: file (f), directory (d),\n"
        "                              symlink (l), executable (x)\n"
        "      --changed-within <dur>  Filter by file modification time"
    )
    found = [c.text for c in candidate_sentences([hit(listing)])]
    assert "-d, --max-depth <depth>     Set maximum search depth (default: none)" in found
    # An option's description goes on in the lines indented under it; the next option is not part of it.
    (typed,) = [t for t in found if t.startswith("-t, --type")]
    assert typed.endswith("executable (x)")
    assert "--changed-within <dur>  Filter by file modification time" in found


def test_prose_wrapped_before_an_option_name_is_no_option_entry() -> None:
    # pcre2grep's man page: entries open flush left after a blank line; its prose wraps before names.
    page = (
        "Blank lines are ignored unless the\n"
        "--posix-pattern-file option is also provided. An empty file contains no\n"
        "patterns and therefore matches nothing.\n\n"
        "--posix-pattern-file\n"
        "When patterns are provided with the -f option, do not trim white space."
    )
    found = [c.text for c in candidate_sentences([hit(page)])]
    assert not [t for t in found if t.endswith("contains no")]
    assert (
        "--posix-pattern-file\nWhen patterns are provided with the -f option, do not trim white space."
        in found
    )
    assert "An empty file contains no\npatterns and therefore matches nothing." in found


def test_a_short_answer_is_shown_only_where_it_answers() -> None:
    assert lexical.short_answer_fits("How long is an idle connection kept?", "5 seconds")
    assert lexical.short_answer_fits("Which EC2 nodes were used?", "m1.xlarge EC2 nodes")
    assert not lexical.short_answer_fits("Can I use --reload and --workers together?", "mutually exclusive")
    # A way or a reason is the sentence, not a span of it.
    assert not lexical.short_answer_fits("How does a Spark user ask for a checkpoint?", "API")
    assert not lexical.short_answer_fits("Why did Tesla move to New York?", "to work for Edison")
    assert not lexical.short_answer_fits("In which release was pcre2grep's option added?", "pcre2grep")
    # A question asking for a quantity needs a number in its short answer.
    assert not lexical.short_answer_fits(
        "How much does the invisible join improve performance?", "between-predicate rewriting"
    )
    # A description is the sentence too; what a thing is called ("What did ... release?") keeps its span.
    assert not lexical.short_answer_fits("What does the --follow flag do?", "ripgrep can follow symlinks")
    assert lexical.short_answer_fits("What did Beyonce release in 2003?", "Dangerously in Love")
    # A bare number answers only a question asking for a quantity.
    assert not lexical.short_answer_fits("Which configuration source has the highest priority?", "five")
    assert lexical.short_answer_fits("Which status code does RedirectResponse use by default?", "307")
    # A span cutting through inline code is a fragment.
    assert not lexical.short_answer_fits("What is the largest message?", "ws-max-size <int>` - Set the size")
    # Nor a pointer to a figure, nor an option for a question that does not ask for one.
    assert not lexical.short_answer_fits("Which product is System X?", "Figure 5")
    assert not lexical.short_answer_fits("What is fd's default maximum search depth?", "-d")
    assert lexical.short_answer_fits("Which flag sets how deep fd searches?", "--max-depth")


def test_a_short_answer_the_judge_barely_believes_in_is_not_shown() -> None:
    question = "What states can a server be in?"
    sentence = "Safety: the key property is that no two servers apply different commands."

    def best(score: float, span_score: float) -> Candidate:
        candidate = Candidate(hit(sentence), 0, len(sentence), sentence, "")
        candidate.judgment = AnswerJudgment(score, (0, 6), span_score)
        return candidate

    assert short_answer(question, best(0.34, 0.09)) == ""  # 0.03: a guess
    sure = SHORT_ANSWER_LIKELIHOOD / 0.5
    assert short_answer(question, best(0.5, sure)) == "Safety"
    assert short_answer(question, best(0.5, sure * 0.99)) == ""


def test_quotes_with_only_spaces_between_them_are_one_quote() -> None:
    text = "To find it, use this command:\n\npcre2grep -M 'a\\s+b' <file>\n\nOther text."
    intro = (hit(text, 0), 0, text.index(":") + 1)
    command = text.index("pcre2grep")
    assert runs_into(text, intro, hit(text, 0), command)
    assert not runs_into(text, intro, hit(text, 0), text.index("Other"))  # not right after it
    other_source = Hit("c2", text, "s2", "b.md", "B", 0, len(text), None, 1.0)
    assert not runs_into(text, intro, other_source, command)
    cut = (hit(text, 0), 0, text.index("command") - 1)  # text between them: two quotes
    assert not runs_into(text, cut, hit(text, 0), text.index(":") + 3)
    # A PDF's sentence cut without its full stop, then the rest: one quote, or one claim with two markers.
    pdf = "clocks using NTP\nand measured the mean time to recovery (MTTR)."
    assert runs_into(pdf, (hit(pdf, 0), 0, pdf.index("\n")), hit(pdf, 0), pdf.index("and"))


def test_a_code_fences_language_is_no_short_answer() -> None:
    text = "or in `docutils.conf`:\n```ini\nmyst-suppress-warnings = myst.xref_missing\n```"
    assert on_fence_line(text, text.index("ini\n"))
    assert not on_fence_line(text, text.index("myst-suppress"))
    assert not on_fence_line(text, text.index("docutils"))
    sentence = "The config lives in `docutils.conf` next to the sources."
    best = _judged(sentence, 0.9, 0.8)
    best.judgment = AnswerJudgment(0.9, (sentence.index("`docutils"), sentence.index(" next")), 0.8)
    assert short_answer("Where does the config live?", best) == "`docutils.conf`"
    block = "```bash\n$ uvicorn main:app --workers 4\n```"
    best = _judged(block, 0.9, 0.8)
    best.judgment = AnswerJudgment(0.9, (block.index("$"), block.index(":app")), 0.8)
    assert short_answer("What command runs four workers?", best) == ""  # a fragment of a quoted block


def test_sentences_must_state_the_kind_of_thing_asked_for() -> None:
    many = "How many bytes of buffered data trigger the high water mark?"
    assert not lexical.states_what_is_asked(
        many, ["If the write buffer passes a high water mark, reading pauses."]
    )
    assert lexical.states_what_is_asked(many, ["Unrelated.", "The high water mark is 64 KiB."])
    default = "What is the largest request body uvicorn accepts by default?"
    assert not lexical.states_what_is_asked(default, ["Uvicorn strips any response body from HEAD requests."])
    assert lexical.states_what_is_asked(default, ["Keep-Alive. Defaults to 5 seconds."])
    # A digit inside a name states no quantity: a sentence naming pcre2grep does not give what "what exit
    # status" asks for.
    status = "What exit status does pcre2grep return when nothing matched?"
    assert not lexical.gives_what_is_asked(status, "Numbered callouts are ignored by pcre2grep.")
    assert lexical.gives_what_is_asked(status, "Exit status is 0 if any matches were found.")
    assert lexical.states_quantity("Build it for v2.0 with exit(0).")
    assert not lexical.states_quantity("It runs on x86 and m1.xlarge nodes; see PCRE2GREP_RC.")
    # Other questions are not checked by kind.
    assert lexical.states_what_is_asked("How long does it take?", ["It takes months."])


def test_a_sentence_the_judge_gives_no_answer_answers_nothing() -> None:
    question = "What encryption protects chunk data on disk?"
    close = "Each chunkserver uses checksumming to detect corruption of stored data."
    assert not could_answer(question, [_judged(close, LEAST_ANSWER_SCORE - 0.01, 0.9)])
    assert could_answer(question, [_judged(close, LEAST_ANSWER_SCORE, 0.9)])
    # The runner-up is quoted too when it goes along: the best one ranked first for naming the question's
    # option ("-v") or stating a number, the judge's answer may be the runner-up.
    ranked = [_judged(close, 0.05, 0.9), _judged("Chunks are encrypted with AES.", 0.6, 0.5)]
    assert could_answer(question, ranked)
    assert not could_answer(question, [*ranked[:1], _judged(close, 0.05, 0.8), *ranked[1:]])
    # Above the least score, the best sentences must still state what kind of thing is asked for.
    many = "How many replicas does GFS keep?"
    assert not could_answer(many, [_judged("GFS keeps replicas on chunkservers.", 0.8, 0.9)])
    assert could_answer(many, [_judged("GFS keeps three replicas by default.", 0.8, 0.9)])


class _Store:
    """BM25 document frequencies over ``documents``, as the gate reads them."""

    def __init__(self, *documents: str) -> None:
        self.terms = [set(tokenize(d)) for d in documents]

    def bm25_document_frequency(self, terms: list[str]) -> dict[str, int]:
        return {t: n for t in terms if (n := sum(t in d for d in self.terms))}

    def __len__(self) -> int:
        return len(self.terms)


def _judged(text: str, score: float, closeness: float) -> Candidate:
    c = Candidate(hit(text), 100, 100 + len(text), text, "", score=closeness)
    c.judgment = AnswerJudgment(score)
    return c


def test_the_gate_weighs_how_much_of_the_question_the_passages_hold() -> None:
    question = "What encryption protects chunk data on disk?"
    stored = "Chunkservers store chunks as Linux files."
    encrypted = "Chunk data on disk is protected by encryption with AES."
    store = _Store(stored, encrypted, "The master keeps metadata in memory.", "Leases time out.")
    # The same closeness, answer score and passage similarity: only what the passages hold of the
    # question differs.
    weights = weighted_terms(question, store)
    lacking = gate_signals(question, weights, [_judged(stored, 0.4, 0.7)], [hit(stored)], 0.6)
    holding = gate_signals(question, weights, [_judged(encrypted, 0.4, 0.7)], [hit(encrypted)], 0.6)
    assert set(lacking) == set(GATE_SIGNALS) == set(shipped_gate().signals)
    assert lacking["best_passage_coverage"] < 0.25 and holding["best_passage_coverage"] == 1.0
    assert (lacking["closeness"], lacking["answer"], lacking["passage_similarity"]) == (0.7, 0.4, 0.6)
    assert not answers_at_all(lacking) and answers_at_all(holding)


def test_a_sentence_holding_every_name_asked_about_counts_as_close() -> None:
    question = "What does the --follow flag do?"
    text = "The search can follow symbolic links with the `--follow` flag."
    store = _Store(text, "Other text.")
    far = [_judged(text, 0.6, 0.3)]
    weights = weighted_terms(question, store)
    assert gate_signals("What does it do?", weights, far, [hit(text)], 0.5)["closeness"] == 0.3
    assert gate_signals(question, weights, far, [hit(text)], 0.5)["closeness"] == NAMED_CLOSENESS


def test_a_passage_without_retrieval_s_similarity_gets_the_bi_encoder_s() -> None:
    # A BM25-only hit, or an app pipeline's, carries no dense similarity: read as 0, the gate would be
    # outside anything it was fitted on.
    class Embedder:
        def embed_sentences(self, texts: list[str]) -> np.ndarray:
            return np.array([[1.0, 0.0] if t.endswith("?") else [0.8, 0.6] for t in texts])

    judge = SimpleNamespace(embedder=Embedder())
    assert passage_similarity("Which?", [hit("a", similarity=0.3), hit("b", similarity=0.5)], judge) == 0.5
    assert passage_similarity("Which?", [hit("a", similarity=0.3), hit("b")], judge) == pytest.approx(0.8)


def test_the_gate_reads_the_names_a_question_gives() -> None:
    # Capitalised words after the first, and numbers; "I" names nothing ("How do I ...?").
    assert lexical.proper_name_coverage("How do I count options?", "count=True counts them") == 1.0
    assert lexical.proper_name_coverage("Did Chopin leave Warsaw in 1830?", "Chopin left Warsaw.") == 2 / 3
    assert lexical.proper_name_coverage("Who wrote it?", "") == 1.0


def test_question_words_are_not_content_terms() -> None:
    # "what" is in no passage: counted, it would weigh the most and no sentence could cover the question.
    assert lexical.question_terms("What does the --follow flag do?") == ["follow", "flag"]
    assert lexical.question_terms("How many replicas does GFS keep?") == ["replica", "gfs", "keep"]
    # Nor is the "about" of a follow-up made standalone: the sentence on Quorra's reads need not say it.
    assert lexical.question_terms("What about reads in Quorra?") == ["read", "quorra"]
