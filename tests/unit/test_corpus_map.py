"""The corpus map on toy vectors: k found by silhouette, clusters named by their own words (Thai too),
outliers found, t-SNE sampled when asked, and the PNG/HTML/JSON written safely."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from typer.testing import CliRunner

from citegraph.cli import app
from citegraph.eval.corpus_map import (
    MapChunk,
    build_map,
    cluster_terms,
    load_store_chunks,
    save_html,
    save_json,
    save_png,
)

TOPICS = {
    "fruit": "apple banana orchard harvest",
    "space": "rocket orbit launch satellite",
    "music": "violin cello orchestra concert",
}


def toy_corpus(per_topic: int = 20, seed: int = 0) -> tuple[list[MapChunk], np.ndarray]:
    """Three tight blobs of unit vectors in 16-D, each chunk using its topic's words plus shared ones."""
    rng = np.random.default_rng(seed)
    centers = np.eye(16)[:3] * 3.0
    chunks, vectors = [], []
    for t, (topic, words) in enumerate(TOPICS.items()):
        for i in range(per_topic):
            picked = " ".join(rng.choice(words.split(), size=3))
            chunks.append(MapChunk(f"{topic}-{i}", f"{topic}.txt", topic, f"The report said {picked} today."))
            vectors.append(centers[t] + rng.normal(scale=0.3, size=16))
    array = np.asarray(vectors, dtype=np.float32)
    return chunks, array / np.linalg.norm(array, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def toy_map():
    chunks, vectors = toy_corpus()
    return build_map(chunks, vectors, k_range=(2, 6), max_tsne=1000, outliers=3, seed=0)


def test_k_is_the_number_of_blobs(toy_map) -> None:
    assert toy_map.k == 3
    assert toy_map.silhouette > 0.5
    assert toy_map.ks == [2, 3, 4, 5, 6]
    assert toy_map.inertias == sorted(toy_map.inertias, reverse=True)  # more clusters, less inertia
    assert sorted(c.size for c in toy_map.clusters) == [20, 20, 20]
    assert toy_map.pca.shape == (60, 2) and toy_map.tsne.shape == (60, 2)


def test_clusters_are_named_by_their_own_words(toy_map) -> None:
    for cluster in toy_map.clusters:
        topic = cluster.example_source.split(".txt")[0]
        assert set(cluster.terms[:4]) == set(TOPICS[topic].split()), cluster
        assert "report" not in cluster.terms and "said" not in cluster.terms  # shared by every chunk


def test_outlier_is_the_chunk_far_from_its_centroid() -> None:
    chunks, vectors = toy_corpus()
    vectors[5] = vectors[5] + vectors[25] * 0.9  # a "fruit" chunk pulled half-way to "space"
    vectors[5] /= np.linalg.norm(vectors[5])
    corpus_map = build_map(chunks, vectors, k_range=(3, 3), max_tsne=1000, outliers=2, seed=0)
    assert corpus_map.outliers[0]["chunk_id"] == "fruit-5"
    assert corpus_map.outliers[0]["distance"] > corpus_map.outliers[1]["distance"]


def test_tsne_sample_is_said() -> None:
    chunks, vectors = toy_corpus()
    corpus_map = build_map(chunks, vectors, k_range=(2, 4), max_tsne=30, seed=0)
    assert corpus_map.tsne.shape == (30, 2) and len(set(corpus_map.tsne_index)) == 30
    assert any("sample of 30 of 60" in note for note in corpus_map.notes)


def test_given_k_is_used_and_said() -> None:
    chunks, vectors = toy_corpus()
    corpus_map = build_map(chunks, vectors, k_range=(2, 4), max_tsne=1000, seed=0, k=6)
    assert corpus_map.k == 6 and len(corpus_map.clusters) == 6 and 6 in corpus_map.ks
    assert corpus_map.silhouette == corpus_map.silhouettes[corpus_map.ks.index(6)]
    assert any("best silhouette in the search was at k=3" in note for note in corpus_map.notes)
    with pytest.raises(ValueError, match="k=60"):
        build_map(chunks, vectors, k=60)


def test_too_few_chunks() -> None:
    chunks, vectors = toy_corpus(per_topic=1)
    with pytest.raises(ValueError, match="at least 4"):
        build_map(chunks, vectors)


def test_thai_clusters_get_thai_names() -> None:
    texts = ["แมว กิน ปลา ทุก วัน"] * 3 + ["รถไฟ วิ่ง เร็ว มาก"] * 3
    names = cluster_terms(texts, np.array([0, 0, 0, 1, 1, 1]), top=5)
    assert "แมว" in names[0] and "รถไฟ" in names[1]
    assert not set(names[0]) & set(names[1])


def test_outputs_are_written_and_text_is_escaped(toy_map, tmp_path: Path) -> None:
    hostile = MapChunk("evil", "<b>evil</b>.txt", "", "</script><script>alert(1)</script> & more")
    toy_map.chunks[0] = hostile
    save_png(toy_map, tmp_path / "m.png", "toy")
    save_html(toy_map, tmp_path / "m.html", "toy <map>")
    summary = save_json(toy_map, tmp_path / "m.json", "store")

    assert (tmp_path / "m.png").read_bytes()[:4] == b"\x89PNG"
    page = (tmp_path / "m.html").read_text()
    assert "<script>alert" not in page and "<b>evil" not in page  # chunk text and names stay data
    assert "toy &lt;map&gt;" in page
    assert "src=" not in page and "http" not in page  # self-contained: nothing fetched
    assert page.count("<circle") == 2 * 60  # PCA and t-SNE views
    assert page.count("<tr>") == 1 + 3 + 1 + 3  # clusters and outliers, each with a header row
    data = page.split('type="application/json">', 1)[1].split("</script>", 1)[0]
    assert json.loads(data)[0]["t"].startswith("</script>")  # the JSON still decodes to the real text
    assert json.loads((tmp_path / "m.json").read_text()) == summary
    assert summary["k"] == 3 and len(summary["k_search"]) == 5 and summary["chunks"] == 60


def test_load_store_chunks_reads_stored_vectors() -> None:
    vectors = {"a": [1.0, 0.0], "b": [0.0, 1.0]}
    store = SimpleNamespace(
        sources=lambda: [SimpleNamespace(source_id="s1", path="/docs/notes.md", title="Notes")],
        manifest=SimpleNamespace(
            chunks=lambda: [SimpleNamespace(chunk_id=c, source_id="s1", text=f"text {c}") for c in vectors]
        ),
        embeddings=lambda ids: np.asarray([vectors[i] for i in ids], dtype=np.float32),
    )
    chunks, array = load_store_chunks(store)
    assert [c.source for c in chunks] == ["notes.md", "notes.md"] and chunks[1].text == "text b"
    np.testing.assert_array_equal(array, np.eye(2, dtype=np.float32))


def test_cli_refuses_a_missing_store(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["lab", "map", "--store", str(tmp_path / "none"), "--out", str(tmp_path / "m")]
    )
    assert result.exit_code == 2
    assert "no store" in result.output
    assert not (tmp_path / "none").exists()  # a read-only command creates nothing
