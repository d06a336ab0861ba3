"""``paperfeed serve``: run the web app with uvicorn, and the periodic sync when ``sync_interval`` is set."""

from __future__ import annotations

import os

import click

from .common import fail, store_errors


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0: every interface).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Server processes (each with its own small pool of store connections).")
@click.pass_context
@store_errors
def serve(ctx: click.Context, host: str, port: int, workers: int) -> None:
    """Serve the web app and JSON API at http://HOST:PORT/ (periodic sync runs beside it when configured)."""
    from ..storage import StoreError
    from ..sync.schedule import start_scheduler
    from ..web.app import create_app
    from ..web.server import LimitedHttpToolsProtocol, listening_sockets, protocol_for, serve_one, serve_workers

    settings = ctx.obj
    try:
        # Fail here with one line, not in every worker: the store must open and migrate.
        app = create_app(settings)
        # Workers are fresh processes that read settings from the environment: hand them the resolved store
        # (a --db flag is not in their environment). They read the same key, from the setting or the store.
        os.environ["PAPERFEED_DB"] = settings.db
    except StoreError as error:
        fail(str(error), 2 if error.usage else 1)
    # Bind before saying "serving": a taken port is one line and exit 1, with no sync started.
    try:
        sockets = listening_sockets(host, port, workers)
    except OSError as error:  # the port taken, an address not on this machine
        fail(f"cannot listen on {_display(host)}:{port}: {error.strerror or error}", 1)
    scheduler = start_scheduler(settings)  # in this process only: workers would each sync otherwise
    click.echo(f"paperfeed: serving {settings.db} at http://{_display(host)}:{port}/ (Ctrl-C stops)", err=True)
    if settings.mail_outbox:
        click.echo(f"paperfeed: mail (digest confirmations, registration links) is written to "
                   f"{settings.mail_outbox}/ as .eml files (mail_outbox), not sent", err=True)
    try:
        # The httptools protocol with limits on request headers (size: 431, time: 408; web/server.py).
        if workers == 1:
            serve_one(app, sockets[0], log_level="warning", access_log=False, proxy_headers=True,
                      http=protocol_for(settings))
        else:
            # Workers read the limits from the environment, as they do the rest of the settings, and end when
            # this process does (worker_app), however it ends.
            # Each worker on a listening socket of its own, so connections are spread over them (web/server.py).
            serve_workers("paperfeed.web.server:worker_app", sockets, workers,
                          log_level="warning", access_log=False, proxy_headers=True, http=LimitedHttpToolsProtocol)
    finally:
        for sock in sockets:
            sock.close()
        if scheduler is not None:
            scheduler.stop(timeout=5)


def _display(host: str) -> str:
    return f"[{host}]" if ":" in host else host
