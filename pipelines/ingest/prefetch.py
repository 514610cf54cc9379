"""Read ahead in a background thread, so parsing the next chunk overlaps writing this one.

Arrow's parser, numpy and the database drivers release the GIL for their heavy work, so on two
cores a file's next chunk is parsed while the database stores the current one.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
_TICK = 0.1


def prefetch(items: Iterable[T], depth: int = 1) -> Iterator[T]:
    """Yield ``items`` in order, produced up to ``depth`` ahead by a worker thread.

    An exception raised while producing is re-raised here, at the item where it happened.
    """
    slots: queue.Queue[tuple[str, object]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(kind: str, value: object) -> bool:
        while not stop.is_set():
            try:
                slots.put((kind, value), timeout=_TICK)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put("item", item):
                    return
            put("done", None)
        except BaseException as err:
            put("error", err)

    worker = threading.Thread(target=produce, name="plantpulse-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            kind, value = slots.get()
            if kind == "item":
                yield value  # type: ignore[misc]  # the queue holds items or the producer's exception
            elif kind == "done":
                return
            else:
                raise value  # type: ignore[misc]  # an exception object the producer put there
    finally:
        stop.set()
        worker.join(timeout=10)
