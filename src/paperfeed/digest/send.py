"""Build and send digests over SMTP: subscribe (double opt-in), confirm, send a day, unsubscribe.

At most once per subscriber and day: before a digest is handed to the SMTP server its row in the sent
log is committed as ``sending``, and marked ``sent`` once the server accepted it. A rerun skips both.
A crash between the two leaves the row ``sending``: the server may or may not have taken the mail, and
sending again could deliver it twice, so it is reported as "in doubt" and not resent. A definite
refusal (an SMTP error reply) deletes the row, so the next run tries that subscriber again.
"""

from __future__ import annotations

import functools
import smtplib
import ssl
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import format_datetime, formataddr
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from ..config import public_base_url
from ..daily import TrendingWeights, daily_page
from ..library.accounts import AccountError, check_email
from ..storage import Store, Subscriber
from . import tokens
from .outbox import Outbox

TEMPLATES = Path(__file__).parent / "templates"
RECOMMENDATIONS_PER_TAG = 3
LINK_SCHEMES = ("http", "https")
"""The only schemes an ingested link may have to reach a mail (the web pages keep the same ones)."""
UNFOLDED_HEADERS = ("list-unsubscribe", "list-unsubscribe-post")
MAX_HEADER_LINE = 998
"""RFC 5322's limit on a line, header name and CRLF aside."""


class DigestError(RuntimeError):
    """A digest that cannot be built or sent (no sender configured, SMTP unreachable, bad address or token)."""


@dataclass(slots=True)
class DigestReport:
    day: str
    papers: int = 0
    sent: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    """Already sent that day."""
    in_doubt: list[str] = field(default_factory=list)
    """Logged as sending by a run that crashed: not resent (at most once)."""
    refused: list[str] = field(default_factory=list)
    """The server refused them (logged as "not sent": a rerun tries again)."""
    nothing_new: bool = False
    failing_sources: list[str] = field(default_factory=list)
    """Sources whose last sync failed, in words: the digest may be short of their papers, and says so."""


def failing_sources(store: Store) -> list[str]:
    """One line per source whose last sync failed: its name, since when, and the error."""
    return [f"{source.label or source.name} has failed {source.failures} time{'s' if source.failures > 1 else ''} "
            f"in a row since {source.last_ok_at or 'it was added'} ({source.last_error})"
            for source in store.sources() if source.failures]


def _environment():
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    # Autoescape HTML (titles and abstracts are third-party text); the .txt part is plain text.
    return Environment(loader=FileSystemLoader(str(TEMPLATES)), undefined=StrictUndefined,
                       autoescape=select_autoescape(["html"], default_for_string=False, default=False))


def _secret(store: Store, settings) -> str:
    return settings.secret_key or store.app_secret("digest", tokens.new_secret)


def _url(settings, path: str, **query: str) -> str:
    base = public_base_url(settings)
    return f"{base}{path}" + (f"?{urlencode(query)}" if query else "")


def _sender(settings) -> str:
    if not settings.digest_from:
        raise DigestError("no sender address: set digest_from (PAPERFEED_DIGEST_FROM)")
    try:
        return check_email(settings.digest_from)
    except AccountError as error:
        raise DigestError(f"digest_from: {error}") from None


class MailPolicy(EmailPolicy):
    """The standard library's e-mail policy, except that the RFC 8058 headers are written as they are, on one line.

    The default policy folds a header whose one word is longer than a line by RFC 2047-encoding it, so
    ``List-Unsubscribe: <https://...>`` went out as ``=?utf-8?q?=3Chttps...?=`` and a mail client reading the raw
    header found no ``<URL>``, so no one-click unsubscribe. ``build_digest`` checks such a header fits one line.
    """

    def fold(self, name: str, value: str) -> str:
        if name.lower() in UNFOLDED_HEADERS:
            return self._unfolded(name, value)
        return super().fold(name, value)

    def fold_binary(self, name: str, value: str) -> bytes:
        if name.lower() in UNFOLDED_HEADERS:
            return self._unfolded(name, value).encode("ascii")
        return super().fold_binary(name, value)

    def _unfolded(self, name: str, value: str) -> str:
        value = str(value)
        if not value.isascii() or "\r" in value or "\n" in value or len(name) + 2 + len(value) > MAX_HEADER_LINE:
            raise ValueError(f"{name} header does not fit one line of ASCII: {value!r}")
        return f"{name}: {value}{self.linesep}"


