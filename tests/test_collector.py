"""A run pauses the cyclic collector's frequent passes and gives the process its settings back."""

from __future__ import annotations

import gc
import threading

import pytest

from twin.collector import YOUNG_PASS_EVERY, fewer_collections


def test_settings_come_back_after_the_last_of_overlapping_runs_even_when_one_fails() -> None:
    before = gc.get_threshold()
    inside = threading.Event()
    release = threading.Event()
    seen: list[tuple[int, ...]] = []

    def other_run() -> None:
        with fewer_collections():
            inside.set()
            release.wait(10)

    thread = threading.Thread(target=other_run)
    thread.start()
    assert inside.wait(10)
    with pytest.raises(RuntimeError), fewer_collections():
        seen.append(gc.get_threshold())
        raise RuntimeError("a run that fails")
    # The other run is still inside: the pause holds for it.
    assert gc.get_threshold()[0] == YOUNG_PASS_EVERY and gc.get_freeze_count() > 0
    release.set()
    thread.join(10)
    assert seen[0][0] == YOUNG_PASS_EVERY
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
