"""What every route group's endpoints depend on: a request's borrowed context (store, search, signed-in user)."""

from __future__ import annotations

from typing import Annotated, AsyncIterator

from fastapi import Depends, Request

from ..context import Context
from ..rendering import USER_LOADER
from ..users import SESSION_COOKIE, load_user


async def get_context(request: Request) -> AsyncIterator[Context]:
    """Borrow a store connection (and search service) for one request; its signed-in user is looked up when first
    asked for (``load_user``, or ``render`` for a page's header), in the endpoint's own worker thread.

    An async dependency, so a request hops to a worker thread once, for its (sync) endpoint: borrowing runs here
    on the event loop (when all contexts are lent, the request waits here for one without holding a thread). The
    session lookup used to take a thread hop of its own here, before the endpoint's: under load each hop waits for
    a thread and the GIL (py-spy on the signed-in mix), and the search API, answered on the event loop, needs no
    user at all.
    """
    pool = request.app.state.pool
    context = await pool.acquire()
    state = request.scope.setdefault("state", {})
    try:
        if SESSION_COOKIE in state.get("cookies", {}):
            state[USER_LOADER] = lambda: load_user(request, context)
        else:
            state.setdefault("user", None)  # no session cookie: nobody is signed in, nothing to look up
        yield context
    finally:
        state.pop(USER_LOADER, None)  # the context goes back to the pool: nothing may read through it now
        pool.give_back(context)


Ctx = Annotated[Context, Depends(get_context)]
"""Per-request access to the store and search: a small pool of (store, search service) pairs per process."""
