"""Limits of the web server (issue 17): search query size, request body size, request header size and time, and
workers that end with their master. Server tests run a real uvicorn (the protocol ``paperfeed serve`` uses) on
127.0.0.1 and talk to it over raw sockets; the worker test runs ``paperfeed serve --workers 2`` itself."""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
import uvicorn
from click.testing import CliRunner
from fastapi.testclient import TestClient

from paperfeed.cli import cli
from paperfeed.library import Accounts
from paperfeed.storage import open_store
from paperfeed.web import create_app
from paperfeed.web.security import CSRF_COOKIE, csrf_token

from web_data import build_store

SECRET = b"test-secret-key"
MANY_PREFIXES = " ".join(f"t{i}*" for i in range(9000))  # the probe's query: 62 KB, 9,000 prefix terms


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    return build_store(tmp_path_factory.mktemp("limits"))


@pytest.fixture(scope="module")
def client(settings):
    with TestClient(create_app(settings), base_url="https://testserver") as test_client:
        yield test_client


# -- search queries: one cap for the page, its Atom feed, the API and the CLI ---------------------------------


@pytest.mark.parametrize("path", ["/search?mode=keyword&q=", "/search.atom?q=", "/api/v1/search?mode=keyword&q="])
def test_a_huge_search_query_is_refused_before_it_is_run(client, path):
    started = time.process_time()
    response = client.get(path + MANY_PREFIXES.replace(" ", "+"))
    assert time.process_time() - started < 1.0  # the probe's query took 3.5-5.5 s of CPU when it ran
    assert response.status_code == 414
    message = response.json()["error"] if path.startswith("/api/") else response.text
    assert "search query too long" in message and "at most 1,000" in message and "search_max_chars" in message


@pytest.mark.parametrize("path", ["/search?mode=keyword&q=", "/search.atom?q=", "/api/v1/search?mode=keyword&q="])
def test_too_many_prefixes_or_terms_are_a_400_naming_the_limit(client, path):
    prefixes = client.get(path + " ".join(f"pre{i}*" for i in range(11)))
    assert prefixes.status_code == 400 and "11 prefix* terms, at most 10" in prefixes.text
    assert "search_max_prefixes" in prefixes.text
    words = client.get(path + " ".join(f"w{i}" for i in range(51)))
    assert words.status_code == 400 and "51 terms, at most 50" in words.text and "search_max_terms" in words.text
    within = client.get(path + "transformer " + " ".join(f"pre{i}*" for i in range(10)))
    assert within.status_code == 200


def test_the_page_form_filters_count_towards_the_cap(client):
    assert client.get("/search?q=transformer&author=" + "a" * 2000).status_code == 414
    assert client.get("/api/v1/search?q=transformer&author=" + "a" * 2000).json()["status"] == 414
    assert client.get("/search?q=transformer&author=Jane").status_code == 200


def test_the_caps_are_settings(settings):
    narrow = dataclasses.replace(settings, search_max_chars=20, search_max_prefixes=1)
    with TestClient(create_app(narrow), base_url="https://testserver") as narrow_client:
        assert narrow_client.get("/search?q=" + "x" * 21).status_code == 414
        assert narrow_client.get("/search?q=ab* cd*").status_code == 400
        assert narrow_client.get("/search?q=ab* cd").status_code == 200


def test_the_cli_refuses_a_huge_query_with_one_line(settings):
    result = CliRunner().invoke(cli, ["--db", settings.db, "search", "--mode", "keyword", MANY_PREFIXES],
                                env={"PAPERFEED_EMBEDDER": "none"})
    assert result.exit_code == 2
    assert "search query too long" in result.output and "Traceback" not in result.output


# -- request bodies -----------------------------------------------------------------------------------------


def signed_in(client: TestClient) -> str:
    """Sign in an account made in the store; the session-bound CSRF token."""
    client.get("/")
    with open_store(client.app.state.settings.db) as store:
        if store.user_by_email("limits@example.org") is None:
            Accounts(store).create("limits@example.org", "correct horse")
    token = csrf_token(SECRET, client.cookies[CSRF_COOKIE])
    client.post("/login", data={"csrf_token": token, "email": "limits@example.org", "password": "correct horse"},
                follow_redirects=False)
    return csrf_token(SECRET, client.cookies[CSRF_COOKIE], client.cookies.get("pf_session", ""))


