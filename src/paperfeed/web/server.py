"""What ``paperfeed serve`` adds to uvicorn: limits on request headers, and workers that end with their master.

**Headers.** uvicorn's httptools protocol reads a request's line and headers for as long and as large as the
client sends them (a 100 MB header was answered 200; an unterminated one held the connection for minutes).
``LimitedHttpToolsProtocol`` counts the bytes received before the headers are complete and answers 431 once
they pass ``web_max_header_bytes``; a timer started when the connection opens (or a request's first byte
arrives) answers 408 if the headers are not complete within ``web_header_timeout`` seconds (a connection that
sent nothing is just closed). Either way the server stops reading, ends its side of the stream after the answer,
and closes the connection ``LINGER_SECONDS`` later: closing at once, with the client's bytes still unread,
would send a reset that can destroy the answer before the client reads it.

**Workers.** With ``--workers N`` uvicorn's master spawns N processes sharing the listening socket. If the
master is killed outright (``kill -9``) they would go on serving the port, and a new ``serve`` could not bind
it. ``worker_app`` (the app factory the workers run) makes each worker end with its master: on Linux the
kernel sends it SIGTERM when the master dies (``prctl(PR_SET_PDEATHSIG)``), and everywhere a watchdog thread
notices that the parent process changed, sends SIGTERM (uvicorn's graceful shutdown) and exits for good
``EXIT_GRACE`` seconds later.

**Balance.** Workers sharing one listening socket do not share its connections: a worker woken for a burst of
connections accepts all of them (libuv drains the queue), so 50 clients connecting at once were all served by one
worker while the other sat idle. ``listening_sockets`` gives each worker a listening socket of its own on the same
port (``SO_REUSEPORT``, Linux), and the kernel spreads new connections over them; a worker that dies is replaced
on its socket (the master holds the sockets, so connections arriving meanwhile wait in its queue).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from ..config import Settings

WATCH_SECONDS = 0.5
"""How often a worker's watchdog checks that its master is alive."""
EXIT_GRACE = 10.0
"""Seconds a worker whose master died has to finish its requests before it exits regardless."""
LINGER_SECONDS = 2.0
"""After refusing a request, how long the connection stays open (not reading) so the client can read the answer."""
PR_SET_PDEATHSIG = 1


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a total header size limit (431) and a header read timeout (408).

    The limits are class attributes; left None they are read from the settings (environment) once per process,
    which is how uvicorn's worker processes get them. ``limited_protocol`` makes a subclass with given values.
    """

    max_header_bytes: int | None = None
    header_timeout: float | None = None

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        cls = type(self)
        if cls.max_header_bytes is None or cls.header_timeout is None:
            settings = Settings.load()
            if cls.max_header_bytes is None:
                cls.max_header_bytes = settings.web_max_header_bytes
            if cls.header_timeout is None:
                cls.header_timeout = settings.web_header_timeout
        self._awaiting_headers = True  # the next bytes belong to a request's line and headers
        self._request_started = False  # a request's first byte has come, its headers have not ended
        self._raw_bytes = 0  # bytes received while awaiting headers (bounds what the parser buffers)
        self._parsed_bytes = 0  # the request line and the headers parsed so far (exact)
        self._header_timer = None
        self._refused = False  # answered 431 or 408: nothing more is read or parsed

    # -- the clock -------------------------------------------------------------------------------------------

    def _start_header_clock(self) -> None:
        if self._header_timer is None and self.header_timeout:
            self._header_timer = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _stop_header_clock(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if not self._awaiting_headers or self._refused or self.transport.is_closing():
            return
        if not self._request_started:  # an idle connection: nothing to answer
            self.transport.close()
            return
        self._refuse(408, f"Request headers not received within {self.header_timeout:g} seconds "
                          "(setting web_header_timeout).")

    # -- uvicorn's protocol, with the limits -------------------------------------------------------------------

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_header_clock()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_header_clock()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:  # (read before reading was paused)
            return
        waiting = self._awaiting_headers
        if waiting:
            self._raw_bytes += len(data)
        super().data_received(data)
        if self._refused or self.transport.is_closing():
            return
        # (A request that began in the middle of this chunk is counted from the next one; the parser counts it
        # exactly as its headers end.)
        if self._awaiting_headers and self.max_header_bytes and self._raw_bytes > self.max_header_bytes:
            self._too_large()

    def _too_large(self) -> None:
        self._refuse(431, f"Request line and headers too large: more than {self.max_header_bytes:,} bytes "
                          "(setting web_max_header_bytes).")

    # Parser callbacks: after a refusal the parser may still be inside this chunk; what follows is ignored.

    def on_message_begin(self) -> None:
        if self._refused:
            return
        super().on_message_begin()
        self._awaiting_headers = True
        self._request_started = True
        self._parsed_bytes = 0
        self._start_header_clock()

    def on_url(self, url: bytes) -> None:
        if self._refused:
            return
        self._parsed_bytes += len(url)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._refused:
            return
        self._parsed_bytes += len(name) + len(value) + 4
        if self.max_header_bytes and self._parsed_bytes > self.max_header_bytes:
            self._too_large()
            return
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if self._refused:
            return
        self._awaiting_headers = False
        self._request_started = False
        self._raw_bytes = 0
        self._stop_header_clock()
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._refused:
            return
        super().on_message_complete()
        self._awaiting_headers = True  # what comes next is the next request

    def _refuse(self, status: int, message: str) -> None:
        """Answer ``status`` with ``message`` (unless a response is being written), then close."""
        self._stop_header_clock()
        self._awaiting_headers = False
        self._refused = True
        if self.cycle is not None and not self.cycle.response_complete:
            self.transport.close()  # a pipelined request: the answer in flight cannot be interrupted
            return
        self.logger.warning("%s: %s", status, message)
        body = (message + "\n").encode("ascii")
        content = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            content.extend([name, b": ", value, b"\r\n"])
        content.extend([b"content-type: text/plain; charset=utf-8\r\n",
                        b"content-length: " + str(len(body)).encode("ascii") + b"\r\n",
                        b"connection: close\r\n\r\n", body])
        self.transport.write(b"".join(content))
        self.transport.pause_reading()  # what the client still sends waits in the kernel's buffers, unread
        if self.transport.can_write_eof():
            self.transport.write_eof()  # the client sees the answer, then the end of the stream
        self.loop.call_later(LINGER_SECONDS, self._close)

    def _close(self) -> None:
        if not self.transport.is_closing():
            self.transport.close()


def limited_protocol(max_header_bytes: int, header_timeout: float) -> type[LimitedHttpToolsProtocol]:
    """A ``LimitedHttpToolsProtocol`` with these limits (for a server in this process)."""
    return type("LimitedHttpToolsProtocol", (LimitedHttpToolsProtocol,),
                {"max_header_bytes": max_header_bytes, "header_timeout": header_timeout})


def protocol_for(settings: Settings) -> type[LimitedHttpToolsProtocol]:
    return limited_protocol(settings.web_max_header_bytes, settings.web_header_timeout)


# -- workers ---------------------------------------------------------------------------------------------------


def worker_app():
    """The app of one ``serve --workers N`` worker: settings from the environment, ended with its master."""
    from .app import create_app_from_env

    parent = multiprocessing.parent_process()
    if parent is not None and parent.pid is not None:
        end_with_parent(parent.pid)
    return create_app_from_env()


def end_with_parent(parent: int) -> None:
    """Make this process end (SIGTERM, then exit after ``EXIT_GRACE`` seconds) when process ``parent`` does."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        except (OSError, AttributeError):
            pass  # the watchdog below still works
    threading.Thread(target=_watch_parent, args=(parent,), name="paperfeed-parent-watch", daemon=True).start()


