"""/docs: the OpenAPI description rendered server-side (no Swagger UI: it loads scripts from a CDN)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from ..rendering import render

router = APIRouter(include_in_schema=False)


def _operations(schema: dict) -> list[dict]:
    """Flatten the OpenAPI paths into one row per operation, with parameters and response codes."""
    rows = []
    for path, methods in schema.get("paths", {}).items():
        for method, operation in methods.items():
            rows.append({
                "method": method.upper(), "path": path, "summary": operation.get("summary", ""),
                "description": operation.get("description", ""),
                "parameters": [{"name": p["name"], "in": p["in"], "required": p.get("required", False),
                                "description": p.get("description", ""),
                                "type": p.get("schema", {}).get("type")
                                or " | ".join(s.get("type", "") for s in p.get("schema", {}).get("anyOf", []))
                                or ", ".join(p.get("schema", {}).get("enum", []))}
                               for p in operation.get("parameters", [])],
                "responses": sorted(operation.get("responses", {})),
            })
    return rows


@router.get("/docs")
def docs(request: Request):
    """The API reference page."""
    schema = request.app.openapi()
    return render(request, "docs.html", info=schema["info"], operations=_operations(schema))
