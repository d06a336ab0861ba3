"""How the web app answers: the page templates, ``render`` for HTML, ``json_response`` for JSON, shared constants.

The route modules and the app factory both use these; this module imports nothing from the rest of ``web``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, PackageLoader, StrictUndefined

STATIC = Path(__file__).parent / "static"
API_PREFIX = "/api/v1"
USER_LOADER = "user_loader"
"""Key in the request's ASGI state: while a route holds its store context, a callable that looks up the signed-in
user (``routes.deps.get_context`` sets it; ``users.load_user`` keeps the answer as ``state["user"]``)."""


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
    if "user" not in values:
        values["user"] = state["user"] if "user" in state else state.get(USER_LOADER, lambda: None)()
    html = env.get_template(template).render(request=request, csrf_token=state.get("csrf_token", ""),
                                         path=request.url.path, **values)
    return HTMLResponse(html, status_code=status)


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response serialized with orjson (fast, and the store's dicts are already plain)."""
    return Response(orjson.dumps(data), status_code=status, media_type="application/json", headers=headers)


def is_api(request: Request) -> bool:
    """Whether a request is for the JSON API (its errors are JSON, not pages)."""
    return request.url.path.startswith(API_PREFIX) or request.url.path == "/openapi.json"
