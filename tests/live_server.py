"""A real `paperfeed serve` on a free loopback port, for the tests that drive it from outside (browser, fuzzer)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from typing import Iterator

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serving(settings, port: int, extra_env: dict[str, str] | None = None) -> Iterator[str]:
    """Run `paperfeed serve` over ``settings.db`` on ``port`` until the block ends; yield its base URL."""
    env = {**os.environ, "PAPERFEED_EMBEDDER": "none", "PAPERFEED_SECRET_KEY": settings.secret_key,
           "PAPERFEED_SYNC_INTERVAL": "0", "PAPERFEED_BASE_URL": f"http://127.0.0.1:{port}", **(extra_env or {})}
    process = subprocess.Popen([sys.executable, "-m", "paperfeed", "--db", settings.db, "serve", "--port", str(port)],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(base + "/static/style.css", timeout=1)
            break
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"paperfeed serve did not start: {process.stdout.read().decode()}")
            time.sleep(0.2)
    try:
        yield base
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
