"""Servers in subprocesses on free loopback ports, for the tests and the load benchmark: ``citegraph serve``,
and the scale-out pair it can share, a Chroma server (``chroma run``) and a throwaway Postgres cluster.

Each server gets its own session, so ``stop()``/``kill()`` reach its children (uvicorn's workers) through
the process group.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Self

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServedProcess:
    """A server command in a subprocess of its own session on a free loopback port, output in ``log``;
    ready when ``GET health_path`` answers 200; stopped by its PID (its process group)."""

    def __init__(
        self,
        command: Callable[[int], list[str]],
        log: Path,
        health_path: str,
        *,
        cwd: Path = ROOT,
        env: dict[str, str] | None = None,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.health_path = health_path
        with log.open("ab") as output:
            self.process = subprocess.Popen(
                command(self.port),
                cwd=cwd,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pid = self.process.pid

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def wait_ready(self, timeout: float = 240) -> Self:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"the server logging to {self.log} exited ({self.process.returncode}):\n{self.tail()}"
                )
            try:
                if httpx.get(f"{self.url}{self.health_path}", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"{self.url}{self.health_path} did not answer in {timeout}s:\n{self.tail()}")

    def kill(self) -> None:
        """SIGKILL the process group (uvicorn's workers too), as a crash would."""
        if self.process.poll() is None:
            os.killpg(self.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM the process group, SIGKILL it if it lingers, and any children that outlived the leader."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.pid, signal.SIGKILL)
                self.process.wait(timeout=30)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)


class ServerProcess(ServedProcess):
    """``citegraph serve`` over ``store``, with ``api_key`` required of clients."""

    def __init__(
        self, store: Path, log: Path, api_key: str, env: dict[str, str] | None = None, workers: int = 1
    ) -> None:
        self.api_key = api_key

        def command(port: int) -> list[str]:
            return [
                sys.executable,
                "-m",
                "citegraph.cli",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--store",
                str(store),
                "--workers",
                str(workers),
                "--log-level",
                "warning",
            ]

        full_env = {**os.environ, "CITEGRAPH_API_KEY": api_key, **(env or {})}
        super().__init__(command, log, "/healthz", env=full_env)

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


class Unavailable(RuntimeError):
    """This machine lacks what a scale-out server needs (the tests skip on it)."""


def postgres_bin() -> Path:
    """Where ``initdb`` and ``pg_ctl`` live: $CITEGRAPH_PG_BIN, else beside a ``pg_ctl`` on PATH, else
    Debian's ``/usr/lib/postgresql/<version>/bin`` (the newest; not on PATH there)."""
    if os.environ.get("CITEGRAPH_PG_BIN"):
        return Path(os.environ["CITEGRAPH_PG_BIN"])
    on_path = shutil.which("pg_ctl")
    if on_path:
        return Path(on_path).parent
    debian = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
        key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0,
    )
    return debian[-1].parent if debian else Path("/usr/local/bin")


def _as_postgres_user(command: list[str]) -> list[str]:
    """Postgres refuses to run as root: run it as the ``postgres`` user then."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@contextmanager
def postgres_server() -> Iterator[str]:
    """A new Postgres cluster in a temporary folder on a free loopback port (trust auth, fsync off);
    yields its URL and removes it all on exit. Raises ``Unavailable`` without the binaries."""
    bin_dir = postgres_bin()
    if not (bin_dir / "initdb").exists() or not (bin_dir / "pg_ctl").exists():
        raise Unavailable(
            f"Postgres binaries (initdb, pg_ctl) not found in {bin_dir} "
            "(apt-get install postgresql, or set CITEGRAPH_PG_BIN)"
        )
    if os.geteuid() == 0:
        import pwd

        try:
            pwd.getpwnam("postgres")
        except KeyError:
            raise Unavailable("running as root needs a 'postgres' user to start Postgres") from None
        if shutil.which("runuser") is None:
            raise Unavailable("running as root needs runuser to start Postgres")
    folder = Path(tempfile.mkdtemp(prefix="citegraph-pg-"))
    data = folder / "data"
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    port = free_port()
    initdb = [str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"]
    pg_ctl = str(bin_dir / "pg_ctl")
    options = f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={folder} -c fsync=off"
    try:
        subprocess.run(_as_postgres_user(initdb), check=True, capture_output=True, timeout=120)
        start = [pg_ctl, "-D", str(data), "-o", options, "-l", str(folder / "pg.log"), "-w", "start"]
        subprocess.run(_as_postgres_user(start), check=True, capture_output=True, timeout=120)
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        stop = [pg_ctl, "-D", str(data), "-m", "immediate", "stop"]
        subprocess.run(_as_postgres_user(stop), capture_output=True, timeout=60)
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def chroma_server(folder: Path) -> Iterator[str]:
    """``chroma run`` over ``folder`` on a free loopback port; yields its URL, stops it by PID on exit.
    Raises ``Unavailable`` without the ``chroma`` command."""
    chroma = Path(sys.executable).parent / "chroma"  # the venv's `chroma` beside this python
    chroma = chroma if chroma.exists() else Path(shutil.which("chroma") or "")
    if not chroma.name:
        raise Unavailable("the `chroma` command (chromadb's server) is not installed")
    folder.mkdir(parents=True, exist_ok=True)
    server = ServedProcess(
        lambda port: [
            str(chroma),
            "run",
            "--path",
            str(folder / "data"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        folder / "chroma.log",
        "/api/v2/heartbeat",
        env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )
    try:
        yield server.wait_ready(timeout=60).url
    finally:
        server.stop()
