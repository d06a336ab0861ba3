"""A real HTTP server on 127.0.0.1 speaking the OpenAI chat-completions protocol (as llama.cpp's and Ollama's
``/v1/chat/completions`` do), for the TL;DR tests: it answers from the request, and can be slow, fail, send too
much or drip its answer; every request is logged.

The answer to a paper is ``TL;DR: <model> says <title> matters.``, so a test sees that the title and the model
reached the server and that paperfeed tidied the answer (the ``TL;DR:`` prefix goes).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler

from quiet_server import QuietThreadingHTTPServer

MODES = ("ok", "slow", "error", "oversized", "garbage", "drip", "empty")


class ChatServer:
    """``mode`` says how the next requests are answered; ``stall`` is how long "slow" and "drip" take."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.stall = 5.0
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with server._lock:
                    server.requests.append({"path": self.path, "body": body, "at": time.monotonic(),
                                            "authorization": self.headers.get("Authorization")})
                server.answer(self, body)

        self.httpd = QuietThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "ChatServer":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def answer(self, handler: BaseHTTPRequestHandler, body: dict) -> None:
        if handler.path != "/v1/chat/completions":
            return self._send(handler, 404, b'{"error": "not found"}')
        mode = self.mode
        if mode == "error":
            return self._send(handler, 500, b'{"error": "model crashed"}')
        if mode == "garbage":
            return self._send(handler, 200, b"<html>not json</html>")
        user = next(message["content"] for message in body["messages"] if message["role"] == "user")
        title = user.split("\n", 1)[0].removeprefix("Title: ")
        content = f"TL;DR: {body['model']} says {title} matters."
        if mode == "oversized":  # 2 MB, streamed without a Content-Length: only reading it tells its size
            content = "word " * 400_000
        if mode == "empty":
            content = "   "
        payload = json.dumps({"id": "chatcmpl-1", "object": "chat.completion", "model": body["model"],
                              "choices": [{"index": 0, "finish_reason": "stop",
                                           "message": {"role": "assistant", "content": content}}]}).encode()
        if mode == "slow":
            time.sleep(self.stall)
        if mode == "drip":
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            step = self.stall / len(payload) * 4
            try:
                for index in range(0, len(payload), 4):
                    handler.wfile.write(payload[index:index + 4])
                    handler.wfile.flush()
                    time.sleep(step)
            except OSError:  # the client gave up: what it should do
                pass
            return None
        return self._send(handler, 200, payload, declare_length=mode != "oversized")

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, payload: bytes, declare_length: bool = True) -> None:
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            if declare_length:
                handler.send_header("Content-Length", str(len(payload)))
            else:
                handler.send_header("Connection", "close")
                handler.close_connection = True
            handler.end_headers()
            handler.wfile.write(payload)
        except OSError:  # the client gave up
            pass
