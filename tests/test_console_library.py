"""The library, the Runs page's comparison and the What-if page's tools, without a browser.

Saved runs opened by id from a URL (never a path), Monte Carlo bands, the Save panel's names and
its refusal to store the same runs twice, the notes on rows that start after the run, and the KPI
cards' wording.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pandas as pd
import panel as pn

from app.context import ConsoleContext
from app.runs import RunPool
from app.views import compare, sales, series
from app.views.plan_downloads import plan_file_name
from app.views.series import PERCENTILE_SEEDS, _series_arrays, series_bands
from twin.results import Results
from twin.scenario import load_scenario_text
from twin.simulate import simulate

SITES = Path(__file__).resolve().parent.parent / "sample_sites"


def test_saved_runs_open_by_id_and_url_keys_never_become_paths(tmp_path, monkeypatch) -> None:
    from app.library import Library

    text = (SITES / "scenarios" / "demo_whatif.yaml").read_text().replace("days: 30", "days: 2")
    runs = []
    for seed in (1, 2, 3):
        runs.append(
            simulate(load_scenario_text(text.replace("seed: 7", f"seed: {seed}"), SITES / "scenarios"))
        )
    library = Library(tmp_path / "lib")
    library.save_scenario("<b>x</b>", text, SITES / "scenarios")
    ids = [library.save_run("<b>x</b>", r) for r in runs]
    pool = RunPool(workers=1, cache_dir=tmp_path / "cache")
    try:
        context = ConsoleContext(SITES, pool, library)
        opened = context.run_results(f"lib-{ids[1]}")
        assert opened is not None and opened.kpis["seed"] == 2
        # The short id the command line prints opens the same run; too short an id opens none.
        short = context.run_results(f"lib-{ids[1][:12]}")
        assert short is not None and short.kpis["seed"] == 2
        assert context.run_results(f"lib-{ids[1][:7]}") is None
        # Pages and plan files name a saved run by its library name, not its scenario's.
        assert context.saved_run_name(f"lib-{ids[1][:12]}") == "<b>x</b>"
        assert context.saved_run_name("lib-" + "0" * 32) is None and context.saved_run_name("ab" * 16) is None
        assert plan_file_name("Demo", "A/H1", opened, ".pdf", "lease 512") == "Demo-A_H1-lease_512-seed2.pdf"
        assert plan_file_name("Demo", None, opened, ".pdf") == "Demo-campus-demo-whatif-seed2.pdf"
        # A results folder outside the cache, named from a URL, is never read.
        Results.write(runs[0], tmp_path / "elsewhere")
        for key in ("../elsewhere", f"lib-{ids[1]}/../..", "lib-" + "0" * 32, str(tmp_path / "elsewhere")):
            assert context.run_results(key) is None
    finally:
        pool.shutdown()
    # Bands lie between the replications' extremes, around their median, hour by hour too.
    values = [compare.kpi_values(r)["utilization"] for r in runs]
    lo, hi = compare.kpi_bands(runs)["utilization"]
    assert min(values) <= lo <= float(np.median(values)) <= hi <= max(values) and lo < hi
    if len(runs) < PERCENTILE_SEEDS:  # few seeds: the band is their range, every seed inside
        assert (lo, hi) == (min(values), max(values))
    series = series_bands(runs, ["day", "busy_gpus"])
    busy = np.array([_series_arrays(r, ["day", "busy_gpus"])["busy_gpus"] for r in runs])
    assert (busy.min(axis=0) <= series["busy_gpus_lo"]).all() and (
        series["busy_gpus_hi"] <= busy.max(axis=0)
    ).all()
    assert (series["busy_gpus_lo"] <= np.median(busy, axis=0)).all() and (
        series["busy_gpus_hi"] > series["busy_gpus_lo"]
    ).any()


def _click_save(panel) -> None:
    """The panel's save, run to its end on a thread of its own (the browser tests' event loop may
    be running in this one)."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, panel._on_save()).result()


