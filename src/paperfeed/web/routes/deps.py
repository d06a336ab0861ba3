"""What every route group's endpoints depend on: a request's borrowed context (store, search, signed-in user)."""

from __future__ import annotations

from typing import Annotated, Iterator

from fastapi import Depends, Request

from ..context import Context
from ..users import load_user


def get_context(request: Request) -> Iterator[Context]:
    """Borrow a store connection (and search service) for one request, and resolve its signed-in user."""
    with request.app.state.pool.borrow() as context:
        load_user(request, context)
        yield context


Ctx = Annotated[Context, Depends(get_context)]
