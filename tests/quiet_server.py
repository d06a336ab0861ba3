"""The test servers' base: a threading HTTP server that says nothing when a client goes away.

These servers run inside the test process. socketserver prints a traceback to ``sys.stderr`` for any error in a
request's thread, and a client that closes a kept-alive connection (paperfeed giving up after an HTTP 500, or a
timeout) makes the next read of that connection raise ``ConnectionResetError``. A test that runs the CLI in
process captures ``sys.stderr`` and checks that no traceback reached the user: the server's would be counted as
paperfeed's. A real server logs such a disconnect quietly too; any other error still prints.
"""

from __future__ import annotations

import sys
from http.server import ThreadingHTTPServer


class QuietThreadingHTTPServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)
