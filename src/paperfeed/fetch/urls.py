"""Which URLs a source may fetch: http(s) only, and no loopback, link-local or private address unless allowed."""

from __future__ import annotations

import ipaddress
import socket
from typing import Callable
from urllib.parse import urlsplit

Resolver = Callable[[str, int], list[str]]


class UnsafeURLError(ValueError):
    """A URL a source must not fetch (wrong scheme, no host, or a refused address)."""


def resolve(host: str, port: int) -> list[str]:
    """Return every address ``host`` resolves to."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise UnsafeURLError(f"cannot resolve host {host!r}: {error}") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def refused_reason(address: str) -> str | None:
    """Say why an address is off limits to a shared server (loopback, private, ...), or None when it is public."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 reaches 127.0.0.1
    for reason, flag in (("loopback", ip.is_loopback), ("link-local", ip.is_link_local),
                         ("private", ip.is_private), ("multicast", ip.is_multicast),
                         ("unspecified", ip.is_unspecified), ("reserved", ip.is_reserved)):
        if flag:
            return reason
    return None


def check_syntax(url: str) -> tuple[str, str, int]:
    """Return (scheme, host, port) of an http(s) URL, or raise UnsafeURLError."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise UnsafeURLError(f"malformed URL {url!r}: {error}") from None
    if parts.scheme not in ("http", "https"):
        raise UnsafeURLError(f"refused URL {url!r}: only http and https are fetched")
    if not parts.hostname:
        raise UnsafeURLError(f"refused URL {url!r}: it names no host")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


def check_url(url: str, allow_private: bool = False, resolver: Resolver = resolve) -> None:
    """Raise UnsafeURLError unless ``url`` is http(s) and every address its host resolves to is allowed."""
    _, host, port = check_syntax(url)
    if allow_private:
        return
    # Every address counts: a name with one public and one private address could be steered to either.
    for address in resolver(host, port):
        reason = refused_reason(address)
        if reason:
            raise UnsafeURLError(f"refused URL {url!r}: {host} resolves to {reason} address {address} "
                                 "(set PAPERFEED_ALLOW_PRIVATE_URLS=1 to allow it)")
