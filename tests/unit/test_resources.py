"""The process-wide cache: one build per key under concurrency, other keys not blocked, clear_shared."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from citegraph.resources import clear_shared, shared


@pytest.fixture(autouse=True)
def _clean() -> Iterator[None]:
    clear_shared()
    yield
    clear_shared()


def test_concurrent_callers_of_one_key_build_once() -> None:
    builds = 0
    start = threading.Barrier(16)

    def build() -> object:
        nonlocal builds
        builds += 1
        time.sleep(0.05)  # long enough that every thread arrives while the build runs
        return object()

    results: list[object] = []

    def ask() -> None:
        start.wait()
        results.append(shared(("test", "one"), build))

    threads = [threading.Thread(target=ask) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert builds == 1
    assert len(results) == 16 and all(r is results[0] for r in results)


def test_a_slow_build_does_not_block_other_keys() -> None:
    release = threading.Event()
    started = threading.Event()

    def slow() -> str:
        started.set()
        release.wait(5)
        return "slow"

    thread = threading.Thread(target=shared, args=(("test", "slow"), slow))
    thread.start()
    started.wait(5)
    t0 = time.perf_counter()
    assert shared(("test", "fast"), lambda: "fast") == "fast"
    assert time.perf_counter() - t0 < 1
    release.set()
    thread.join()
    assert shared(("test", "slow"), lambda: "other") == "slow"


def test_failed_build_is_not_cached_and_clear_forgets() -> None:
    def fail() -> str:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        shared("key", fail)
    assert shared("key", lambda: "built") == "built"
    assert shared("key", lambda: "again") == "built"
    clear_shared()
    assert shared("key", lambda: "again") == "again"
