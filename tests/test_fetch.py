"""The HTTP client against a real server on 127.0.0.1: retries, timeouts, politeness, conditional GET, URL safety."""

from __future__ import annotations

import re
from collections import deque

import pytest

from paperfeed.config import Settings
from paperfeed.fetch import FetchError, HttpClient, Pacer, Rule, UnsafeURLError, check_url
from paperfeed.fetch.client import backoff_delay, retry_after_seconds, user_agent
from paperfeed.fetch.politeness import ARXIV, HUGGING_FACE, group_for, wait_needed
from paperfeed.fetch.urls import refused_reason
from replay_server import SYNC_DATA, ReplayServer, Reply, xml

BODY = (SYNC_DATA / "error_noRecordsMatch.xml").read_bytes()


def make_client(*, interval=0.0, hf_calls=0, hf_window=0.0, timeout=2.0, retries=3, retry_delay=0.01,
                retry_max_delay=5.0, allow_private=True, contact="ops@example.org") -> HttpClient:
    pacer = Pacer({ARXIV: Rule(interval=interval), HUGGING_FACE: Rule(max_calls=hf_calls, window=hf_window)},
                  default=Rule())
    return HttpClient(user_agent=user_agent(contact), pacer=pacer, timeout=timeout, retries=retries,
                      retry_delay=retry_delay, retry_max_delay=retry_max_delay, allow_private=allow_private)


@pytest.fixture
def server():
    with ReplayServer() as running:
        running.route("/oai", xml(BODY))
        yield running


def test_user_agent_names_paperfeed_and_the_contact(server):
    with make_client() as client:
        response = client.get(server.url("/oai"))
    assert response.status == 200 and response.content == BODY
    agent = server.requests()[0].headers["user-agent"]
    assert agent.startswith("paperfeed/") and "ops@example.org" in agent


def test_503_with_retry_after_is_retried_after_the_servers_delay(server):
    server.fail_next("/oai", Reply(503, b"busy", {"Retry-After": "1"}))
    with make_client() as client:
        response = client.get(server.url("/oai"))
    assert response.content == BODY and response.attempts == 2
    first, second = server.requests("/oai")
    assert second.at - first.at >= 1.0


def test_429_and_500_are_retried_with_backoff(server):
    server.fail_next("/oai", Reply(429, b"slow down"), Reply(500, b"oops"))
    with make_client(retry_delay=0.1) as client:
        response = client.get(server.url("/oai"))
    assert response.attempts == 3
    times = [request.at for request in server.requests("/oai")]
    # Equal jitter: the n-th wait is between half and all of 0.1 * 2**n.
    assert times[1] - times[0] >= 0.05 and times[2] - times[1] >= 0.1


def test_a_stall_past_the_read_timeout_is_cut_and_retried(server):
    server.fail_next("/oai", Reply(200, BODY, stall=1.0))
    with make_client(timeout=0.3) as client:
        response = client.get(server.url("/oai"))
    assert response.content == BODY and response.attempts == 2


def test_a_truncated_body_is_retried(server):
    server.fail_next("/oai", Reply(200, BODY, {"Content-Type": "text/xml"}, truncate_to=100))
    with make_client() as client:
        response = client.get(server.url("/oai"))
    assert response.content == BODY and response.attempts == 2


def test_persistent_failure_gives_up_with_a_clear_message(server):
    server.fail_next("/oai", *[Reply(503, b"down")] * 3)
    with make_client(retries=2) as client, pytest.raises(FetchError) as failure:
        client.get(server.url("/oai"))
    assert "HTTP 503" in failure.value.message and "gave up after 3 attempts" in failure.value.message
    assert len(server.requests("/oai")) == 3


def test_a_4xx_is_not_retried(server):
    with make_client() as client, pytest.raises(FetchError, match="HTTP 404 Not Found"):
        client.get(server.url("/missing"))
    assert len(server.requests("/missing")) == 1


def test_a_retry_after_longer_than_allowed_fails_at_once(server):
    server.fail_next("/oai", Reply(503, b"later", {"Retry-After": "3600"}))
    with make_client(retry_max_delay=10) as client, pytest.raises(FetchError, match="retry after 3600 s"):
        client.get(server.url("/oai"))
    assert len(server.requests("/oai")) == 1


def test_conditional_get_sends_the_validators_and_reads_304(server):
    def conditional(request):
        if request.headers.get("if-none-match") == '"v1"':
            return Reply(304, b"", {"ETag": '"v1"'})
        return Reply(200, BODY, {"ETag": '"v1"', "Last-Modified": "Mon, 15 Jan 2024 05:00:02 GMT"})

    server.route("/feed", conditional)
    with make_client() as client:
        first = client.get(server.url("/feed"))
        second = client.get(server.url("/feed"), etag=first.etag, last_modified=first.last_modified)
    assert first.etag == '"v1"' and not first.not_modified
    assert second.not_modified and second.content == b""
    assert server.requests("/feed")[1].headers["if-modified-since"] == "Mon, 15 Jan 2024 05:00:02 GMT"