MAIL_POLICY = MailPolicy()


def _message(settings, to: str, subject: str, text: str, html: str, message_id: str | None = None) -> EmailMessage:
    message = EmailMessage(policy=MAIL_POLICY)
    message["From"] = formataddr(("paperfeed", _sender(settings)))
    message["To"] = check_email(to)
    message["Subject"] = subject
    from datetime import datetime, timezone

    message["Date"] = format_datetime(datetime.now(timezone.utc))
    host = urlsplit(public_base_url(settings)).hostname or "paperfeed.invalid"
    message["Message-ID"] = message_id or f"<{tokens.new_secret()[:24]}@{host}>"
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


def open_smtp(settings) -> smtplib.SMTP:
    """Connect and log in to the configured SMTP server; raise DigestError with the reason if that fails.

    With ``mail_outbox`` set, mail goes to that folder as ``.eml`` files instead (``outbox.Outbox``)."""
    if settings.mail_outbox:
        try:
            return Outbox(settings.mail_outbox)  # type: ignore[return-value]  # the part of SMTP the senders use
        except OSError as error:
            raise DigestError(f"mail_outbox {settings.mail_outbox!r}: cannot use the folder: {error}") from None
    security = settings.smtp_security.lower()
    if security not in ("starttls", "tls", "none"):
        raise DigestError(f"smtp_security={settings.smtp_security!r}: choose starttls, tls or none")
    port = settings.smtp_port or {"tls": 465, "starttls": 587, "none": 25}[security]
    where = f"{settings.smtp_host}:{port}"
    try:
        if security == "tls":
            smtp = smtplib.SMTP_SSL(settings.smtp_host, port, timeout=settings.smtp_timeout,
                                    context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(settings.smtp_host, port, timeout=settings.smtp_timeout)
            if security == "starttls":
                smtp.ehlo()
                if not smtp.has_extn("starttls"):
                    smtp.quit()
                    raise DigestError(f"SMTP server {where} does not offer STARTTLS (smtp_security=starttls)")
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
        if settings.smtp_user:
            if security == "none":
                smtp.quit()
                raise DigestError("refusing to send SMTP credentials without TLS (smtp_security=none)")
            smtp.login(settings.smtp_user, settings.smtp_password)
    except (OSError, smtplib.SMTPException) as error:
        raise DigestError(f"cannot use SMTP server {where}: {error}") from None
    return smtp


# -- subscriptions --------------------------------------------------------------------------------

def subscribe(store: Store, settings, email: str, user_email: str | None = None,
              smtp: smtplib.SMTP | None = None, frequency: str = "daily") -> Subscriber:
    """Add a pending subscriber (``daily`` or ``weekly``) and mail them a confirmation link (nothing for an active
    one, who keeps their frequency)."""
    if frequency not in SPANS.values():
        raise DigestError(f"unknown frequency {frequency!r}: daily or weekly")
    try:
        email = check_email(email)
    except AccountError as error:
        raise DigestError(str(error)) from None
    user_id = None
    if user_email:
        user = store.user_by_email(user_email)
        if user is None:
            raise DigestError(f"no account for {user_email}")
        user_id = user.id
    subscriber = store.add_subscriber(email, user_id, frequency)
    if subscriber.status == "active":
        return subscriber
    token = tokens.make_token(_secret(store, settings), tokens.CONFIRM, subscriber.id, subscriber.email)
    values = {"email": subscriber.email, "confirm_url": _url(settings, "/digest/confirm", token=token)}
    environment = _environment()
    message = _message(settings, subscriber.email, "Confirm your paperfeed digest",
                       environment.get_template("confirm.txt").render(values),
                       environment.get_template("confirm.html").render(values))
    _send_one(settings, message, smtp)
    return subscriber


def _send_one(settings, message: EmailMessage, smtp: smtplib.SMTP | None) -> None:
    connection = smtp or open_smtp(settings)
    try:
        connection.send_message(message)
    except (OSError, smtplib.SMTPException) as error:
        if isinstance(connection, Outbox):
            raise DigestError(f"cannot write the mail to {message['To']} into mail_outbox: {error}") from None
        raise DigestError(f"the SMTP server did not take the mail to {message['To']}: {error}") from None
    finally:
        if smtp is None:
            _quit(connection)


def _quit(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        pass  # the mail is sent or not by now; a failed goodbye changes nothing


def _check(store: Store, settings, token: str, purpose: str) -> Subscriber:
    try:
        subscriber_id = tokens.token_subscriber(token.strip(), purpose)
        subscriber = store.subscriber(subscriber_id)
        if subscriber is None:
            raise tokens.TokenError("no such subscriber")
        tokens.verify_token(_secret(store, settings), token.strip(), purpose, subscriber.email)
    except tokens.TokenError as error:
        raise DigestError(f"invalid {purpose} link: {error}") from None
    return subscriber


def confirm(store: Store, settings, token: str) -> Subscriber:
    """Activate the subscriber of a confirmation token."""
    subscriber = _check(store, settings, token, tokens.CONFIRM)
    if subscriber.status == "unsubscribed":
        raise DigestError(f"{subscriber.email} unsubscribed since this link was sent: subscribe again")
    store.set_subscriber_status(subscriber.id, "active")
    return store.subscriber(subscriber.id)


def unsubscribe(store: Store, settings, token: str) -> Subscriber:
    """Unsubscribe the subscriber of an unsubscribe token (idempotent)."""
    subscriber = _check(store, settings, token, tokens.UNSUBSCRIBE)
    store.set_subscriber_status(subscriber.id, "unsubscribed")
    return store.subscriber(subscriber.id)


# -- the digest -----------------------------------------------------------------------------------

def safe_link(url: str | None) -> str | None:
    """``url`` if it is an absolute http(s) URL with a host and no space or control character in it, else None.

    Ingested URLs are third-party text: a ``javascript:`` or ``data:`` link (in any case, behind any space) must
    never reach a mail, as it never reaches a web page, and a line break in one would start a line of its own in
    the text part.
    """
    if not url:
        return None
    url = url.strip()
    if any(unicodedata.category(char)[0] in "CZ" for char in url):  # controls, format characters, spaces
        return None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return None
    return url if parts.scheme.lower() in LINK_SCHEMES and parts.hostname else None


def _link(url: str | None, arxiv_id: str | None, item_id: int, settings) -> str:
    if arxiv_id:
        return f"https://arxiv.org/abs/{arxiv_id}"
    return safe_link(url) or _url(settings, f"/items/{item_id}")


def _authors(names: list[str]) -> str:
    return ", ".join(names[:4]) + (" et al." if len(names) > 4 else "")


SPANS = {"day": "daily", "week": "weekly"}
"""A digest's span and the subscribers' frequency that gets it."""


def digest_day(store: Store, settings, day: date, embedder=None, span: str = "day"):
    """Return the ranked page of the day (or the ISO week holding it) for digests (``page.total == 0``: nothing
    new)."""
    return daily_page(store, day, span, TrendingWeights.from_settings(settings), limit=settings.digest_size)


def _period(page) -> tuple[str, str]:
    """(what the digest covers, "more papers …" phrase): a day, or the ISO week by its Monday."""
    if page.span == "week":
        return f"week of {page.start}", f"in the week of {page.start}"
    return page.start, f"on {page.start}"


def digest_key(page) -> str:
    """The digest's key in the sent log: the day, or ``week:<Monday>`` (never equal to a day's key)."""
    return f"week:{page.start}" if page.span == "week" else page.start


def render(store: Store, settings, subscriber: Subscriber, page, embedder=None,
           failing: list[str] | None = None, keyword_search=None) -> tuple[str, str, str]:
    """Return (unsubscribe URL, text part, HTML part) of one subscriber's digest of ``page``; ``failing``
    (default: read from the store) names the sources whose last sync failed, which the mail mentions;
    ``keyword_search`` () -> the search that saved searches run (default: the store's keyword index, opened
    here; ``send_digests`` opens it once for every subscriber)."""
    from ..library.recommend import recommend_for_user

    entries = [{"title": e.title, "authors": _authors(e.authors), "link": _link(e.url, e.arxiv_id, e.signals.item_id,
                                                                                  settings),
                "hf_upvotes": e.signals.hf_upvotes, "local_upvotes": e.signals.local_upvotes,
                "sources": e.signals.sources} for e in page.entries]
    tags = []
    if subscriber.user_id is not None:
        day_ids = store.recent_item_ids(page.start, page.end)
        per_tag = recommend_for_user(store, subscriber.user_id, embedder, per_tag=RECOMMENDATIONS_PER_TAG,
                                     candidate_ids=day_ids)
        documents = store.item_documents([r.item_id for recs in per_tag.values() for r in recs])
        for tag, recommendations in per_tag.items():
            rows = [{"title": documents[r.item_id].title, "reason": r.reason,
                     "link": _link(documents[r.item_id].url, documents[r.item_id].arxiv_id, r.item_id, settings)}
                    for r in recommendations if r.item_id in documents]
            if rows:
                tags.append((tag, rows))
        followed = _followed(store, settings, subscriber.user_id, set(day_ids), keyword_search)
    else:
        followed = []
    token = tokens.make_token(_secret(store, settings), tokens.UNSUBSCRIBE, subscriber.id, subscriber.email)
    unsubscribe_url = _url(settings, "/digest/unsubscribe", token=token)
    period, in_period = _period(page)
    values = {"day": period, "in_period": in_period, "entries": entries, "tags": tags, "email": subscriber.email,
              "unsubscribe_url": unsubscribe_url, "more": max(0, page.total - len(entries)),
              "page_url": _url(settings, f"/papers/{page.start}", **({"span": "week"} if page.span == "week" else {})),
              "failing": failing_sources(store) if failing is None else failing, "followed": followed,
              "status_url": _url(settings, "/status")}
    environment = _environment()
    return (unsubscribe_url, environment.get_template("digest.txt").render(values),
            environment.get_template("digest.html").render(values))


FOLLOWED_PER_SECTION = 5
"""Papers of the day listed under each follow in a digest (the follow's feed has the rest)."""
FOLLOWED_CANDIDATES = 500
"""Best matches of a saved search or keyword looked through for the day's papers."""


def _followed(store: Store, settings, user_id: int, day_ids: set[int],
              keyword_search=None) -> list[tuple[str, list[dict]]]:
    """For each follow the user put in the digest, the day's papers it covers: [(label, rows)], non-empty only."""
    from ..library.follows import follow_item_ids

    follows = store.digest_follows(user_id)
    if not follows or not day_ids:
        return []
    searches = any(f.kind in ("search", "keyword") for f in follows)
    search = (keyword_search or (lambda: _keyword_search(store, settings)))() if searches else None
    sections = []
    for follow in follows:
        ids = [item_id for item_id in follow_item_ids(store, follow, search, FOLLOWED_CANDIDATES)
               if item_id in day_ids][:FOLLOWED_PER_SECTION]
        documents = store.item_documents(ids)
        rows = [{"title": documents[i].title, "link": _link(documents[i].url, documents[i].arxiv_id, i, settings)}
                for i in ids if i in documents]
        if rows:
            sections.append((follow.label, rows))
    return sections


def _keyword_search(store: Store, settings):
    """(query, limit) -> item ids from the keyword index; None when there is no index to search."""
    from ..search import QueryLimits, SearchService
    from ..search.indexer import SearchIndexError, index_directory

    try:
        service = SearchService(store, index_directory(store, settings.index_dir), None,
                                QueryLimits.from_settings(settings))
    except (OSError, ValueError, SearchIndexError):
        return None

    def run(query: str, limit: int) -> list[int]:
        try:
            return [hit.id for hit in service.search(query, "keyword", limit).hits]
        except (OSError, ValueError, SearchIndexError):  # no index yet, or a query it refuses: no section
            return []
    return run


def build_digest(store: Store, settings, subscriber: Subscriber, page, message_id: str, embedder=None,
                 failing: list[str] | None = None, keyword_search=None) -> EmailMessage:
    """Build one subscriber's digest mail with RFC 8058 one-click unsubscribe headers."""
    unsubscribe_url, text, html = render(store, settings, subscriber, page, embedder, failing, keyword_search)
    message = _message(settings, subscriber.email, f"Trending papers, {_period(page)[0]}", text, html, message_id)
    host = urlsplit(public_base_url(settings)).hostname or "paperfeed.invalid"
    message["List-Id"] = f"paperfeed digest <digest.{host}>"
    header = f"<{unsubscribe_url}>"
    if not header.isascii() or len("List-Unsubscribe: ") + len(header) > MAX_HEADER_LINE:
        raise DigestError(f"base_url {public_base_url(settings)!r}: the unsubscribe URL must be ASCII and fit one "
                          f"header line of {MAX_HEADER_LINE} characters (write an international host name in punycode)")
    message["List-Unsubscribe"] = header
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return message


def preview(store: Store, settings, day: date, email: str | None = None, embedder=None) -> str:
    """Return the HTML of a day's digest, as a subscriber (or a made-up one) would get it."""
    subscriber = Subscriber(0, "subscriber@example.org", None, "active")
    if email:
        found = [s for s in store.subscribers() if s.email.lower() == email.lower()]
        if not found:
            raise DigestError(f"no subscriber {email}")
        subscriber = found[0]
    return render(store, settings, subscriber, digest_day(store, settings, day), embedder)[2]


def send_digests(store: Store, settings, day: date, embedder=None, smtp: smtplib.SMTP | None = None,
                 span: str = "day") -> DigestReport:
    """Mail ``day``'s digest to every active daily subscriber who has not had it (``span="week"``: the ISO week
    holding ``day`` to every weekly one); nothing when the day or week has no papers."""
    if span not in SPANS:
        raise DigestError(f"unknown digest span {span!r}: day or week")
    page = digest_day(store, settings, day, span=span)
    report = DigestReport(digest_key(page), papers=page.total, failing_sources=failing_sources(store))
    if page.total == 0:
        report.nothing_new = True
        return report
    _sender(settings)  # fail before connecting when no sender is configured
    host = urlsplit(public_base_url(settings)).hostname or "paperfeed.invalid"
    connection = smtp
    # The keyword index is opened once for the run, and only if a subscriber's saved search needs it.
    keyword_search = functools.cache(lambda: _keyword_search(store, settings))
    try:
        for subscriber in store.subscribers("active", SPANS[span]):
            status = store.digest_status(subscriber.id, report.day)
            if status == "sent":
                report.skipped.append(subscriber.email)
                continue
            if status == "sending":
                report.in_doubt.append(subscriber.email)
                continue
            message_id = f"<digest-{report.day.replace(':', '-')}-{subscriber.id}@{host}>"
            message = build_digest(store, settings, subscriber, page, message_id, embedder,
                                   failing=report.failing_sources, keyword_search=keyword_search)
            if connection is None:
                connection = open_smtp(settings)
            if not store.begin_digest(subscriber.id, report.day, message_id):
                report.skipped.append(subscriber.email)  # another run got there first
                continue
            try:
                connection.send_message(message)
            except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as error:
                # An error reply: the server did not take the mail. Forget the log row so a rerun retries.
                store.finish_digest(subscriber.id, report.day, delivered=False)
                report.refused.append(f"{subscriber.email}: {error}")
                if connection.sock is None:  # a 421 reply closes the connection
                    connection = None
                continue
            except (OSError, smtplib.SMTPException) as error:
                # The connection broke mid-transaction: the mail may or may not be delivered. The row stays
                # 'sending' (in doubt, never resent) and the run stops: rerun it for the others.
                raise DigestError(f"SMTP connection lost while sending to {subscriber.email}: {error}; "
                                  f"rerun to send the rest") from None
            store.finish_digest(subscriber.id, report.day, delivered=True)
            report.sent.append(subscriber.email)
    finally:
        if connection is not None and smtp is None:
            _quit(connection)
    return report