def test_save_panel_keeps_a_typed_name_and_saves_under_the_default_when_empty(tmp_path) -> None:
    from app.library import Library
    from app.roles import LOCAL
    from app.views.whatif_tools import SavePanel

    text = (SITES / "scenarios" / "demo_whatif.yaml").read_text().replace("days: 30", "days: 1")
    run = simulate(load_scenario_text(text, SITES / "scenarios"))
    library = Library(tmp_path / "lib")
    pool = RunPool(workers=1, cache_dir=tmp_path / "cache")
    try:
        panel = SavePanel(ConsoleContext(SITES, pool, library), LOCAL)
        panel._name.value = "typed while it ran"  # before the run finished and offered its default
        panel.offer(text, [run], "demo_whatif what-if")
        assert panel._name.value == "typed while it ran"
        assert panel._name.placeholder == "demo_whatif what-if"
        _click_save(panel)
        panel._name.value = ""
        _click_save(panel)
        _click_save(panel)  # a second click on the same runs adds nothing
        assert panel._status.object.startswith("Already saved as")
        panel.offer(text, [run], "demo_whatif what-if")  # the same what-if run again (from the cache)
        _click_save(panel)
        assert panel._status.object.startswith("Already saved as")
        assert len(library.runs("demo_whatif what-if")) == 1
        library.delete("demo_whatif what-if")  # deleted on the Runs page meanwhile: saved again
        _click_save(panel)
        assert panel._status.object.startswith("Saved")
        other = text.replace("days: 1", "days: 2")  # another what-if, under a name in use
        panel.offer(other, [run], "demo_whatif what-if")
        _click_save(panel)
        assert "a different scenario named" in panel._status.object  # (escaped as plain text)
    finally:
        pool.shutdown()
    assert len(library.runs("typed while it ran")) == 1
    assert len(library.runs("demo_whatif what-if")) == 1
    assert library.scenario("demo_whatif what-if")["text"] == text  # not replaced


def test_rows_starting_after_the_run_are_pointed_out_as_table_rows() -> None:
    from app.views.whatif_tables import horizon_notes

    text = (SITES / "scenarios" / "demo_whatif.yaml").read_text().replace("days: 30", "days: 2")
    on_time = simulate(load_scenario_text(text, SITES / "scenarios"))
    assert horizon_notes(on_time.events) == ""
    text = text.replace("    start_day: 0", "    start_day: 40").replace("acme-gb200-pod", "<b>late</b>")
    text += (
        "events:\n  - {kind: outage, site: Demo, day: 1, hours: 4}\n  - {kind: outage, site: Demo, day: 5}\n"
    )
    raw = horizon_notes(simulate(load_scenario_text(text, SITES / "scenarios")).events)
    assert "<b>" not in raw  # a name is text
    note = html.unescape(raw)
    assert (
        "Leases table, row 1, start_day: lease" in note and "starts on day 40, after the run's 2 days" in note
    )
    assert (
        "Events table, row 2, day: the outage event comes on day 5" in note
        and "row 1," not in note.split("Events")[1]
    )


def test_cards_call_a_change_too_small_to_show_no_change_and_name_the_seed_they_show() -> None:
    empty = pd.DataFrame()

    def run(pue: float, seed: int) -> Results:
        return Results(
            kpis={"pue": pue, "seed": seed}, site_series=empty, hall_series=empty, tenant_series=empty,
            jobs=empty, leases=empty, events=empty, rack_day_utilization=np.zeros((0, 0)), rack_names=[],
        )  # fmt: skip

    cards = compare.cards_html(run(1.1000001, 7), run(1.1, 7))
    pue = cards[cards.index('data-kpi="pue"') :].split('<div class="card"')[0]
    assert "no change" in pue and "0.000" not in pue  # not "+0.000" in red
    banded = compare.cards_html(
        run(1.12, 7), run(1.1, 7), bands={"pue": (1.11, 1.115)}, band_name=series.band_label(4)
    )
    assert "PUE, seed 7" in banded and "range of the 4 seeds: 1.110 – 1.115" in banded
    assert series.band_label(40) == "p5–p95 of the 40 seeds"


def test_a_run_saved_before_sales_covered_hosted_models_keeps_its_money() -> None:
    """Runs saved by an earlier version have lease-only totals and no hosted_* keys: the page adds
    up their products, as it did then, instead of dropping the hosted model."""
    old = {
        "revenue_usd": 100.0, "sla_credits_usd": 5.0, "margin_usd": 40.0, "hosted_revenue_usd": 60.0,
        "displaced_internal_value_usd": 3.0,
        "products": {
            "lease": {"revenue_usd": 100.0, "credits_usd": 5.0, "energy_cost_usd": 10.0,
                      "depreciation_usd": 20.0, "margin_usd": 65.0},
            "api": {"revenue_usd": 60.0, "credits_usd": 0.0, "energy_cost_usd": 4.0,
                    "depreciation_usd": 6.0, "margin_usd": 50.0},
        },
    }  # fmt: skip
    money = sales.sales_money(old)
    assert money == {"revenue": 160.0, "credits": 5.0, "energy": 14.0, "depreciation": 26.0,
                     "displaced internal work": 3.0, "margin": 112.0}  # fmt: skip