def test_an_announced_oversized_body_is_413_before_the_csrf_check_or_the_route(client):
    token = signed_in(client)
    big = b'{"tags": ["' + b"x" * 70_000 + b'"]}'
    api = client.post("/api/v1/items/1/save", content=big,
                      headers={"X-CSRF-Token": token, "Content-Type": "application/json"})
    assert api.status_code == 413 and api.headers["connection"] == "close"
    assert "web_max_body_bytes" in api.json()["error"] and "/api/v1/items/1/save" in api.json()["error"]
    form = client.post("/items/1/save", data={"csrf_token": token, "tags": "x" * 70_000})
    assert form.status_code == 413 and "at most 65,536 bytes" in form.text
    fine = client.post("/api/v1/items/1/save", json={"tags": ["limits"]}, headers={"X-CSRF-Token": token})
    assert fine.status_code == 200 and fine.json()["tags"] == ["limits"]


def test_a_streamed_body_is_cut_off_at_the_limit(client):
    token = signed_in(client)

    def chunks():  # no Content-Length: the client streams (chunked)
        for _ in range(1000):
            yield b"x" * 8192

    response = client.post("/api/v1/items/1/save", content=chunks(),
                           headers={"X-CSRF-Token": token, "Content-Type": "application/json"})
    assert response.status_code == 413 and "more than 65,536 bytes sent" in response.json()["error"]


# -- a real server ------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server(settings):
    """The app under uvicorn with the protocol `paperfeed serve` uses, on a free port; yields the port."""
    from paperfeed.web.server import protocol_for

    limited = dataclasses.replace(settings, web_max_header_bytes=16_384, web_header_timeout=1.0)
    port = free_port()
    config = uvicorn.Config(create_app(limited), host="127.0.0.1", port=port, log_level="error",
                            http=protocol_for(limited), access_log=False)
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not instance.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    yield port
    instance.should_exit = True
    thread.join(timeout=10)


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def read_all(sock: socket.socket, limit: float = 10.0) -> bytes:
    """Everything the server sends until it closes (or ``limit`` seconds pass)."""
    sock.settimeout(limit)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    return data


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


def send_in_background(sock: socket.socket, data: bytes) -> threading.Thread:
    def push():
        try:
            sock.sendall(data)
        except OSError:  # the server closed: what it answered is read by the test
            pass

    thread = threading.Thread(target=push, daemon=True)
    thread.start()
    return thread


@pytest.mark.slow
def test_normal_requests_pass_and_keep_their_connection(server):
    request = b"GET /topics HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: " + b"a=b; " * 2000 + b"\r\n\r\n"  # 10 KB
    with connect(server) as sock:
        for _ in range(2):
            sock.sendall(request)
            assert status_of(sock.recv(65536)) == 200
        sock.sendall(request * 3 + b"GET /topics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        answers = read_all(sock)  # pipelined: each counted on its own, all answered
    assert answers.count(b"HTTP/1.1 200 OK") == 4


@pytest.mark.slow
def test_headers_past_the_limit_are_refused_before_they_end(server):
    with connect(server) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 20_000)  # no end, over 16 KB
        started = time.monotonic()
        answer = read_all(sock)
    assert status_of(answer) == 431 and time.monotonic() - started < 0.9  # not the 1 s header timeout


@pytest.mark.slow
@pytest.mark.parametrize("size", [1024 * 1024, 100 * 1024 * 1024])
def test_oversized_request_headers_are_431(server, size):
    # Made before connecting: 100 MB take a while to build, and a connection idle for a second is closed.
    request = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * size + b"\r\n\r\n"
    with connect(server) as sock:
        pushing = send_in_background(sock, request)
        answer = read_all(sock)
        pushing.join(timeout=30)
    assert status_of(answer) == 431, answer[:200]
    assert b"web_max_header_bytes" in answer and b"connection: close" in answer


