"""The judge's code with tiny random models: input formats, span decoding, save/load, the data readers
and a few training steps end to end (skill is measured by benchmarks, not here)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from citegraph.models.judge.data import (
    Collection,
    Example,
    QAItem,
    build_examples,
    corrupted,
    furniture,
    read_folder,
)
from citegraph.models.judge.judge import Judge, answer_pair, best_span, load_tokenizer
from citegraph.models.judge.model import JudgeConfig, from_base, load_judge, save_judge
from citegraph.models.judge.train import HeadBatches, JudgeTraining, span_tokens, train_judge


def test_answer_pair_keeps_the_sentence_before_its_context() -> None:
    assert answer_pair("Who?", "Adler sang.", "She came.") == ("Who?", "Adler sang. [SEP] She came.")
    assert answer_pair("Who?", "Adler sang.") == ("Who?", "Adler sang.")


def test_best_span_picks_the_likeliest_short_span_inside_the_sentence() -> None:
    offsets = [(0, 0), (0, 5), (6, 10), (11, 15), (16, 20), (21, 30)]  # token 5 lies past the sentence
    start = torch.tensor([9.0, 0.0, 5.0, 0.0, 0.0, 9.0])
    end = torch.tensor([9.0, 0.0, 0.0, 6.0, 0.0, 9.0])
    (span, probability) = best_span(start, end, offsets, limit=20)
    assert span == (6, 15)
    assert 0.5 < probability <= 1.0
    assert best_span(start, end, [(0, 0)] * 6, limit=20) is None


def test_span_labels_map_characters_to_tokens(tiny_judge: Judge) -> None:
    sentence = "The relay lasted 129 days and carried the torch 137,000 km."
    encoding = tiny_judge.encode(
        "answer", [answer_pair("How long?", sentence, "Plans were made.")], offsets=True
    )
    first, last = span_tokens(encoding, 0, (17, 25), len(sentence))
    assert tiny_judge.tokenizer.decode(encoding["input_ids"][0][first : last + 1]) == "129 days"


def test_judge_scores_are_probabilities_and_spans_stay_in_their_sentence(tiny_judge: Judge) -> None:
    sentences = ["Irene Adler was born in New Jersey.", "Holmes smoked a pipe all evening long."]
    loose = Judge(tiny_judge.model, tiny_judge.tokenizer, thresholds={"span": 0.0})
    judgments = loose.answers("Where was Adler born?", sentences, ["", sentences[0]])
    assert len(judgments) == 2
    for sentence, judgment in zip(sentences, judgments, strict=True):
        assert 0.0 <= judgment.score <= 1.0
        assert judgment.span is not None
        a, b = judgment.span
        assert 0 <= a < b <= len(sentence)
    assert 0.0 <= tiny_judge.answerable("Where?", sentences) <= 1.0
    assert tiny_judge.answerable("Where?", []) == 0.0
    assert tiny_judge.support(sentences, "Adler was born in New Jersey.").shape == (2,)


def test_bfloat16_autocast_keeps_the_scores_and_returns_float32(tiny_judge: Judge) -> None:
    full = Judge(tiny_judge.model, tiny_judge.tokenizer, bf16=False)
    half = Judge(tiny_judge.model, tiny_judge.tokenizer, bf16=True)
    pairs = [("Where was Adler born?", "Irene Adler was born in New Jersey."), ("Who?", "Holmes smoked.")]
    logits32, _ = full.logits("answer", pairs)
    logits16, spans16 = half.logits("answer", pairs)
    assert logits16.dtype == np.float32 and spans16[0][0].dtype == torch.float32
    assert not np.array_equal(logits32, logits16)  # bfloat16 really ran
    assert logits16 == pytest.approx(logits32, abs=0.05)
    assert half.support(["Adler sang in Warsaw."], "Adler sang.") == pytest.approx(
        full.support(["Adler sang in Warsaw."], "Adler sang."), abs=0.02
    )


def test_a_saved_judge_reloads_with_the_same_outputs(tmp_path: Path, tiny_base: Path) -> None:
    model = from_base(JudgeConfig(layers=1), tiny_base)
    assert all(not p.requires_grad for p in model.encoder.embeddings.parameters())
    save_judge(model, tmp_path / "judge")
    saved = json.loads((tmp_path / "judge" / "judge.json").read_text())
    assert saved["layers"] == 1
    again = load_judge(tmp_path / "judge", tiny_base)
    tokenizer = load_tokenizer()
    before = Judge(model, tokenizer).support(["Adler sang in Warsaw."], "Adler sang.")
    after = Judge(again, tokenizer).support(["Adler sang in Warsaw."], "Adler sang.")
    assert after == pytest.approx(before, abs=2e-3)  # float16 storage
    with pytest.raises(FileNotFoundError, match="no judge"):
        load_judge(tmp_path / "nothing", tiny_base)


def _write_training_sets(folder: Path) -> None:
    context = (
        "Irene Adler was an opera singer. She was born in New Jersey in 1858. "
        "She sang at La Scala. She retired to London in 1887."
    )
    asked = [("Where was Adler born?", "New Jersey"), ("What was Adler?", "an opera singer")]
    squad = {
        "data": [
            {
                "title": "Opera",
                "paragraphs": [
                    {
                        "context": context,
                        "qas": [
                            {
                                "id": str(i),
                                "question": q,
                                "answers": [{"text": a, "answer_start": context.find(a)}],
                            }
                            for i, (q, a) in enumerate(asked)
                        ]
                        + [
                            {"id": "x", "question": "Who taught Adler?", "is_impossible": True, "answers": []}
                        ],
                    }
                ],
            }
        ]
    }
    (folder / "squadlike").mkdir(parents=True)
    (folder / "squadlike" / "train.json").write_text(json.dumps(squad))
    (folder / "nli").mkdir()
    (folder / "nli" / "pairs.tsv").write_text(
        "sentence1\tsentence2\tlabel\n"
        "Adler sang at La Scala in 1880.\tAdler sang at La Scala.\tentailment\n"
        "Adler sang at La Scala.\tAdler was a pianist.\tnot_entailment\n"
    )
    (folder / "selection").mkdir()
    (folder / "selection" / "train.csv").write_text(
        'qtext,label,atext\n"Who sang?",1,"Adler sang at La Scala ."\n"Who sang?",0,"The hall was red ."\n'
    )
    (folder / "eval_only").mkdir()
    (folder / "eval_only" / "test.tsv").write_text("sentence1\tsentence2\tlabel\nA.\tB.\tentailment\n")
    (folder / "notes.csv").write_text("a,b\n1,2\n")


def test_read_folder_recognises_formats_and_never_reads_eval_only(tmp_path: Path) -> None:
    _write_training_sets(tmp_path)
    found = read_folder(tmp_path)
    assert found.counts() == {"squadlike": 3, "nli": 2, "selection": 2}
    assert [item.answers == [] for item in found.qa] == [False, False, True]
    assert any("notes.csv" in s for s in found.skipped)
    assert not any("eval_only" in s for s in found.skipped)


MANUAL = """# Workers

