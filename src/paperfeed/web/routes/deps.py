"""What every route group's endpoints depend on: a request's borrowed context (store, search, signed-in user)."""

from __future__ import annotations

from typing import Annotated, AsyncIterator

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from ..context import Context
from ..users import SESSION_COOKIE, load_user


async def get_context(request: Request) -> AsyncIterator[Context]:
    """Borrow a store connection (and search service) for one request, and resolve its signed-in user.

    An async dependency, so a request hops to a worker thread once, for its (sync) endpoint: borrowing runs here
    on the event loop (when all contexts are lent, the request waits here for one without holding a thread);
    only what blocks goes to a thread (opening a connection, looking up a session when there is a session cookie).
    """
    pool = request.app.state.pool
    context = await pool.acquire()
    try:
        state = request.scope.setdefault("state", {})
        if SESSION_COOKIE in state.get("cookies", {}):
            await run_in_threadpool(load_user, request, context)
        else:
            state.setdefault("user", None)  # no session cookie: nobody is signed in, nothing to look up
        yield context
    finally:
        pool.give_back(context)


Ctx = Annotated[Context, Depends(get_context)]
"""Per-request access to the store and search: a small pool of (store, search service) pairs per process."""