@pytest.mark.slow
def test_many_small_headers_count_together(server):
    headers = b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 100) for i in range(300))  # 30 KB in small headers
    with connect(server) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n" + headers + b"\r\n")
        assert status_of(read_all(sock)) == 431


@pytest.mark.slow
def test_unterminated_headers_get_408_and_the_connection_closes(server):
    started = time.monotonic()
    with connect(server) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: a")
        answer = read_all(sock)
    assert status_of(answer) == 408 and b"web_header_timeout" in answer
    assert time.monotonic() - started < 5


@pytest.mark.slow
def test_a_trickle_of_header_bytes_does_not_keep_the_clock_from_running(server):
    started = time.monotonic()
    with connect(server) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\n")
        for _ in range(20):
            try:
                sock.sendall(b"X: y\r\n")
            except OSError:
                break
            time.sleep(0.2)
        answer = read_all(sock)
    assert status_of(answer) == 408 and time.monotonic() - started < 5


@pytest.mark.slow
def test_an_idle_connection_is_closed(server):
    started = time.monotonic()
    with connect(server) as sock:
        assert read_all(sock) == b""  # closed by the server, nothing said
    assert time.monotonic() - started < 5


@pytest.mark.slow
def test_an_announced_200_mb_body_is_413_without_being_sent(server):
    with connect(server) as sock:
        sock.sendall(b"POST /api/v1/items/5/save HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 209715200\r\n\r\n" + b"[" * 4096)
        answer = read_all(sock)  # the server answers and closes without waiting for the other 200 MB
    assert status_of(answer) == 413 and b"209,715,200 bytes announced" in answer


@pytest.mark.slow
def test_a_chunked_body_past_the_limit_is_413(server):
    chunk = b"%x\r\n%s\r\n" % (16384, b"x" * 16384)
    cookie = "c" * 43  # a client's own CSRF cookie and the token that goes with it: the route reads the body
    with connect(server) as sock:
        sock.sendall(b"POST /api/v1/items/5/save HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Cookie: %s=%s\r\nX-CSRF-Token: %s\r\nTransfer-Encoding: chunked\r\n\r\n"
                     % (CSRF_COOKIE.encode(), cookie.encode(), csrf_token(SECRET, cookie).encode()))
        pushing = send_in_background(sock, chunk * 8)  # 128 KB, twice the limit, and never terminated
        answer = read_all(sock)
        pushing.join(timeout=30)
    assert status_of(answer) == 413 and b"more than 65,536 bytes sent" in answer, answer[:300]


# -- `paperfeed serve` itself ---------------------------------------------------------------------------------