## Restarting

Workers can be restarted one at a time. To restart a worker, send it the HUP signal and wait for the
socket to close. The master keeps the listening socket open, so no request is refused meanwhile.

## Limits

A worker serves at most 1000 requests before it is replaced, a guard against memory leaks.
"""


def _write_labelled_questions(folder: Path, rows: list[dict]) -> None:
    (folder / "written" / "docs").mkdir(parents=True)
    (folder / "written" / "docs" / "manual.md").write_text(MANUAL)
    (folder / "written" / "docs" / "notes.txt").write_text("A document, not a table to train on.\n")
    lines = "".join(json.dumps(row) + "\n" for row in rows)
    (folder / "written" / "questions.jsonl").write_text(lines)


def test_written_questions_become_qa_items_over_the_chunks_ingestion_makes(tmp_path: Path) -> None:
    rows = [
        {
            "doc": "manual.md",
            "question": "How do I restart a worker?",
            # Line breaks of the document fall anywhere in a quote: whitespace is matched loosely.
            "sentence": "To restart a worker, send it the HUP signal and wait for the socket to close.",
            "short": "send it the HUP signal",
        },
        {
            "doc": "manual.md",
            "question": "How much memory may a worker use?",
            "unanswerable": True,
            "near": "a guard against memory leaks",
        },
        {"doc": "manual.md", "question": "Which port?", "sentence": "Port 80 is used.", "short": "80"},
        {"doc": "missing.md", "question": "Who wrote it?", "sentence": "Ann did.", "short": "Ann"},
    ]
    _write_labelled_questions(tmp_path, rows)
    found = read_folder(tmp_path)
    assert found.counts() == {"written": 2}  # the documents under docs/ are not read as training sets
    # A quote the document does not hold, and a document that is not there, leave out their questions only.
    assert len(found.skipped) == 2 and "Which port?" in found.skipped[0] and "missing.md" in found.skipped[1]
    answered, unanswerable = found.qa
    ((start, end),) = answered.answers
    assert answered.context[start:end] == "send it the HUP signal"
    assert answered.context in MANUAL and "Workers can be restarted one at a time." in answered.context
    assert unanswerable.answers == [] and "memory leaks" in unanswerable.context
    train, _ = build_examples(found, held_out_share=0.0)
    positives = [e for e in train if e.head == "answer" and e.label == 1]
    assert len(positives) == 1 and positives[0].text_b.startswith("To restart a worker, send it the HUP")


def test_examples_cover_every_head_with_spans_on_the_answer(tmp_path: Path) -> None:
    _write_training_sets(tmp_path)
    train, held = build_examples(read_folder(tmp_path), held_out_share=0.0)
    assert not held
    heads = {(e.head, e.label) for e in train}
    assert {
        ("answer", 1),
        ("answer", 0),
        ("answerable", 1),
        ("answerable", 0),
        ("support", 1),
        ("support", 0),
    } <= heads
    for example in train:
        if example.span:
            sentence = example.text_b.split(" [SEP] ")[0]
            assert sentence[example.span[0] : example.span[1]] in {"New Jersey", "an opera singer"}


def test_synthetic_negatives_change_what_a_claim_says() -> None:
    rng = random.Random(0)
    claim = "Adler was born in New Jersey in 1858."
    for _ in range(10):
        changed = corrupted(rng, claim, "Holmes met Watson in London.")
        assert changed is not None and changed != claim
    assert corrupted(rng, "and so on", "") is None
    assert furniture(rng, "Irene Adler sang at La Scala.")


def test_train_judge_writes_the_judge_log_plot_and_card(tmp_path: Path, tiny_base: Path) -> None:
    _write_training_sets(tmp_path / "data")
    found = read_folder(tmp_path / "data")
    settings = JudgeTraining(steps=4, batch_size=4, layers=1, eval_every=2, base=tiny_base)
    result = train_judge(found, tmp_path / "run", settings, verbose=False)
    for name in ("judge.safetensors", "judge.json", "log.json", "loss.png", "MODEL_CARD.md"):
        assert (tmp_path / "run" / name).is_file(), name
    assert len(result["history"]["train"]) == 4
    assert set(result["config"]["thresholds"]) >= {"answer", "answerable", "support"}
    assert "squadlike" in (tmp_path / "run" / "MODEL_CARD.md").read_text()
    with pytest.raises(ValueError, match="no training examples"):
        train_judge(Collection(), tmp_path / "empty", settings, verbose=False)


def test_train_judge_goes_on_from_a_saved_judge(tmp_path: Path, tiny_base: Path) -> None:
    _write_training_sets(tmp_path / "data")
    found = read_folder(tmp_path / "data")
    first = JudgeTraining(steps=2, batch_size=4, layers=1, eval_every=2, base=tiny_base)
    train_judge(found, tmp_path / "first", first, verbose=False)
    saved = load_judge(tmp_path / "first", tiny_base).state_dict()
    # The saved judge's one layer wins over --layers 2: training went on from it, not from the base.
    settings = JudgeTraining(
        steps=1, batch_size=4, layers=2, eval_every=1, base=tiny_base, init=tmp_path / "first"
    )
    result = train_judge(found, tmp_path / "second", settings, verbose=False)
    assert result["config"]["layers"] == 1 and result["settings"]["init"] == str(tmp_path / "first")
    went_on = load_judge(tmp_path / "second", tiny_base).state_dict()
    assert went_on.keys() == saved.keys()
    assert all(went_on[k].shape == saved[k].shape for k in saved)


def test_qa_items_whose_answer_crosses_sentences_are_skipped() -> None:
    item = QAItem("s", "What?", "Adler sang. She retired.", [(6, 16)])
    train, _ = build_examples(Collection(qa=[item]), held_out_share=0.0)
    assert not [e for e in train if e.head == "answer" and e.label == 1]


def test_fit_logistic_separates_and_the_stack_uses_it(tiny_judge: Judge) -> None:
    import numpy as np

    from citegraph.models.judge.train import fit_logistic

    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 2))
    y = (x[:, 0] - 2 * x[:, 1] > 0).astype(float)
    w_logit, w_close, bias = fit_logistic(x, y)
    assert w_logit > 0 > w_close and abs(bias) < 1
    judge = Judge(tiny_judge.model, tiny_judge.tokenizer)
    logits = np.array([0.0, 1.0])
    assert judge.probability("answer", logits) == pytest.approx(1 / (1 + np.exp(-logits)))
    judge.model.config.stack["answer"] = [1.0, 2.0, -1.0]
    try:
        assert judge.probability("answer", logits, np.array([0.5, 0.5])) == pytest.approx(
            1 / (1 + np.exp(-(logits + 1.0 - 1.0)))
        )
    finally:
        judge.model.config.stack.clear()


def test_calibrate_fits_a_stack_and_a_threshold_per_head(tmp_path: Path, tiny_judge: Judge, embedder) -> None:
    from citegraph.models.judge.train import calibrate

    _write_training_sets(tmp_path)
    _, held = build_examples(read_folder(tmp_path), held_out_share=1.0)
    by_head: dict[str, list] = {}
    for example in held:
        by_head.setdefault(example.head, []).append(example)
    judge = Judge(tiny_judge.model, tiny_judge.tokenizer, embedder=embedder)
    try:
        report = calibrate(judge, by_head, JudgeTraining())
        assert set(report) == {"answer", "answerable", "support", "span"}
        span = report.pop("span")
        assert span["examples"] >= 1 and 0.0 <= span["shown"] <= 1.0
        assert judge.thresholds["span"] == span["threshold"]
        for head, scores in report.items():
            assert len(judge.config.stack[head]) == 3
            assert 0.0 <= judge.thresholds[head] <= 1.0
            assert {"closeness_auc", "judge_auc", "auc", "accuracy"} <= set(scores)
    finally:
        judge.model.config.stack.clear()


def test_a_missing_judge_is_a_clear_error(tmp_path: Path) -> None:
    from citegraph.errors import ModelNotFoundError
    from citegraph.models.judge.judge import judge_at

    with pytest.raises(ModelNotFoundError, match="citegraph train judge"):
        judge_at(str(tmp_path / "no-judge-here"))


def test_listwise_loss_is_the_log_share_the_answer_misses_beside_a_no_answer_slot() -> None:
    from citegraph.models.judge.listwise import listwise_loss

    scores = torch.tensor([0.0, 0.0, 0.0, 9.0, -9.0])
    answers = torch.tensor([True, False, False, True, False])
    # First list: 1 of 4 equal scores (3 sentences and "no answer" at 0) answers: log 4; second: the
    # answer holds nearly all the mass: 0.
    loss = listwise_loss(scores, [3, 2], answers, [False, False])
    assert loss.item() == pytest.approx(np.log(4) / 2, abs=1e-3)
    # Two answering sentences in one list share the mass: log(4/2).
    both = listwise_loss(torch.zeros(3), [3], torch.tensor([True, True, False]), [False])
    assert both.item() == pytest.approx(np.log(2), abs=1e-5)
    # A question with no answer wants every sentence below the slot: cheap when they are, dear when not.
    none = torch.zeros(2, dtype=torch.bool)
    assert listwise_loss(torch.tensor([-9.0, -9.0]), [2], none, [True]).item() == pytest.approx(0, abs=1e-3)
    assert listwise_loss(torch.tensor([9.0, -9.0]), [2], none, [True]).item() == pytest.approx(9, abs=1e-3)


def test_a_sentence_holds_the_answer_by_its_short_answer_or_the_quote() -> None:
    from citegraph.models.judge.listwise import holds_answer

    holds = holds_answer({"sentence": "To restart a worker, send it the HUP signal.", "short": "HUP signal"})
    assert holds("Send the  HUP signal to it.")
    assert holds("To restart a worker, send it the HUP")  # the answer step cut the quote elsewhere
    assert not holds("Workers can be restarted one at a time.") and not holds("To restart")


def test_head_batches_draw_one_head_a_batch_and_serve_every_example_before_repeating() -> None:
    examples = [Example("answer", f"q{i}", "s", 1, None, "x") for i in range(6)]
    examples += [Example("support", f"c{i}", "p", 0, None, "x") for i in range(4)]
    batches = HeadBatches(examples, {"answer": 0.5, "support": 0.5, "answerable": 0.2}, 2, random.Random(0))
    assert batches.heads == ["answer", "support"]  # no answerable examples: never drawn
    served: dict[str, list[str]] = {"answer": [], "support": []}
    for _ in range(40):
        head, batch = batches.next()
        assert len(batch) == 2 and {e.head for e in batch} == {head}
        served[head] += [e.text_a for e in batch]
    # Each pass over a head's examples serves every one of them once.
    assert sorted(served["answer"][:6]) == [f"q{i}" for i in range(6)]
    assert sorted(served["support"][:4]) == [f"c{i}" for i in range(4)]


def test_train_judge_command_refuses_missing_folders_in_one_line(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from citegraph.cli import app

    train = ["train", "judge", "--out", str(tmp_path / "run")]
    missing = CliRunner().invoke(app, [*train, "--data", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2 and "training data folder does not exist" in missing.output
    rehearse = [*train, "--data", str(tmp_path), "--listwise", "--rehearse", str(tmp_path / "gone")]
    refused = CliRunner().invoke(app, rehearse)
    assert refused.exit_code == 2 and "rehearsal folder does not exist" in refused.output
    assert len(refused.output.strip().splitlines()) == 1 and not (tmp_path / "run").exists()
