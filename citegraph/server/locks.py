"""Per-thread run locks shared by every API worker, so one conversation never has two runs at once.

A lock is held for a whole run. Both kinds die with their holder, which is what lets a worker tell a run that
is still going ("running") from one whose worker was killed mid-way ("incomplete", resumable from its last
checkpoint):

- ``FileThreadLocks`` (the SQLite default; workers on one machine): ``flock`` on striped lock files beside
  the checkpoints; the kernel drops a lock when its process dies.
- ``PostgresThreadLocks`` (the scale-out path): session advisory locks; Postgres drops them when the
  holder's connection closes, so workers on other machines see a dead worker's locks go too.
"""

from __future__ import annotations

import fcntl
import threading
import zlib
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Protocol

from citegraph.checkpoint import ADVISORY_NAMESPACE, is_postgres, sqlite_path
from citegraph.settings import Settings

_STRIPES = 1024  # lock files; two threads that share one only wait for each other


def _key(thread_id: str) -> int:
    return zlib.crc32(thread_id.encode())


class ThreadLocks(Protocol):
    """Held around every run of a thread; ``busy`` tells whether some worker holds it now."""

    def hold(self, thread_id: str) -> AbstractContextManager[None]: ...

    def busy(self, thread_id: str) -> bool: ...


class FileThreadLocks:
    """``flock`` on ``<dir>/NNNN.lock`` (striped by thread id), plus a thread lock per stripe in-process."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        # flock is per open file: threads of one process would each open the file and exclude each other
        # too, but a thread lock first makes waiting in-process cheap and fair.
        self._local = [threading.Lock() for _ in range(_STRIPES)]

    def _path(self, stripe: int) -> Path:
        return self.directory / f"{stripe:04d}.lock"

    @contextmanager
    def hold(self, thread_id: str) -> Iterator[None]:
        stripe = _key(thread_id) % _STRIPES
        with self._local[stripe], open(self._path(stripe), "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def busy(self, thread_id: str) -> bool:
        stripe = _key(thread_id) % _STRIPES
        if not self._local[stripe].acquire(blocking=False):
            return True
        try:
            with open(self._path(stripe), "a+") as handle:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    return True
                fcntl.flock(handle, fcntl.LOCK_UN)
                return False
        finally:
            self._local[stripe].release()


class PostgresThreadLocks:
    """``pg_advisory_lock(namespace, crc32(thread id))`` on a connection of its own for the run."""

    def __init__(self, url: str) -> None:
        self.url = url

    def _connect(self):
        import psycopg

        return psycopg.connect(self.url, autocommit=True)

    @staticmethod
    def _advisory_key(thread_id: str) -> int:
        return _key(thread_id) - 2**31  # the second key of pg_advisory_lock is an int4

    @contextmanager
    def hold(self, thread_id: str) -> Iterator[None]:
        key = self._advisory_key(thread_id)
        with self._connect() as connection:
            connection.execute("SELECT pg_advisory_lock(%s, %s)", (ADVISORY_NAMESPACE, key))
            try:
                yield
            finally:
                connection.execute("SELECT pg_advisory_unlock(%s, %s)", (ADVISORY_NAMESPACE, key))

    def busy(self, thread_id: str) -> bool:
        key = self._advisory_key(thread_id)
        with self._connect() as connection:
            query = "SELECT pg_try_advisory_lock(%s, %s)"
            row = connection.execute(query, (ADVISORY_NAMESPACE, key)).fetchone()
            if row and row[0]:
                connection.execute("SELECT pg_advisory_unlock(%s, %s)", (ADVISORY_NAMESPACE, key))
                return False
            return True


def thread_locks_for(settings: Settings) -> ThreadLocks:
    """Advisory locks in the Postgres that holds the checkpoints, else lock files beside the SQLite ones."""
    if is_postgres(settings):
        return PostgresThreadLocks(settings.checkpoint_url.strip())
    return FileThreadLocks(sqlite_path(settings).parent / "thread-locks")
