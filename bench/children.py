"""One measurement in a fresh interpreter, for the benches that compare codes or backends side by side."""

from __future__ import annotations

import multiprocessing


def in_child(target, *args) -> dict:
    """Run ``target(*args, queue)`` in a spawned process (nothing imported or cached by an earlier measurement)
    and return what it put on the queue."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=target, args=(*args, queue))
    process.start()
    result = queue.get()
    process.join()
    return result