def test_arxiv_interval_holds_across_its_interfaces_over_one_connection(server):
    server.route("/rss", xml(BODY))
    server.route("/api", xml(BODY))
    with make_client(interval=0.25) as client:
        for path in ("/rss", "/api", "/oai", "/api", "/rss"):
            client.get(server.url(path), kind="arxiv")
    requests = server.requests()
    gaps = [later.at - earlier.at for earlier, later in zip(requests, requests[1:])]
    assert len(gaps) == 4 and min(gaps) >= 0.25, gaps
    assert len({request.client_port for request in requests}) == 1, "arXiv requests must share one connection"


def test_hugging_face_calls_stay_within_the_window_cap(server):
    server.route("/api/daily_papers", xml(BODY))
    window, cap = 0.4, 3
    with make_client(hf_calls=cap, hf_window=window) as client:
        for _ in range(7):
            client.get(server.url("/api/daily_papers"), kind="hf-daily")
    times = [request.at for request in server.requests()]
    for index, start in enumerate(times):
        assert sum(1 for moment in times[index:] if moment < start + window - 0.02) <= cap, times


def test_a_redirect_to_another_scheme_is_refused(server):
    server.route("/moved", Reply(302, b"", {"Location": "file:///etc/passwd"}))
    with make_client() as client, pytest.raises(FetchError, match="only http and https"):
        client.get(server.url("/moved"))


def test_loopback_is_refused_unless_allowed(server):
    with make_client(allow_private=False) as client, pytest.raises(FetchError, match="loopback"):
        client.get(server.url("/oai"))
    assert server.requests() == [], "a refused URL must not be requested at all"


def test_a_name_that_rebinds_to_loopback_after_the_check_is_refused_at_connect(server):
    # A rebinding name server: a public address for the URL check, then the replay server's loopback address.
    answers = deque([["93.184.216.34"], ["127.0.0.1"]])
    client = HttpClient(user_agent="t", pacer=Pacer({}, default=Rule()), retries=0, allow_private=False,
                        resolver=lambda host, port: answers.popleft() if answers else ["127.0.0.1"])
    with client, pytest.raises(FetchError, match="refused connection to rebind.test: .*loopback address 127.0.0.1"):
        client.get(f"http://rebind.test:{server.httpd.server_address[1]}/oai")
    assert not answers, "the URL check and the connection each resolved the name once"
    assert server.requests() == [], "nothing may reach the address the name rebound to"


def test_the_connection_goes_to_the_checked_address_under_the_url_host_name(server):
    # allow_private only lets the loopback address pass the check: it is still the one connected to.
    client = HttpClient(user_agent="t", pacer=Pacer({}, default=Rule()), retries=0, allow_private=True,
                        resolver=lambda host, port: ["127.0.0.1"] if host == "feed.test" else [])
    with client:
        response = client.get(f"http://feed.test:{server.httpd.server_address[1]}/oai")
    assert response.status == 200 and response.content == BODY
    assert server.requests()[0].headers["host"] == f"feed.test:{server.httpd.server_address[1]}"


@pytest.mark.parametrize("url, addresses, reason", [
    ("http://intranet.example/", ["10.1.2.3"], "private"),
    ("http://metadata.example/", ["169.254.169.254"], "link-local"),
    ("http://mixed.example/", ["93.184.216.34", "192.168.0.7"], "private"),
    ("http://v6.example/", ["::1"], "loopback"),
    ("http://mapped.example/", ["::ffff:127.0.0.1"], "loopback"),
    ("http://[fe80::1]/", ["fe80::1"], "link-local"),
])
def test_every_resolved_address_is_checked(url, addresses, reason):
    with pytest.raises(UnsafeURLError, match=reason):
        check_url(url, resolver=lambda host, port: addresses)
    check_url(url, allow_private=True, resolver=lambda host, port: addresses)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.org/x", "gopher://x/", "http:///nohost",
                                 "http://example.org:99999/"])
def test_only_http_and_https_urls_with_a_host(url):
    with pytest.raises(UnsafeURLError):
        check_url(url, allow_private=True)


