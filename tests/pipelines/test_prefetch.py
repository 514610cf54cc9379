"""Read-ahead in a worker thread keeps order and hands errors back."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from plantpulse.pipelines.ingest.prefetch import prefetch


def test_order_is_kept() -> None:
    assert list(prefetch(range(100), depth=3)) == list(range(100))


def test_errors_surface_where_they_happen() -> None:
    def items() -> Iterator[int]:
        yield 1
        raise ValueError("chunk 2 is broken")

    seen = []
    with pytest.raises(ValueError, match="chunk 2 is broken"):
        for item in prefetch(items()):
            seen.append(item)
    assert seen == [1]


def test_stopping_early_ends_the_worker() -> None:
    before = threading.active_count()
    for item in prefetch(iter(range(10_000))):
        if item == 3:
            break
    assert threading.active_count() == before
