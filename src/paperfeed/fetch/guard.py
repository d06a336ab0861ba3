"""Connect only to addresses the URL check allows, resolving each host once per connection (no DNS rebinding).

Checking a URL's addresses and then letting the HTTP library resolve the name again when it connects leaves a
gap: a hostile name server can answer with a public address for the check and a private one for the connection
(DNS rebinding). Here the connection itself resolves the name, checks every address and connects to a checked
one. Only the TCP connection goes to the IP: the URL keeps its host name, so the Host header, TLS SNI and the
certificate check still name the host.
"""

from __future__ import annotations

import ssl
import typing

import httpcore
import httpx

from .urls import Resolver, UnsafeURLError, refused_reason, resolve


class CheckedBackend(httpcore.SyncBackend):
    """httpcore's network backend, connecting to the checked addresses of a host instead of resolving it again."""

    def __init__(self, allow_private: bool = False, resolver: Resolver = resolve) -> None:
        self.allow_private = allow_private
        self.resolver = resolver

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None) -> httpcore.NetworkStream:
        """Resolve ``host``, refuse it if any address is off limits, and connect to the first address that answers."""
        addresses = self.resolver(host, port)
        if not addresses:
            raise UnsafeURLError(f"cannot resolve host {host!r}: no addresses")
        if not self.allow_private:
            for address in addresses:
                reason = refused_reason(address)
                if reason:
                    raise UnsafeURLError(f"refused connection to {host}: it resolves to {reason} address {address} "
                                         "(set PAPERFEED_ALLOW_PRIVATE_URLS=1 to allow it)")
        for index, address in enumerate(addresses):
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout):
                if index == len(addresses) - 1:
                    raise
        raise AssertionError("unreachable")  # the loop returns or raises


class CheckedTransport(httpx.HTTPTransport):
    """httpx's transport over a ``CheckedBackend``."""

    def __init__(self, limits: httpx.Limits, allow_private: bool = False, resolver: Resolver = resolve,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        super().__init__(limits=limits)
        # httpx 0.28 (pinned) takes no network backend, so its pool is rebuilt with one and the same settings.
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context or httpx.create_ssl_context(), max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections, keepalive_expiry=limits.keepalive_expiry,
            network_backend=CheckedBackend(allow_private, resolver),
        )
