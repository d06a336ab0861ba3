"""The routes, one module per group, each an ``APIRouter`` that ``web.app`` includes (in an order that matters):

- ``pages``: the HTML pages (home, search, item, topics, authors); ``feeds``: Atom feeds, BibTeX and SVG charts;
- ``account``: sign up, sign in and out; ``library``: the signed-in library, marks and digest subscriptions;
- ``api``: the read-only JSON API under /api/v1; ``api_library``: its signed-in part;
- ``comments``: an item's discussion thread, its forms (``pages``) and API (``api``);
- ``docs``: the server-rendered API documentation at /docs.

They render through ``web.rendering`` and read through ``web.queries`` with the context ``deps.Ctx`` lends;
nothing here imports ``web.app``.
"""
