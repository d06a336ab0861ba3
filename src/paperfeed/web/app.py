"""The web app factory: FastAPI with Jinja2 pages, the JSON API, feeds, security middleware and error pages.

This module builds the app from the others (``routes``, ``rendering``, ``context``, the middleware); nothing in
``web`` imports it back.
"""

from __future__ import annotations

import os
import re
from contextlib import asynccontextmanager

import anyio.to_thread
import orjson

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import get_route_path

from ..config import Settings
from ..search import QueryTooLarge
from ..storage import open_store, store_errors
from .context import ContextPool
from .limits import BodyLimitMiddleware
from .changes import latest_counts
from .pagecache import PageCache, PageCacheMiddleware
from .queries import NotFound
from .rendering import API_PREFIX, STATIC, is_api, json_response, render, templates
from .routes import account, api, api_library, comments, docs, feeds, follows, library, pages
from .security import CSP, CSRF_COOKIE, HEADERS, SecurityMiddleware, load_secret
from .users import SESSION_COOKIE, load_user, make_limiters


def create_app(settings: Settings) -> FastAPI:
    """Build the app for a store; nothing is opened until the first request (the store is migrated now)."""
    # Migrate once here, so request connections can open the store without writing to it.
    with open_store(settings.db) as store:
        secret = settings.secret_key.encode() if settings.secret_key else load_secret(store)

    pool = ContextPool(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if settings.web_threads > 0:  # per worker process, set inside its event loop
            anyio.to_thread.current_default_thread_limiter().total_tokens = settings.web_threads
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
        app.state.page_cache = PageCache(
            lambda: pool.read(lambda store: store.store_version()), max_age=settings.page_cache_seconds,
            shared_changes=lambda: latest_counts(settings.db, lambda: pool.read(
                lambda store: store.shared_change_counts())))
        app.add_middleware(PageCacheMiddleware, cache=app.state.page_cache, session_cookie=SESSION_COOKIE)
    app.add_middleware(SecurityMiddleware, secret=secret, session_cookie=SESSION_COOKIE)
    # Added after it, so it runs first: a method no route at the address takes is a 405 before the CSRF check.
    app.add_middleware(MethodNotAllowedMiddleware, router=app.router)
    # Outermost: an oversized body is refused before anything reads it (the CSRF check reads form bodies).
    app.add_middleware(BodyLimitMiddleware, limit=settings.web_max_body_bytes)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        """Browsers and feed readers ask here whatever the page links: the same SVG icon, not a 404."""
        return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml",
                            headers={"Cache-Control": "max-age=86400"})

    # The API first: routes are matched in order, one by one, and nothing else lives under /api/v1, so its
    # calls (the busiest, from scripts) are not tried against every page first. Feeds before pages:
    # /items/<id>.bib and /topics/<slug>.atom would otherwise match the page routes.
    app.include_router(api.router, prefix=API_PREFIX)
    app.include_router(api_library.router, prefix=API_PREFIX)
    app.include_router(follows.api_router, prefix=API_PREFIX)
    app.include_router(comments.api, prefix=API_PREFIX)
    app.include_router(feeds.router)
    app.include_router(pages.router)
    app.include_router(account.router)
    app.include_router(library.router)
    app.include_router(follows.router)
    app.include_router(comments.pages)
    app.include_router(docs.router)
    _error_handlers(app)
    _openapi(app)
    return app


class MethodNotAllowedMiddleware:
    """Answer 405 with ``Allow`` when the address exists but no route there takes the method (TRACE, PUT, …).

    It runs before SecurityMiddleware, whose CSRF check would otherwise answer such a request 403: nothing can
    change state when no route takes the method, so there is nothing to protect, and 405 says what is wrong.
    A method some route at the address takes goes on to the CSRF check as before; GET and HEAD go straight on
    (routing answers those itself), as does an address no route matches (a 404).
    """

    def __init__(self, app, router) -> None:
        self.app = app
        self.router = router
        self.table: list[tuple[re.Pattern, frozenset[str] | None]] | None = None

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] not in ("GET", "HEAD"):
            if self.table is None:  # built on first use: every route is included by then
                self.table = _route_table(self.router)
            allowed = _methods_at(self.table, get_route_path(scope))
            if allowed is not None and scope["method"] not in allowed:
                await _method_not_allowed(scope, send, allowed)
                return
        await self.app(scope, receive, send)


def _route_table(router) -> list[tuple[re.Pattern, frozenset[str] | None]]:
    """(path pattern, methods) of every route, the included routers' ones with their prefixes; None: any method."""
    from fastapi.routing import iter_route_contexts

    table = []
    for route in iter_route_contexts(router.routes):
        pattern = getattr(route, "path_regex", None)
        if pattern is not None:
            methods = route.methods
            table.append((pattern, frozenset(methods) if methods else None))
    return table


def _methods_at(table, path: str) -> set[str] | None:
    """The methods the routes at ``path`` take; None when none matches it or one takes any method (a mount)."""
    allowed: set[str] = set()
    for pattern, methods in table:
        if pattern.match(path):
            if methods is None:
                return None
            allowed |= methods
    return allowed or None


async def _method_not_allowed(scope, send, allowed: set[str]) -> None:
    message = "This address does not accept that method."
    path = scope.get("path", "")
    if path.startswith(API_PREFIX) or path == "/openapi.json":
        body, kind = orjson.dumps({"error": message, "status": 405}), b"application/json"
    else:
        body, kind = f"{message}\n".encode(), b"text/plain; charset=utf-8"
    await send({"type": "http.response.start", "status": 405, "headers": [
        (b"content-type", kind), (b"content-length", str(len(body)).encode()),
        (b"allow", ", ".join(sorted(allowed)).encode()), (b"content-security-policy", CSP.encode()), *HEADERS]})
    await send({"type": "http.response.body", "body": body})