def test_the_waterfall_gives_up_the_displaced_work_net_of_its_own_costs() -> None:
    """Displaced work is the value less its own depreciation and energy, as margin_usd counts it."""
    kpis = {
        "revenue_usd": 100.0, "sla_credits_usd": 0.0, "lease_energy_cost_usd": 10.0, "hosted_energy_cost_usd": 0.0,
        "lease_depreciation_usd": 30.0, "hosted_depreciation_usd": 0.0, "displaced_internal_value_usd": 25.0,
        "displaced_internal_cost_usd": 15.0, "displaced_internal_net_value_usd": 10.0, "margin_usd": 50.0,
    }  # fmt: skip
    money = sales.sales_money(kpis)
    assert money["displaced internal work"] == 10.0
    steps = [money[k] for k in ("credits", "energy", "depreciation", "displaced internal work")]
    assert money["revenue"] - sum(steps) == money["margin"]


def test_the_waterfall_steps_down_to_the_margin_and_greys_what_is_zero() -> None:
    kpis = {
        "revenue_usd": 100.0, "sla_credits_usd": 0.0, "lease_energy_cost_usd": 10.0, "hosted_energy_cost_usd": 2.0,
        "lease_depreciation_usd": 30.0, "hosted_depreciation_usd": 5.0, "displaced_internal_value_usd": 0.0,
        "margin_usd": 53.0,
    }  # fmt: skip
    data = sales.waterfall_data(kpis)
    colours = dict(zip(data["name"], data["color"], strict=True))
    assert colours["revenue"] == "#1a7f37" and colours["energy"] == "#cf222e"
    assert (
        colours["credits"] == colours["displaced internal work"] == "#8c959f"
    )  # zero: neither gain nor loss
    margin = data["name"].index("margin")
    assert (data["bottom"][margin], data["top"][margin]) == (0.0, 53.0)  # the steps land on margin_usd
    assert data["bottom"][data["name"].index("depreciation")] == 53.0


def test_the_waterfall_of_a_run_that_sold_nothing_says_so() -> None:
    """Every bar flat at $0 once gave an empty chart with axis labels $1, $1, $0, -$1, -$1."""
    chart = sales.Waterfall()
    chart.update({"revenue_usd": 0.0, "hosted_energy_cost_usd": 0.0, "margin_usd": 0.0})
    assert chart.figure.title.text == "Sales: revenue to margin (nothing sold in this run)"
    chart.update({"revenue_usd": 100.0, "hosted_energy_cost_usd": 10.0, "margin_usd": 90.0})
    assert chart.figure.title.text == "Sales: revenue to margin"
    assert "toFixed(0)" not in sales.USD_TICK_JS  # ticks of $0.5 read as $1, twice


def test_a_downloaded_scenario_says_where_its_paths_lead(tmp_path) -> None:
    """Saved elsewhere, its relative site path ('../demo.yaml') no longer found the site: say from where."""
    from app.library import Library
    from app.views import runs as runs_view

    text = (SITES / "scenarios" / "demo_whatif.yaml").read_text()
    library = Library(tmp_path / "lib")
    library.save_scenario("acme", text, SITES / "scenarios")
    view = runs_view.RunsView(ConsoleContext(SITES, None, library))
    view._refresh()
    view._scenario.value = "acme"
    got = view._scenario_yaml().getvalue()
    assert got == f"# site and trace paths below are relative to {SITES / 'scenarios'}\n{text}"


def test_delete_confirms_only_the_scenario_it_named_and_not_by_double_click(tmp_path, monkeypatch) -> None:
    """A delete is not undone: the first click names a scenario; picking another disarms it, and a
    second click within a double-click's time does nothing."""
    from app.library import Library
    from app.views import runs as runs_view

    text = (SITES / "scenarios" / "demo_whatif.yaml").read_text()
    library = Library(tmp_path / "lib")
    for name in ("acme", "keep me"):
        library.save_scenario(name, text, SITES / "scenarios")
    now = [1000.0]
    monkeypatch.setattr(runs_view.time, "monotonic", lambda: now[0])
    view = runs_view.RunsView(ConsoleContext(SITES, None, library))
    view._refresh()
    names = lambda: {s["name"] for s in library.scenarios()}  # noqa: E731

    view._scenario.value = "acme"
    view._on_delete()
    assert view._delete.name == "Confirm delete" and "acme" in view._manage_status.object
    view._scenario.value = "keep me"  # changed their mind, or the selection moved
    assert view._delete.name == "Delete" and view._manage_status.object == ""
    now[0] += 5
    view._on_delete()  # arms for "keep me": nothing deleted
    assert names() == {"acme", "keep me"} and "keep me" in view._manage_status.object
    view._scenario.value = "acme"
    view._on_delete()
    now[0] += 0.2
    view._on_delete()  # a double-click
    assert names() == {"acme", "keep me"}
    now[0] += 1.0
    view._on_delete()
    assert names() == {"keep me"} and view._manage_status.object == "Deleted **acme** and its runs."


