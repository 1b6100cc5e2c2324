"""Running a real trainforge server in a subprocess, for end-to-end tests and benchmarks.

Not mocks: this starts ``trainforge serve`` exactly as a user would, on a free loopback port with its own home.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

TRAINFORGE = str(Path(sys.executable).with_name("trainforge"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    """Call ``predicate`` until it returns something truthy, and return that; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


@contextmanager
def trainforge_server(
    home: Path, *, env: dict[str, str] | None = None, args: tuple[str, ...] = (), log_path: Path | None = None
) -> Iterator[str]:
    """Run ``trainforge serve`` with ``TRAINFORGE_HOME=home`` on a free port; yields the base URL.

    The server's output goes to ``log_path`` (default: ``serve.log`` beside ``home``); a server that exits before
    it answers ``/healthz`` raises with that log's end.
    """
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    full_env = {**os.environ, "TRAINFORGE_HOME": str(home), **(env or {})}
    log_path = log_path or home.parent / "serve.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [TRAINFORGE, "serve", "--port", str(port), *args], env=full_env, stdout=log, stderr=subprocess.STDOUT
        )

        def healthy() -> bool:
            if server.poll() is not None:
                raise RuntimeError(f"the server exited ({server.returncode}):\n{log_path.read_text()[-3000:]}")
            try:
                return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        try:
            wait_for(healthy, 180, "the server to answer /healthz", interval=0.3)
            yield base
        finally:
            server.terminate()
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def local_auth(home: Path) -> dict[str, str]:
    """The Authorization header of the local admin key that ``trainforge serve`` wrote to ``home``."""
    return {"Authorization": f"Bearer {(home / 'api_key').read_text().strip()}"}
