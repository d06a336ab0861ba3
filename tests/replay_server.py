"""A real HTTP server on 127.0.0.1 for the sync tests: replays recorded responses and scripted faults, logs requests.

Routes map a path to a handler ``(Request) -> Reply``; ``fail_next(path, *replies)`` queues one-off faults served
before the handler answers again. Every request is logged with its arrival time and client port, so tests assert
politeness (gaps, calls per window, one connection) from the server's side.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from quiet_server import QuietThreadingHTTPServer
from pathlib import Path
from typing import Callable
from urllib.parse import parse_qs, urlsplit

SYNC_DATA = Path(__file__).parent / "data" / "sync"
OAI_PAGE = SYNC_DATA / "listrecords_arXivRaw_2015-01-06.xml"


@dataclass(slots=True)
class Request:
    """One request as the server saw it."""

    at: float
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    client_port: int


@dataclass(slots=True)
class Reply:
    """What to answer: a status, a body, headers, and optionally a stall before it or a body cut short."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    stall: float = 0.0
    truncate_to: int | None = None
    """Declare the full Content-Length but send only this many bytes, then close the connection."""


Handler = Callable[[Request], Reply]


class ReplayServer:
    """A threading HTTP/1.1 server (keep-alive) with routes, scripted faults and a request log."""

    def __init__(self) -> None:
        self.routes: dict[str, Handler] = {}
        self.faults: dict[str, deque[Reply]] = {}
        self.log: list[Request] = []
        self._lock = threading.Lock()
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                request = Request(time.monotonic(), parts.path,
                                  {key: values[-1] for key, values in parse_qs(parts.query).items()},
                                  {key.lower(): value for key, value in self.headers.items()},
                                  self.client_address[1])
                with server._lock:
                    server.log.append(request)
                    queued = server.faults.get(parts.path)
                    reply = queued.popleft() if queued else None
                if reply is None:
                    handler = server.routes.get(parts.path)
                    reply = handler(request) if handler else Reply(404, b"not found", {"Content-Type": "text/plain"})
                self._send(reply)

            def _send(self, reply: Reply) -> None:
                if reply.stall:
                    time.sleep(reply.stall)
                try:
                    self.send_response(reply.status)
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    if reply.truncate_to is not None:
                        self.wfile.write(reply.body[:reply.truncate_to])
                        self.wfile.flush()
                        self.close_connection = True
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return
                    self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError, OSError):
                    self.close_connection = True  # the client gave up (a read timeout): nothing to do

        self.httpd = QuietThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> "ReplayServer":
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def url(self, path: str) -> str:
        """Absolute URL of ``path`` on this server."""
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def route(self, path: str, handler: Handler | Reply) -> None:
        """Answer ``path`` with a handler, or with one fixed reply every time."""
        self.routes[path] = handler if callable(handler) else (lambda request, reply=handler: reply)

    def fail_next(self, path: str, *replies: Reply) -> None:
        """Serve these replies to the next requests for ``path``, then go back to its route."""
        with self._lock:
            self.faults.setdefault(path, deque()).extend(replies)

    def requests(self, path: str | None = None) -> list[Request]:
        """The logged requests (for one path, if given), in arrival order."""
        with self._lock:
            return [request for request in self.log if path is None or request.path == path]


def xml(body: bytes, status: int = 200, **headers: str) -> Reply:
    """An XML reply."""
    return Reply(status, body, {"Content-Type": "text/xml; charset=utf-8", **headers})


# -- OAI-PMH pages cut from the recorded arXivRaw response ------------------------------------------------------

_RECORD = re.compile(rb"<record>.*?</record>\s*", re.DOTALL)
_TOKEN = re.compile(rb"<resumptionToken[^>]*>[^<]*</resumptionToken>\s*")


def recorded_records() -> tuple[bytes, list[bytes], bytes]:
    """Split the recorded page into (head up to the first record, the records, the tail without its token)."""
    data = OAI_PAGE.read_bytes()
    records = _RECORD.findall(data)
    head = data[:data.index(records[0])]
    tail = _TOKEN.sub(b"", data[data.index(records[-1]) + len(records[-1]):])
    return head, records, tail


def renumbered(record: bytes, number: int) -> tuple[str, bytes]:
    """Give a recorded record a fresh arXiv id (and DOI and title) so that chains can be as long as needed."""
    arxiv_id = f"2601.{number:05d}"
    record = re.sub(rb"oai:arXiv.org:[^<]+", f"oai:arXiv.org:{arxiv_id}".encode(), record)
    record = re.sub(rb"<id>[^<]+</id>", f"<id>{arxiv_id}</id>".encode(), record)
    record = re.sub(rb"<doi>[^<]+</doi>", f"<doi>10.9999/sync.{number}</doi>".encode(), record)
    record = re.sub(rb"<title>", f"<title>[{number}] ".encode(), record, count=1)
    return arxiv_id, record


def oai_page(records: list[bytes], token: str | None, cursor: int = 0, size: int | None = None) -> bytes:
    """Build a ListRecords page from records, with a resumptionToken (empty on the last page, as OAI-PMH says)."""
    head, _, tail = recorded_records()
    token_xml = (f'<resumptionToken cursor="{cursor}" completeListSize="{size or 0}">{token or ""}'
                 "</resumptionToken>\n").encode()
    return head + b"".join(records) + token_xml + tail


class OaiChain:
    """A ListRecords harvest over several pages, with tokens that can be expired to force badResumptionToken."""

    def __init__(self, pages: list[list[bytes]]) -> None:
        self.pages = pages
        self.generation = 0
        self.size = sum(len(page) for page in pages)

    def expire_tokens(self) -> None:
        """Make every token handed out so far invalid, as a server restart or a timeout does."""
        self.generation += 1

    def __call__(self, request: Request) -> Reply:
        token = request.query.get("resumptionToken")
        if token is None:
            index = 0
        else:
            generation, _, number = token.partition("-")
            if generation != f"g{self.generation}" or not number.isdigit() or int(number) >= len(self.pages):
                return xml((SYNC_DATA / "error_badResumptionToken.xml").read_bytes())
            index = int(number)
        last = index == len(self.pages) - 1
        cursor = sum(len(page) for page in self.pages[:index])
        next_token = None if last else f"g{self.generation}-{index + 1}"
        return xml(oai_page(self.pages[index], next_token, cursor, self.size))


def numbered_chain(pages: int, per_page: int) -> tuple[OaiChain, list[str]]:
    """A chain of ``pages`` pages of ``per_page`` renumbered recorded records; also return every arXiv id."""
    _, records, _ = recorded_records()
    built, ids = [], []
    for page in range(pages):
        page_records = []
        for k in range(per_page):
            number = page * per_page + k + 1
            arxiv_id, record = renumbered(records[number % len(records)], number)
            ids.append(arxiv_id)
            page_records.append(record)
        built.append(page_records)
    return OaiChain(built), ids
