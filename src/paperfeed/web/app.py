"""The web app factory: FastAPI with Jinja2 pages, the JSON API, feeds, security middleware and error pages."""

from __future__ import annotations

import os
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, StrictUndefined
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..config import Settings
from ..storage import STORE_ERRORS, open_store
from .context import ContextPool
from .queries import NotFound
from .pagecache import PageCache, PageCacheMiddleware
from .security import SecurityMiddleware, load_secret
from .users import SESSION_COOKIE, make_limiters

STATIC = Path(__file__).parent / "static"
API_PREFIX = "/api/v1"


def templates() -> Environment:
    """The page templates; autoescape is on for every template, so ingested text is always shown as text."""
    env = Environment(loader=PackageLoader("paperfeed.web", "templates"), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["authors_short"] = lambda names, n=5: ", ".join(names[:n]) + (" et al." if len(names) > n else "")
    env.filters["percent"] = lambda value: f"{value * 100:.0f}%"
    return env


def render(request: Request, template: str, status: int = 200, **values: Any) -> HTMLResponse:
    """Render a page template with the request's CSRF token and the current user at hand."""
    env: Environment = request.app.state.templates
    state = request.scope.get("state", {})
    values.setdefault("user", state.get("user"))
    html = env.get_template(template).render(request=request, csrf_token=state.get("csrf_token", ""),
                                         path=request.url.path, **values)
    return HTMLResponse(html, status_code=status)


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response serialized with orjson (fast, and the store's dicts are already plain)."""
    return Response(orjson.dumps(data), status_code=status, media_type="application/json", headers=headers)


def _is_api(request: Request) -> bool:
    return request.url.path.startswith(API_PREFIX) or request.url.path == "/openapi.json"


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

    # /docs is our own server-rendered page (routes_docs): FastAPI's Swagger UI loads its scripts from a CDN.
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
    app.add_middleware(SecurityMiddleware, secret=secret)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    from . import (routes_account, routes_api, routes_api_library, routes_docs, routes_feeds, routes_library,
                   routes_pages)

    # Feeds first: /items/<id>.bib and /topics/<slug>.atom would otherwise match the page routes.
    app.include_router(routes_feeds.router)
    app.include_router(routes_pages.router)
    app.include_router(routes_account.router)
    app.include_router(routes_library.router)
    app.include_router(routes_api.router, prefix=API_PREFIX)
    app.include_router(routes_api_library.router, prefix=API_PREFIX)
    app.include_router(routes_docs.router)
    _error_handlers(app)
    return app


def _error_handlers(app: FastAPI) -> None:
    """Friendly pages and JSON errors for user mistakes; a store fault is a 503 page, never a traceback."""

    def error(request: Request, status: int, message: str, headers: dict[str, str] | None = None) -> Response:
        if _is_api(request):
            return json_response({"error": message, "status": status}, status, headers)
        response = render(request, "error.html", status=status, status_code=status, message=message)
        for key, value in (headers or {}).items():
            response.headers[key] = value
        return response

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
        if _is_api(request):
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
