"""The web app factory: FastAPI with Jinja2 pages, the JSON API, feeds, security middleware and error pages.

This module builds the app from the others (``routes``, ``rendering``, ``context``, the middleware); nothing in
``web`` imports it back.
"""

from __future__ import annotations

import os
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..config import Settings
from ..search import QueryTooLarge
from ..storage import STORE_ERRORS, open_store
from .context import ContextPool
from .limits import BodyLimitMiddleware
from .pagecache import PageCache, PageCacheMiddleware
from .queries import NotFound
from .rendering import API_PREFIX, STATIC, is_api, json_response, render, templates
from .routes import account, api, api_library, docs, feeds, library, pages
from .security import SecurityMiddleware, load_secret
from .users import SESSION_COOKIE, make_limiters


def create_app(settings: Settings) -> FastAPI:
    """Build the app for a store; nothing is opened until the first request (the store is migrated now)."""
    # Migrate once here, so request connections can open the store without writing to it.
    with open_store(settings.db) as store:
        secret = settings.secret_key.encode() if settings.secret_key else load_secret(store)

    pool = ContextPool(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        pool.close()

    # /docs is our own server-rendered page (routes/docs.py): FastAPI's Swagger UI loads its scripts from a CDN.
    app = FastAPI(title="paperfeed", version="1", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url="/openapi.json",
                  description="Read-only JSON API of a paperfeed store: items with provenance, search, topics, "
                              "authors. Every HTML page has a twin here built from the same query layer.")
    app.state.settings = settings
    app.state.pool = pool
    app.state.templates = templates()
    app.state.limiters = make_limiters()
    if settings.page_cache_seconds > 0:
        # Added first, so it runs inside SecurityMiddleware (which sets the visitor's token and adds headers).
        app.state.page_cache = PageCache(lambda: pool.read(lambda store: store.store_version()),
                                         max_age=settings.page_cache_seconds)
        app.add_middleware(PageCacheMiddleware, cache=app.state.page_cache, session_cookie=SESSION_COOKIE)
    app.add_middleware(SecurityMiddleware, secret=secret, session_cookie=SESSION_COOKIE)
    # Outermost: an oversized body is refused before anything reads it (the CSRF check reads form bodies).
    app.add_middleware(BodyLimitMiddleware, limit=settings.web_max_body_bytes)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    # Feeds first: /items/<id>.bib and /topics/<slug>.atom would otherwise match the page routes.
    app.include_router(feeds.router)
    app.include_router(pages.router)
    app.include_router(account.router)
    app.include_router(library.router)
    app.include_router(api.router, prefix=API_PREFIX)
    app.include_router(api_library.router, prefix=API_PREFIX)
    app.include_router(docs.router)
    _error_handlers(app)
    return app


def _error_handlers(app: FastAPI) -> None:
    """Friendly pages and JSON errors for user mistakes; a store fault is a 503 page, never a traceback."""

    def error(request: Request, status: int, message: str, headers: dict[str, str] | None = None) -> Response:
        if is_api(request):
            return json_response({"error": message, "status": status}, status, headers)
        response = render(request, "error.html", status=status, status_code=status, message=message)
        for key, value in (headers or {}).items():
            response.headers[key] = value
        return response

    @app.exception_handler(QueryTooLarge)
    async def query_too_large(request: Request, exc: QueryTooLarge):
        return error(request, exc.status, str(exc))

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound):
        return error(request, 404, str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        messages = {404: "There is no page at this address.", 405: "This address does not accept that method."}
        message = exc.detail if isinstance(exc.detail, str) and exc.detail not in (
            "Not Found", "Method Not Allowed") else messages.get(exc.status_code, str(exc.detail))
        return error(request, exc.status_code, message, getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError):
        problems = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or 'request'}: {e.get('msg')}"
                             for e in exc.errors())
        if is_api(request):
            return json_response({"error": problems, "status": 422}, 422)
        return error(request, 400, f"That request has a value we cannot use — {problems}.")

    @app.exception_handler(ValueError)
    async def bad_value(request: Request, exc: ValueError):
        return error(request, 400, str(exc))

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception):
        # Logged by the server with its traceback; the visitor gets a page, not the stack.
        return error(request, 500, "Something went wrong on our side; it has been logged.")

    for kind in STORE_ERRORS:
        @app.exception_handler(kind)
        async def store_error(request: Request, exc: Exception):
            return error(request, 503, "The store is busy or unavailable; try again in a moment.",
                         {"Retry-After": "5"})


def create_app_from_env() -> FastAPI:
    """The app for uvicorn workers: settings from the environment (``paperfeed serve`` sets PAPERFEED_DB)."""
    return create_app(Settings.load(db=os.environ.get("PAPERFEED_DB")))
