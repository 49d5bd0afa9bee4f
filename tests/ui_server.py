"""The console under test: the real ``campustwin serve`` on a free loopback port, as a subprocess.

    with ConsoleServer(["--sites", str(folder)]) as server:   # a console of its own, stopped on exit
        page.goto(server.url)

Its output goes to a log file (a pipe nobody reads would fill up and block it); a server still
running when the tests end is stopped at exit. The browser side is in ``ui_util.py``.
"""

from __future__ import annotations

import atexit
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from ui_util import REPO_ROOT

SERVER_START_TIMEOUT_S = 90.0
SERVER_STOP_TIMEOUT_S = 10.0


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the server retries if another process takes it first)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------------------------- server


class ServerError(AssertionError):
    """The console did not start; the message carries its output."""


@dataclass(eq=False)
class ConsoleServer:
    """``python -m app.cli serve`` on a free loopback port, with its stdout and stderr in ``log_path``.

    ``extra_args`` are added to the command line (e.g. ``["--sites", folder]``). Use as a context manager
    or call ``start()`` and ``stop()``. ``start()`` returns once ``GET /`` answers 200.
    """

    extra_args: Sequence[str] = ()
    log_dir: Path | None = None
    start_timeout: float = SERVER_START_TIMEOUT_S
    port: int = 0
    proc: subprocess.Popen | None = field(default=None, repr=False)
    log_path: Path | None = None

    running: ClassVar[set[ConsoleServer]] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "app.cli",
            "serve",
            "--port",
            str(self.port),
            "--address",
            "127.0.0.1",
            *map(str, self.extra_args),
        ]

    def __enter__(self) -> ConsoleServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> ConsoleServer:
        if self.proc is not None:
            return self
        log_dir = Path(self.log_dir or tempfile.mkdtemp(prefix="campustwin-console-"))
        log_dir.mkdir(parents=True, exist_ok=True)
        # Another process may grab the free port between free_port() and the server's bind: retry.
        for attempt in range(3):
            self.port = free_port()
            self.log_path = log_dir / f"console-{self.port}.log"
            self._spawn()
            try:
                self._wait_ready()
                return self
            except ServerError:
                in_use = "address already in use" in self.log_tail().lower()
                self.stop()
                if not in_use or attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _spawn(self) -> None:
        assert self.log_path is not None
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        # A file rather than a pipe: a pipe nobody reads fills up and blocks the server.
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                self.command,
                cwd=REPO_ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        ConsoleServer.running.add(self)

    def _wait_ready(self) -> None:
        """Wait until the port accepts connections, then for one ``GET /`` to answer 200.

        A single request, however slow: the page builds the inventory of every site, which can take
        seconds, and a request abandoned on a client timeout would still occupy the server.
        """
        assert self.proc is not None
        deadline = time.monotonic() + self.start_timeout
        while True:
            self._check_alive()
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise self._error(f"did not listen on port {self.port}") from None
                time.sleep(0.1)
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy
        try:
            with opener.open(self.url, timeout=max(deadline - time.monotonic(), 5)) as resp:
                if resp.status == 200:
                    return
                got = f"HTTP {resp.status}"
        except urllib.error.HTTPError as exc:
            got = f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            got = str(getattr(exc, "reason", exc))
        self._check_alive()
        raise self._error(f"did not answer 200 on GET {self.url} (got: {got})")

    def _check_alive(self) -> None:
        assert self.proc is not None
        code = self.proc.poll()
        if code is not None:
            raise self._error(f"exited with code {code} before answering on {self.url}")

    def _error(self, what: str) -> ServerError:
        return ServerError(
            f"campustwin serve {what} (start timeout {self.start_timeout:.0f} s)\n"
            f"command: {' '.join(self.command)}\n--- server output ---\n{self.log_tail()}"
        )

    def log_tail(self, chars: int = 6000) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        text = self.log_path.read_text(errors="replace")
        return text if len(text) <= chars else "...\n" + text[-chars:]

    def stop(self) -> None:
        """Terminate the server, then kill it if it has not exited within ``SERVER_STOP_TIMEOUT_S``."""
        proc, self.proc = self.proc, None
        ConsoleServer.running.discard(self)
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(SERVER_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(SERVER_STOP_TIMEOUT_S)


@atexit.register
def _stop_leftover_servers() -> None:
    for server in list(ConsoleServer.running):
        server.stop()