def test_number_inputs_say_why_a_value_is_refused_and_show_the_one_in_force() -> None:
    """Typed 4000 days showed 4000 while the run used 30, and an emptied field wrote a traceback to
    the server's log: a refused value is now named, and the field shows what the run will use."""
    import param

    from app.views.inputs import checked_number

    class Form(param.Parameterized):
        days = param.Number(default=30, bounds=(1, 3650))
        seed = param.Integer(default=7, bounds=(0, 2**63 - 1))

    form, heard = Form(), []  # what the page is told: each refusal, and "" when a value is taken
    days = checked_number(form, "days", "Days (1–3,650)", heard.append)
    seed = checked_number(form, "seed", "Seed (0 or more)", heard.append)
    for typed, why in (
        (4000, "4,000 is above the highest, 3,650"),
        (None, "the field is empty"),
        (-1, "below the lowest, 1"),
    ):
        days.value = typed
        assert form.days == 30 and days.value == 30 and why in heard[-1] and heard[-1].endswith("kept 30.")
    days.value = 60.5
    assert form.days == 60.5 and heard[-1] == ""  # taken: the refusal beside the field is cleared
    form.days = 90  # a base scenario loaded: the field follows
    assert days.value == 90
    seed.value = None
    assert form.seed == 7 and seed.value == 7 and heard[-1].startswith("Seed (0 or more): the field is empty")
    seed.value = 123456789
    assert form.seed == 123456789 and heard[-1] == ""
    seed.value = -1
    assert heard[-1] == "Seed (0 or more): -1 is below the lowest, 0; kept 123,456,789."
    seed.value = 2.5  # the browser's integer input turned this into 25 as it was typed
    assert form.seed == 123456789 and heard[-1].startswith("Seed (0 or more): 2.5 is not a whole number")
    seed.value = 1e30
    assert heard[-1].startswith("Seed (0 or more): 1e+30 is above the highest")
    assert isinstance(seed, pn.widgets.FloatInput)


def test_a_lease_rounded_up_to_whole_pods_says_what_it_holds_unbilled() -> None:
    """100 GPUs with pod isolation hold a 576-GPU pod and bill 100: told at load and after a run."""
    from app.views.whatif_tables import horizon_notes

    text = (SITES / "scenarios" / "demo_whatif.yaml").read_text().replace("gpus: 576", "gpus: 100")
    scenario = load_scenario_text(text, SITES / "scenarios")
    told = "at least 576 are held for the 100 it pays for, and the other 476 earn nothing"
    assert [n.path for n in scenario.notes if told in n.message] == ["leases[0].gpus"]
    results = simulate(scenario)
    assert "Leases table, row 1, gpus: lease 'acme-gb200-pod' takes whole pods of 576 GPUs" in html.unescape(
        horizon_notes(results.events)
    )
    whole = load_scenario_text(text.replace("gpus: 100", "gpus: 576"), SITES / "scenarios")
    assert not whole.notes


def test_internal_work_table_shows_dollars_and_counts_whole() -> None:
    """Dollars showed three decimals (263,923.766); hours and shares keep theirs."""
    from app.views.compare import impact_table

    text = (SITES / "scenarios" / "demo_whatif.yaml").read_text().replace("days: 30", "days: 3")
    whatif = simulate(load_scenario_text(text, SITES / "scenarios"))
    whatif.kpis["displaced_internal_value_usd"] = 263_923.766  # as a try-out saw it shown
    table = impact_table(whatif, None).set_index("measure")
    assert table.loc["displaced internal value ($)", "what-if"] == 263_924
    assert float(table.loc["jobs completed", "what-if"]).is_integer()
    share = table.loc["internal utilisation (%)", "what-if"]
    assert share == round(100 * whatif.kpis["internal_utilization"], 3)