@pytest.mark.parametrize("address, reason", [
    ("100.100.100.200", "shared (carrier-grade NAT)"),  # a cloud metadata address
    ("100.64.0.1", "shared (carrier-grade NAT)"),
    ("192.0.0.192", "IETF protocol assignment"),
    ("192.88.99.1", "6to4 relay anycast"),
    ("198.18.0.1", "benchmarking"),
    ("224.0.0.251", "multicast"),
    ("255.255.255.255", "reserved"),
    ("2002:7f00:1::", "6to4 (carrying loopback 127.0.0.1)"),
    ("2002:a9fe:a9fe::1", "6to4 (carrying link-local 169.254.169.254)"),
    ("2002:6464:64c8::", "6to4 (carrying shared (carrier-grade NAT) 100.100.100.200)"),
    ("64:ff9b::a00:1", "NAT64 (carrying private 10.0.0.1)"),
    ("64:ff9b:1::1", "local-use NAT64"),
    ("2001:0:808:808::f5f7:f7f7", "Teredo client (carrying private 10.8.8.8)"),  # the client is stored inverted
    ("2001:0:808:808::f7f7:f7f7", "Teredo"),
    ("::ffff:100.100.100.200", "IPv4-mapped (carrying shared (carrier-grade NAT) 100.100.100.200)"),
    ("::7f00:1", "IPv4-compatible"),
    ("fec0::1", "site-local"),
    ("ff0e::1", "multicast"),
    ("3fff::1", "documentation"),
])
def test_only_globally_reachable_addresses_pass(address, reason):
    assert refused_reason(address) == reason
    with pytest.raises(UnsafeURLError, match=f"resolves to {re.escape(reason)} address {re.escape(address)}"):
        check_url("http://host.example/", resolver=lambda host, port: ["93.184.216.34", address])
    check_url("http://host.example/", allow_private=True, resolver=lambda host, port: [address])


def test_a_name_that_rebinds_to_the_metadata_address_is_refused_at_connect(server):
    answers = deque([["93.184.216.34"], ["100.100.100.200"]])
    client = HttpClient(user_agent="t", pacer=Pacer({}, default=Rule()), retries=0, allow_private=False,
                        resolver=lambda host, port: answers.popleft())
    with client, pytest.raises(FetchError, match=r"refused connection to rebind.test: .*carrier-grade NAT\) "
                                                 r"address 100.100.100.200"):
        client.get("http://rebind.test/latest/meta-data/")
    assert not answers


def test_public_addresses_pass():
    check_url("https://export.arxiv.org/api/query", resolver=lambda host, port: ["128.84.21.199"])
    for address in ("2606:4700::1111", "8.8.8.8", "2002:808:808::", "64:ff9b::808:808", "::ffff:8.8.8.8",
                    "2001:4860:4860::8888"):
        assert refused_reason(address) is None, address


def test_backoff_doubles_with_jitter_and_honours_retry_after():
    top = lambda low, high: high  # noqa: E731
    assert [backoff_delay(n, 2.0, 300.0, None, top) for n in range(4)] == [2.0, 4.0, 8.0, 16.0]
    assert backoff_delay(0, 2.0, 300.0, None, lambda low, high: low) == 1.0
    assert backoff_delay(0, 2.0, 300.0, 30.0, top) == 30.0
    assert backoff_delay(20, 2.0, 300.0, None, top) == 300.0
    assert backoff_delay(0, 2.0, 300.0, 301.0, top) is None


def test_retry_after_reads_seconds_and_http_dates():
    assert retry_after_seconds("120") == 120.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


def test_politeness_decisions():
    rule = Rule(interval=3.0)
    assert wait_needed(rule, 10.0, None, deque()) == 0.0
    assert wait_needed(rule, 10.0, 8.0, deque()) == 1.0
    capped = Rule(max_calls=2, window=300.0)
    assert wait_needed(capped, 100.0, None, deque([10.0, 50.0])) == 210.0
    assert wait_needed(capped, 100.0, None, deque([50.0])) == 0.0
    assert group_for("https://export.arxiv.org/api/query") == group_for("https://rss.arxiv.org/rss/cs.LG") == ARXIV
    assert group_for("http://127.0.0.1:8080/oai", kind="arxiv-oai") == ARXIV
    assert group_for("https://huggingface.co/api/daily_papers") == HUGGING_FACE
    assert group_for("https://www.theguardian.com/us/rss") == "www.theguardian.com"


def test_settings_build_the_client_from_the_environment(monkeypatch):
    monkeypatch.setenv("PAPERFEED_ARXIV_INTERVAL", "0.5")
    monkeypatch.setenv("PAPERFEED_ALLOW_PRIVATE_URLS", "yes")
    settings = Settings.load(db="x.db")
    assert settings.arxiv_interval == 0.5 and settings.allow_private_urls is True and settings.hf_max_calls == 500
    monkeypatch.setenv("PAPERFEED_HTTP_TIMEOUT", "soon")
    from paperfeed.config import SettingsError

    with pytest.raises(SettingsError, match="PAPERFEED_HTTP_TIMEOUT"):
        Settings.load(db="x.db")
