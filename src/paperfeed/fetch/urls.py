"""Which URLs a source may fetch: http(s) only, to globally reachable addresses unless private ones are allowed."""

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


# Special-purpose blocks that are not globally reachable (the IANA IPv4 and IPv6 special-purpose registries),
# named so the refusal says what they are. ``ipaddress``'s ``is_global`` (the last check) misses some in every
# Python (multicast, 6to4's relay anycast, the old site-local block) and more in older patch releases (3.11.7 counts
# 192.0.0.192 as global), so they are listed here.
_BLOCKS: list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str]] = [
    (ipaddress.ip_network(network), reason) for network, reason in (
        ("0.0.0.0/8", "this-network"),
        ("10.0.0.0/8", "private"),
        ("100.64.0.0/10", "shared (carrier-grade NAT)"),  # holds cloud metadata addresses, e.g. 100.100.100.200
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),
        ("172.16.0.0/12", "private"),
        ("192.0.0.0/24", "IETF protocol assignment"),
        ("192.0.2.0/24", "documentation"),
        ("192.88.99.0/24", "6to4 relay anycast"),
        ("192.168.0.0/16", "private"),
        ("198.18.0.0/15", "benchmarking"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved"),
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("::/96", "IPv4-compatible"),
        ("64:ff9b:1::/48", "local-use NAT64"),
        ("100::/64", "discard-only"),
        ("2001::/32", "Teredo"),
        ("2001::/23", "IETF protocol assignment"),
        ("2001:db8::/32", "documentation"),
        ("3fff::/20", "documentation"),
        ("5f00::/16", "SRv6 segment identifier"),
        ("fc00::/7", "private"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local"),
        ("ff00::/8", "multicast"),
    )
]
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[tuple[str, ipaddress.IPv4Address]]:
    """The IPv4 addresses inside an IPv6 address (IPv4-mapped, 6to4, NAT64, Teredo server and client)."""
    if ip.ipv4_mapped is not None:
        return [("IPv4-mapped", ip.ipv4_mapped)]
    if ip.sixtofour is not None:
        return [("6to4", ip.sixtofour)]
    if ip in _NAT64:
        return [("NAT64", ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))]
    if ip.teredo is not None:
        server, client = ip.teredo
        return [("Teredo server", server), ("Teredo client", client)]
    return []


def _own_reason(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    for network, reason in _BLOCKS:
        if ip.version == network.version and ip in network:
            return reason
    for reason, flag in (("loopback", ip.is_loopback), ("link-local", ip.is_link_local),
                         ("private", ip.is_private), ("multicast", ip.is_multicast),
                         ("unspecified", ip.is_unspecified), ("reserved", ip.is_reserved)):
        if flag:
            return reason
    return None if ip.is_global else "non-global"


def refused_reason(address: str) -> str | None:
    """Say why an address is off limits to a shared server (loopback, private, ...), or None when it is public.

    Only globally reachable addresses pass. An IPv6 address that carries an IPv4 address (IPv4-mapped, 6to4,
    NAT64, Teredo) is judged by that IPv4 address too: 2002:7f00:1:: reaches 127.0.0.1 through a 6to4 relay.
    """
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        for kind, inner in embedded:
            reason = _own_reason(inner)
            if reason:
                return f"{kind} (carrying {reason} {inner})"
        if embedded and ip.teredo is None:
            # IPv4-mapped, 6to4 and NAT64 are as reachable as the IPv4 address they carry (NAT64's 64:ff9b::/96
            # is all that an IPv6-only network with DNS64 gets for an IPv4-only host).
            return None
    return _own_reason(ip)


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