def _watch_parent(parent: int) -> None:
    # A process whose parent has died is handed to init (or a subreaper): its parent id changes.
    while os.getppid() == parent:
        time.sleep(WATCH_SECONDS)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(EXIT_GRACE)
    os._exit(1)


# -- one listening socket per worker ----------------------------------------------------------------------------


def listening_sockets(host: str, port: int, workers: int) -> list[socket.socket]:
    """Bind (host, port) for ``workers`` server processes before anything says "serving": one socket per worker
    where the platform has ``SO_REUSEPORT`` (see **Balance**), else one shared socket. Raises ``OSError`` (the
    port taken, an address not on this machine) with nothing left open."""
    if workers > 1 and sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT"):
        return reuse_port_sockets(host, port, workers)
    sock = socket.socket(family=socket.AF_INET6 if ":" in host else socket.AF_INET)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.set_inheritable(True)
    except OSError:
        sock.close()
        raise
    return [sock]


def serve_one(app, sock: socket.socket, **options) -> None:
    """``uvicorn.run(app, …)`` on an already bound socket (``listening_sockets``)."""
    import uvicorn

    host, port = sock.getsockname()[:2]
    try:
        uvicorn.Server(uvicorn.Config(app, host=host, port=port, **options)).run(sockets=[sock])
    except KeyboardInterrupt:  # the server re-raises the Ctrl-C it shut down on; uvicorn.run swallows it too
        pass


