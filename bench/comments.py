"""Comments: render Markdown on write and store the HTML, or render on every read?

Usage: python bench/comments.py [--comments 200] [--chars 600] [--rounds 20] [--seed 3]

Method. A seeded thread of ``--comments`` comments of about ``--chars`` characters each, mixed Markdown
(emphasis, links, code, lists, quotes) with some hostile HTML, is written to a fresh SQLite store through the
library (``post_comment``, which renders and stores). Then one thread read (``library.comments.thread``, what
the item page and the API do) is timed ``--rounds`` times as it is (stored HTML) and with rendering on read
(markdown-it-py + nh3 per comment, what the other design would do on every view). Also the render of one
comment alone. Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from pathlib import Path

from paperfeed.library import Accounts
from paperfeed.library.comments import post_comment, render_markdown, thread
from paperfeed.storage import open_store

PARTS = ["This is **important**: the ablation in section {n} misses the *baseline*.",
         "See [the code](https://github.com/example/repo{n}) and `torch.compile` for speed.",
         "- first point {n}\n- second point\n- third, with `x = {n}`",
         "> quoting the abstract: we propose {n} things\n\nI disagree.",
         "```\nfor i in range({n}):\n    print(i)\n```",
         "<script>alert({n})</script> plain text after a script tag and [bad](javascript:alert({n}))"]


def comment_text(rng: random.Random, chars: int) -> str:
    text = ""
    while len(text) < chars:
        text += rng.choice(PARTS).format(n=rng.randint(1, 99)) + "\n\n"
    return text[:chars]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--comments", type=int, default=200)
    parser.add_argument("--chars", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as folder, open_store(Path(folder) / "bench.db") as store:
        store.db.run("INSERT INTO items (id, kind, title, abstract, upvotes, withdrawn, created_at, updated_at) "
                     "VALUES (1, 'paper', 'A paper', '', 0, FALSE, '2026-01-01', '2026-01-01')")
        user = store.user_by_id(Accounts(store).create("bench@example.org", "bench-password"))
        texts = [comment_text(rng, args.chars) for _ in range(args.comments)]
        started = time.perf_counter()
        for text in texts:
            post_comment(store, user, 1, text)
        write_ms = (time.perf_counter() - started) * 1000 / args.comments

        def timed(read) -> float:
            runs = []
            for _ in range(args.rounds):
                started = time.perf_counter()
                read()
                runs.append((time.perf_counter() - started) * 1000)
            return statistics.median(runs)

        stored = timed(lambda: thread(store, 1, user))
        on_read = timed(lambda: [render_markdown(c["body"]) for c in thread(store, 1, user)])
        one = timed(lambda: render_markdown(texts[0]))
    result = {"comments": args.comments, "chars": args.chars, "write_ms_per_comment": round(write_ms, 2),
              "thread_read_stored_html_ms": round(stored, 2), "thread_read_render_on_read_ms": round(on_read, 2),
              "render_one_comment_ms": round(one, 3)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
