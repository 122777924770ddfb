"""Which retrieved sentences the extract strategy may answer with (no model needed)."""

from __future__ import annotations

from citegraph.agents.answerer import QUANTITY_WEIGHT, candidate_sentences, cited_quote, ranked_score
from citegraph.agents.verifier import split_answer
from citegraph.models.judge import lexical
from citegraph.retrieval.store import Hit


def hit(text: str, start: int = 100) -> Hit:
    return Hit("c1", text, "s1", "paper.pdf", "Paper", start, start + len(text), 3, 1.0)


def test_a_heading_glued_to_a_sentence_is_left_out_of_the_candidate() -> None:
    text = "Worker Failure\nThe master pings every worker periodically."
    (candidate,) = candidate_sentences([hit(text)])
    assert candidate.text == "The master pings every worker periodically."
    assert candidate.start == 100 + text.index("The master")
    # A line that merely wraps a sentence is not a heading.
    wrapped = "The master\nThen pings every worker that it knows about."
    assert candidate_sentences([hit(wrapped)])[0].text == wrapped


def test_figure_and_table_debris_never_answers() -> None:
    figure = "chunk locations) GFS master File namespace /foo/bar holds the chunk handle."
    table = "Cluster\nA\nB\nChunkservers\n342\n227\nAvailable disk space\n72 TB"
    code = "```python\nclient = httpx.Client(follow_redirects=True)\n```"
    prose = "A default partitioning function is provided that uses hashing (e.g. hash(key) mod R)."
    listed = "2) The master pings every worker periodically."
    found = candidate_sentences([hit(f"{figure}\n\n{table}\n\n{code}\n\n{prose}\n\n{listed}")])
    assert [c.text for c in found] == [code, prose, listed.removeprefix("2) ")]  # the number is no answer


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


def test_reference_markers_and_section_numbers_are_not_quantities() -> None:
    assert lexical.states_quantity("A file is kept for three days.")
    assert lexical.states_quantity("Defaults to 5 seconds.")
    assert not lexical.states_quantity("We use the benchmark [18, 19] described in Section 3.1.")
    assert not lexical.states_quantity("Figure 2 shows the master and its chunkservers.")
    assert not lexical.states_quantity("3. We break down the sources of column-store performance.")


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
    plain = ranked_score(0.5, quantity_match=False)
    assert ranked_score(0.5, quantity_match=True) == plain + QUANTITY_WEIGHT
    assert ranked_score(0.6, quantity_match=False) > plain


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