def serve_workers(app: str, sockets: list[socket.socket], workers: int, **options) -> None:
    """``uvicorn.run(app, factory=True, workers=N, …)`` on already bound sockets (``listening_sockets``): worker
    ``i`` on socket ``i`` when there is one per worker, else all of them on the one shared socket."""
    import uvicorn

    host, port = sockets[0].getsockname()[:2]
    config = uvicorn.Config(app, factory=True, host=host, port=port, workers=workers, **options)
    try:
        _balanced_supervisor()(config, sockets if len(sockets) == workers else sockets[:1] * workers).run()
    except KeyboardInterrupt:  # as uvicorn.run
        pass


def reuse_port_sockets(host: str, port: int, count: int) -> list[socket.socket]:
    """``count`` sockets bound to (host, port) with ``SO_REUSEPORT`` (port 0: the first one's free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # A port already served by another program must fail here, as uvicorn's own bind would: with SO_REUSEPORT
    # alone a second `paperfeed serve` of the same user would bind beside the first and take half its
    # connections. A bind without it conflicts with any socket on the port, theirs or ours.
    with socket.socket(family=family) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
        port = probe.getsockname()[1]
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(family=family)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((host, port))
            port = sock.getsockname()[1]
            sock.set_inheritable(True)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def _balanced_supervisor():
    """uvicorn's worker supervisor, with worker ``i`` always on socket ``i`` (when started, restarted or replaced)."""
    from uvicorn.config import STARTUP_FAILURE
    from uvicorn.supervisors.multiprocess import Multiprocess, Process, logger

    class BalancedMultiprocess(Multiprocess):
        def __init__(self, config, sockets: list[socket.socket]) -> None:
            super().__init__(config, sockets)
            self.own_sockets = sockets

        def _start(self, index: int) -> Process:
            process = Process(self.config, [self.own_sockets[index]])
            process.start()
            return process

        def init_processes(self) -> None:
            self.processes = [self._start(index) for index in range(self.processes_num)]

        def keep_subprocess_alive(self) -> None:
            for index, process in enumerate(self.processes):
                if self.should_exit.is_set():
                    return
                if process.is_alive(timeout=self.config.timeout_worker_healthcheck):
                    continue
                process.kill()  # hung or dead: replace it on its socket
                process.join()
                if process.exitcode == STARTUP_FAILURE:  # it would fail the same way again
                    logger.error(f"Child process [{process.pid}] failed to start, stopping the parent process.")
                    self.should_exit.set()
                    return
                logger.info(f"Child process [{process.pid}] died")
                self.processes[index] = self._start(index)

        def restart_all(self) -> None:  # SIGHUP
            for index, old in enumerate(self.processes):
                if self.should_exit.is_set():
                    return
                new = self._start(index)
                if not new.wait_until_ready(self.config.timeout_worker_healthcheck, self.should_exit):
                    new.kill()
                    new.join()
                    return
                old.terminate()
                old.join()
                self.processes[index] = new

        def handle_ttin(self) -> None:
            logger.info("Received SIGTTIN: the number of workers is fixed (one listening socket each).")

        def handle_ttou(self) -> None:
            logger.info("Received SIGTTOU: the number of workers is fixed (one listening socket each).")

    return BalancedMultiprocess