def process_children(pid: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                children.append(int(entry.name))
    return children


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_for_http(port: int, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read().decode(errors="replace")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/topics", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"nothing answered on port {port} within {seconds} s")


def serve(db: str, port: int, workers: int) -> subprocess.Popen:
    env = {**os.environ, "PAPERFEED_EMBEDDER": "none", "PAPERFEED_SECRET_KEY": SECRET.decode()}
    env.pop("PAPERFEED_DB", None)
    return subprocess.Popen([sys.executable, "-m", "paperfeed", "--db", db, "serve", "--port", str(port),
                             "--workers", str(workers)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)


def stop(process: subprocess.Popen, pids: list[int]) -> None:
    """End what this test started, by process id."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    for pid in pids:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_serve_limits_request_headers(settings, workers):
    """`serve` runs uvicorn with the limited protocol, in its own process and in workers (limits from settings)."""
    port = free_port()
    process = serve(settings.db, port, workers)
    try:
        wait_for_http(port, process)
        request = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 1024 * 1024 + b"\r\n\r\n"
        with connect(port) as sock:
            pushing = send_in_background(sock, request)
            answer = read_all(sock)
            pushing.join(timeout=30)
        assert status_of(answer) == 431 and b"65,536 bytes (setting web_max_header_bytes)" in answer
    finally:
        stop(process, process_children(process.pid))


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc to find the workers")
def test_workers_end_with_their_killed_master_and_the_port_can_be_served_again(settings):
    port = free_port()
    master = serve(settings.db, port, workers=2)
    workers: list[int] = []
    second = None
    try:
        wait_for_http(port, master)
        workers = worker_pids(master)
        assert len(workers) >= 2, workers
        os.kill(master.pid, signal.SIGKILL)
        master.wait(timeout=10)
        deadline = time.monotonic() + 20
        while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(alive(pid) for pid in workers), "workers outlived their master"

        second = serve(settings.db, port, workers=1)
        wait_for_http(port, second)
    finally:
        stop(master, workers)
        if second is not None:
            stop(second, process_children(second.pid))


WATCHED_CHILD = """
import os, sys, time
from paperfeed.web import server
sys.platform = "portable"  # no prctl: the watchdog thread alone must notice
server.end_with_parent(os.getppid())
print(os.getpid(), flush=True)
time.sleep(120)
"""
PARENT = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", sys.argv[1]], stdout=subprocess.PIPE, text=True)
print(child.stdout.readline().strip(), flush=True)
time.sleep(120)
"""


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc to follow the child")
def test_the_watchdog_alone_ends_a_worker_whose_parent_died():
    parent = subprocess.Popen([sys.executable, "-c", PARENT, WATCHED_CHILD], stdout=subprocess.PIPE, text=True)
    child = 0
    try:
        child = int(parent.stdout.readline())
        assert alive(child)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=10)
        deadline = time.monotonic() + 10
        while alive(child) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(child), "the child outlived its parent"
    finally:
        stop(parent, [child] if child else [])


# -- workers share the connections; their writes take turns ----------------------------------------------------


def worker_pids(master: subprocess.Popen) -> list[int]:
    """The server's worker processes (uvicorn spawns them with multiprocessing)."""
    return [pid for pid in process_children(master.pid) if "spawn_main" in _command_line(pid)]


def _command_line(pid: int) -> str:
    """The process's command line; empty once it is gone (a killed worker reaped between listing and reading)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_text()
    except OSError:
        return ""


def connections_held(pid: int, port: int, state: str = "01") -> int:
    """Established TCP connections to local ``port`` whose sockets process ``pid`` holds (from /proc); with
    ``state="0A"``, its listening sockets on the port."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    held = 0
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == state and int(fields[1].rsplit(":", 1)[1], 16) == port and fields[9] in inodes:
                held += 1
    return held


def answered(sock: socket.socket, limit: float) -> int:
    """Send GET /topics on a kept-alive connection; the answer's status (0: none within ``limit`` seconds)."""
    sock.settimeout(limit)
    sock.sendall(b"GET /topics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    try:
        return status_of(sock.recv(65536))
    except (TimeoutError, ConnectionResetError):
        return 0


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="one listening socket per worker is Linux's")
def test_connections_arriving_at_once_are_spread_over_the_workers_and_a_replaced_worker_takes_its_share(settings):
    """With one shared listening socket, 40 connections opened at once all went to the worker that woke first."""
    port = free_port()
    master = serve(settings.db, port, workers=2)
    workers: list[int] = []
    opened: list[socket.socket] = []
    try:
        wait_for_http(port, master)
        workers = worker_pids(master)
        assert len(workers) == 2, workers
        # A worker's socket takes connections once it listens, after its start-up: the first worker may answer
        # while the second still starts (both migrate-check the store), and until then it gets every connection.
        deadline = time.monotonic() + 30
        while not all(connections_held(pid, port, "0A") for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        opened = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(40)]
        assert all(answered(sock, 30) == 200 for sock in opened)
        shares = [connections_held(pid, port) for pid in workers]
        # Each connection goes to one of two sockets by a hash of its address: fewer than 5 of 40 on one is 1e-7.
        assert sum(shares) == 40 and min(shares) >= 5, shares
        for sock in opened:
            sock.close()

        os.kill(workers[0], signal.SIGKILL)  # replaced on its own socket: no connection may wait on an orphan
        deadline = time.monotonic() + 60
        while len([pid for pid in worker_pids(master) if alive(pid)]) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        workers = worker_pids(master)
        opened = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(40)]
        statuses = [answered(sock, 60) for sock in opened]
        assert statuses == [200] * 40, statuses
    finally:
        for sock in opened:
            sock.close()
        stop(master, workers)


@pytest.mark.skipif(not hasattr(socket, "SO_REUSEPORT"), reason="SO_REUSEPORT sockets")
def test_a_port_another_server_shares_by_reuse_port_is_refused_not_split(settings):
    """Another server's SO_REUSEPORT socket would let ours bind beside it and take half its connections."""
    other = socket.socket()
    other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    other.bind(("127.0.0.1", 0))
    other.listen()
    port = other.getsockname()[1]
    try:
        from paperfeed.web.server import reuse_port_sockets

        with pytest.raises(OSError):
            reuse_port_sockets("127.0.0.1", port, 2)
        process = serve(settings.db, port, workers=2)
        try:
            _, stderr = process.communicate(timeout=60)
        finally:
            stop(process, [])
        assert process.returncode == 1
        assert f"cannot listen on 127.0.0.1:{port}" in stderr.decode() and "Traceback" not in stderr.decode()
    finally:
        other.close()



@pytest.mark.parametrize("workers", [1, 2])
def test_a_taken_port_is_one_line_before_anything_says_serving(settings, workers):
    """The port is bound before `serve` announces itself: a taken port is refused with one line, never a
    "serving … at" followed by uvicorn's own error."""
    other = socket.socket()
    other.bind(("127.0.0.1", 0))
    other.listen()
    port = other.getsockname()[1]
    try:
        process = serve(settings.db, port, workers=workers)
        try:
            _, stderr = process.communicate(timeout=60)
        finally:
            stop(process, [])
        text = stderr.decode()
        assert process.returncode == 1, text
        assert text.strip() == f"paperfeed: cannot listen on 127.0.0.1:{port}: Address already in use", text
    finally:
        other.close()

HOLD_TURN = """
import sys, time
from paperfeed.storage import open_store
from paperfeed.web.writes import write_turn
with open_store(sys.argv[1], migrate=False) as store, write_turn(store):
    print("held", flush=True)
    time.sleep(1.5)
"""


def test_a_write_turn_waits_for_another_process_s_and_not_past_its_end(settings):
    from paperfeed.web.writes import write_turn

    holder = subprocess.Popen([sys.executable, "-c", HOLD_TURN, settings.db], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        with open_store(settings.db, migrate=False) as store, write_turn(store):
            waited = time.monotonic() - started
            assert holder.poll() is not None or waited >= 1.0, waited  # not before the other process let go
        assert waited < 10, waited
    finally:
        holder.wait(timeout=30)


@pytest.mark.slow
def test_concurrent_saves_and_votes_on_two_workers_are_all_kept(settings):
    port = free_port()
    with open_store(settings.db) as store:
        accounts = Accounts(store)
        existing = store.user_by_email("turns@example.org")
        user = existing.id if existing else accounts.create("turns@example.org", "turns-password-1234")
        session = accounts.open_session(user)
        items = [row[0] for row in store.db.rows("SELECT id FROM items ORDER BY id LIMIT 30")]
    master = serve(settings.db, port, workers=2)
    try:
        wait_for_http(port, master)
        cookie = f"pf_session={session}; {CSRF_COOKIE}={'c' * 43}"
        token = csrf_token(SECRET, "c" * 43, session)
        statuses: list[int] = []

        def change(item: int) -> None:
            for path, body in ((f"/api/v1/items/{item}/save", b'{"tags": ["turns"]}'),
                               (f"/api/v1/items/{item}/vote", b'{"up": true}')):
                request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method="POST", headers={
                    "Cookie": cookie, "X-CSRF-Token": token, "Content-Type": "application/json"})
                with urllib.request.urlopen(request, timeout=60) as response:
                    statuses.append(response.status)

        threads = [threading.Thread(target=change, args=(item,)) for item in items]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert statuses == [200] * (2 * len(items))
        with open_store(settings.db, migrate=False) as store:
            saved = {entry.item_id: entry.tags for entry in store.library_entries(user)}
            assert all("turns" in saved.get(item, []) for item in items), saved
            assert set(items) <= set(store.user_votes(user))
    finally:
        stop(master, worker_pids(master) if master.poll() is None else [])
