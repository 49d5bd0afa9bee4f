"""Runs compared: which inputs two saved runs were given differently."""

from __future__ import annotations

import asyncio
from pathlib import Path

from app.context import ConsoleContext
from app.library import Library
from app.runs import RunPool
from app.scenario_diff import input_differences
from app.views.runs import RunsView
from twin.scenario import load_scenario_text
from twin.simulate import simulate

SITES = Path(__file__).resolve().parent.parent / "sample_sites"
BASE = """
name: x
sites: [../demo.yaml]
days: 2
seed: 7
training: {arrivals_per_day: 20, checkpoint_interval_hours: 0.5}
leases:
  - {name: acme, tenant: Acme, gpu_type: GB200, gpus: 576, term_days: 365,
     price_usd_per_gpu_hour: 4.0, isolation: pod}
failures: {enabled: true}
"""


def test_lists_are_matched_by_name_and_numbers_by_value() -> None:
    # A lease added in front of another is one new lease, not every later lease changed.
    b = BASE.replace(
        "leases:\n",
        "leases:\n  - {name: beta, tenant: Beta, gpu_type: H100-SXM, gpus: 512, price_usd_per_gpu_hour: 2}\n",
    )
    b = b.replace("price_usd_per_gpu_hour: 4.0", "price_usd_per_gpu_hour: 4")  # the same number
    b = b.replace("enabled: true", "enabled: 1")  # not the same value: a number where a flag was
    rows = input_differences((BASE, "/s", 7), (b, "/s", 7))
    assert rows == [
        ("failures.enabled", "true", "1"),
        (
            "leases[beta]",
            "—",
            "name: beta, tenant: Beta, gpu_type: H100-SXM, gpus: 512, price_usd_per_gpu_hour: 2",
        ),
    ]
    # An event added where there were none is one row, not one per field and one for the empty list.
    with_event = BASE + "events:\n  - {kind: outage, day: 1, hours: 24, site: Demo}\n"
    assert input_differences((BASE + "events: []\n", "/s", 7), (with_event, "/s", 7)) == [
        ("events[0]", "—", "kind: outage, day: 1, hours: 24, site: Demo")
    ]
    # A run's own seed counts (a replication runs the same text at another seed), and so does
    # the folder its site paths are read from.
    assert input_differences((BASE, "/s", 7), (BASE, "/t", 8)) == [
        ("seed", "7", "8"),
        ("folder of its site files", "/s", "/t"),
    ]
    assert input_differences((BASE, "/s", 7), (BASE, "/s", 7)) == []


def _saved(library: Library, name: str, text: str) -> str:
    library.save_scenario(name, text, SITES / "scenarios")
    return library.save_run(name, simulate(load_scenario_text(text, SITES / "scenarios")))


def _compare(view: RunsView, a: str, b: str) -> None:
    view._refresh()
    view._a.value, view._b.value = a, b
    asyncio.run(view._on_compare())


def test_the_runs_page_shows_what_two_runs_were_given_differently(tmp_path) -> None:
    library = Library(tmp_path / "lib")
    a = _saved(library, "before", BASE)
    b = _saved(library, "after", BASE.replace("gpus: 576", "gpus: 1152").replace("days: 2", "days: 3"))
    pool = RunPool(workers=1, cache_dir=tmp_path / "cache")
    try:
        view = RunsView(ConsoleContext(SITES, pool, library))
        _compare(view, a, b)
        shown = view._inputs.value
        assert view._inputs.visible
        assert shown.values.tolist() == [["days", "2", "3"], ["leases[acme].gpus", "576", "1152"]]
        assert (
            "2 inputs differ" in view._inputs_note.object and "seeds differ" not in view._inputs_note.object
        )

        _compare(view, a, a)
        assert not view._inputs.visible and "same inputs" in view._inputs_note.object

        # Another seed as well as another input: the note says part of each change is chance.
        c = _saved(library, "reseeded", BASE.replace("seed: 7", "seed: 8").replace("gpus: 576", "gpus: 1152"))
        _compare(view, a, c)
        assert "seeds differ too: part of every change below is chance" in view._inputs_note.object

        # The library keeps a scenario's latest text: a run of an older text says its inputs are gone.
        library.save_scenario("before", BASE.replace("seed: 7", "seed: 9"), SITES / "scenarios")
        _compare(view, a, b)
        assert not view._inputs.visible
        assert "The scenario of run A was saved again with other text" in view._inputs_note.object
    finally:
        pool.shutdown()