SECURITY_SCHEMES = {
    "session": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE,
                "description": "The session: POST /login (a form with email, password and csrf_token) sets it."},
    "csrfCookie": {"type": "apiKey", "in": "cookie", "name": CSRF_COOKIE,
                   "description": "The CSRF cookie, set by the first response to a visitor without one."},
    "csrfToken": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token",
                  "description": "The token matching the CSRF cookie, as GET /api/v1/me returns it; every POST "
                                 "carries it (a form may send it as the csrf_token field instead)."},
}
_ERROR = {"$ref": "#/components/schemas/Error"}
_HTML = {"text/html": {"schema": {"type": "string"}}}


def _openapi(app: FastAPI) -> None:
    """The OpenAPI document as the app answers: every status an operation can give, with the body it has.

    FastAPI documents a 422 with its own error shape and knows nothing of the middleware or the error
    handlers; the fuzzer in tests/test_api_fuzz.py checks every response against this document.
    """
    generate = app.openapi

    def openapi() -> dict:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()
        components = schema.setdefault("components", {})
        components["securitySchemes"] = SECURITY_SCHEMES
        schemas = components.setdefault("schemas", {})
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        for path, operations in schema["paths"].items():
            api = path.startswith(API_PREFIX)
            for method, operation in operations.items():
                responses = operation.setdefault("responses", {})
                if api:
                    if "422" in responses or operation.get("parameters") or operation.get("requestBody"):
                        responses["422"] = {"description": "A parameter or the body has a value we cannot use; "
                                                           "the text names it.",
                                            "content": {"application/json": {"schema": _ERROR}}}
                    responses["503"] = {"description": "The store is busy or unavailable (see Retry-After).",
                                        "content": {"application/json": {"schema": _ERROR}}}
                else:
                    responses.pop("422", None)
                    if operation.get("parameters"):
                        responses["400"] = {"description": "A parameter has a value we cannot use (an HTML page).",
                                            "content": _HTML}
                    responses["503"] = {"description": "The store is busy or unavailable (an HTML page).",
                                        "content": _HTML}
                if api and operation.get("requestBody"):
                    # BodyLimitMiddleware answers a body over web_max_body_bytes before anything reads it.
                    responses["413"] = {"description": "The body is larger than the server takes "
                                                       "(setting web_max_body_bytes).",
                                        "content": {"application/json": {"schema": _ERROR}}}
                if method not in ("get", "head", "options"):
                    # SecurityMiddleware refuses an unsafe request without the CSRF cookie and token, before routing.
                    responses["403"] = {"description": "Refused: no CSRF cookie, or no matching X-CSRF-Token.",
                                        "content": {"text/plain": {"schema": {"type": "string"}},
                                                    "application/json": {"schema": {
                                                        "type": "object", "properties": {"error": {"type": "string"}},
                                                        "required": ["error"]}}}}
        app.openapi_schema = schema
        return schema

    app.openapi = openapi


def _error_handlers(app: FastAPI) -> None:
    """Friendly pages and JSON errors for user mistakes; a store fault is a 503 page, never a traceback."""

    async def error(request: Request, status: int, message: str, headers: dict[str, str] | None = None) -> Response:
        if is_api(request):
            return json_response({"error": message, "status": status}, status, headers)
        await _signed_in_user(request, status)
        response = render(request, "error.html", status=status, status_code=status, message=message)
        for key, value in (headers or {}).items():
            response.headers[key] = value
        return response

    @app.exception_handler(QueryTooLarge)
    async def query_too_large(request: Request, exc: QueryTooLarge):
        return await error(request, exc.status, str(exc))

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound):
        return await error(request, 404, str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        messages = {404: "There is no page at this address.", 405: "This address does not accept that method."}
        message = exc.detail if isinstance(exc.detail, str) and exc.detail not in (
            "Not Found", "Method Not Allowed") else messages.get(exc.status_code, str(exc.detail))
        return await error(request, exc.status_code, message, getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError):
        problems = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or 'request'}: {e.get('msg')}"
                             for e in exc.errors())
        if is_api(request):
            return json_response({"error": problems, "status": 422}, 422)
        return await error(request, 400, f"That request has a value we cannot use — {problems}.")

    @app.exception_handler(ValueError)
    async def bad_value(request: Request, exc: ValueError):
        return await error(request, 400, str(exc))

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception):
        # Logged by the server with its traceback; the visitor gets a page, not the stack.
        return await error(request, 500, "Something went wrong on our side; it has been logged.")

    for kind in store_errors():  # the store is open (above): its driver is loaded
        @app.exception_handler(kind)
        async def store_error(request: Request, exc: Exception):
            return await error(request, 503, "The store is busy or unavailable; try again in a moment.",
                               {"Retry-After": "5"})


async def _signed_in_user(request: Request, status: int) -> None:
    """Look up the signed-in user for an error page's header where the route's store context has gone back (the
    user is looked up when first asked for: ``routes.deps.get_context``); not for a server or store fault, whose
    page must not depend on the store answering."""
    state = request.scope.setdefault("state", {})
    if "user" in state or status >= 500 or SESSION_COOKIE not in state.get("cookies", {}):
        return

    def lookup() -> None:
        with request.app.state.pool.borrow() as context:
            load_user(request, context)

    try:
        await run_in_threadpool(lookup)
    except store_errors():  # the page goes out without the user's name
        state["user"] = None


def create_app_from_env() -> FastAPI:
    """The app for uvicorn workers: settings from the environment (``paperfeed serve`` sets PAPERFEED_DB)."""
    return create_app(Settings.load(db=os.environ.get("PAPERFEED_DB")))
