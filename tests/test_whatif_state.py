"""The what-if an operator edits: scenario text, its baseline, and its round trip through a URL."""

from __future__ import annotations

import urllib.parse
from pathlib import Path

import pytest
import yaml

from app.state.whatif import WhatIf, WhatIfError
from app.state.whatif_link import MAX_QUERY_CHARS
from twin.errors import ProblemList
from twin.scenario import load_scenario, load_scenario_text

SCENARIOS = Path(__file__).resolve().parent.parent / "sample_sites" / "scenarios"


@pytest.fixture
def whatif() -> WhatIf:
    return WhatIf(SCENARIOS, base="demo_whatif")


def test_base_file_becomes_the_tables(whatif: WhatIf) -> None:
    assert [r["name"] for r in whatif.leases] == ["acme-gb200-pod"]
    row = whatif.leases[0]
    assert (row["gpus"], row["price_usd_per_gpu_hour"], row["sla_availability"]) == (576, 4.0, 0.99)
    assert whatif.days == 30 and whatif.seed == 7


def test_unchanged_what_if_is_the_file(whatif: WhatIf) -> None:
    """Read into tables and written back, the base scenario means the same to the twin."""
    from_file = load_scenario(SCENARIOS / "demo_whatif.yaml").spec
    from_text = load_scenario_text(whatif.scenario_text(), SCENARIOS).spec
    assert from_text.model_dump(exclude={"name"}) == from_file.model_dump(exclude={"name"})


def test_baseline_sells_nothing_and_keeps_the_rest(whatif: WhatIf) -> None:
    whatif.hosted = [whatif.new_hosted()]
    whatif.training_scale = 1.5
    sold = load_scenario_text(whatif.scenario_text(sales=True), SCENARIOS).spec
    base = load_scenario_text(whatif.scenario_text(sales=False), SCENARIOS).spec
    assert len(sold.leases) == 1 and len(sold.hosted_models) == 1
    assert base.leases == [] and base.hosted_models == []
    assert base.training == sold.training
    assert base.training.arrivals_per_day == pytest.approx(35 * 1.5)
    assert base.seed == sold.seed and base.days == sold.days


def test_a_new_event_row_runs_as_it_is_added(whatif: WhatIf) -> None:
    """Add event gave a row with no site, refused on Run ('a outage event needs site')."""
    whatif.events = [whatif.new_event()]
    (event,) = load_scenario_text(whatif.scenario_text(), SCENARIOS).spec.events
    assert (event.kind, event.site, event.day, event.hours) == ("outage", "Demo", 1.0, 24.0)
    whatif.events = [whatif.new_event() | {"kind": "curtailment"}]
    with pytest.raises(
        ProblemList, match=r"curtailment events need mw \(a curtailment's MW the site must shed\)"
    ):
        load_scenario_text(whatif.scenario_text(), SCENARIOS)


def test_an_event_given_a_value_its_kind_does_not_use_is_refused(whatif: WhatIf) -> None:
    """An outage with mw and degrees_c filled in ran as a plain outage, and nothing said so."""
    from app.views.whatif_tables import explain

    whatif.events = [whatif.new_event() | {"mw": 2.0, "degrees_c": 7.0}]
    with pytest.raises(ProblemList) as refused:
        load_scenario_text(whatif.scenario_text(), SCENARIOS)
    assert [explain(str(p)) for p in refused.value.problems] == [
        "Events table, row 1: outage events do not use mw (a curtailment's MW the site must shed), degrees_c "
        "(a heat wave's degrees added to the dry-bulb); leave them empty"
    ]
    # A site is tolerated where the kind has no use for it: the table fills it in for every kind.
    whatif.events = [whatif.new_event() | {"kind": "demand_shock", "factor": 2.0}]
    assert load_scenario_text(whatif.scenario_text(), SCENARIOS).spec.events[0].factor == 2.0


def test_table_edit_keeps_fields_the_table_does_not_show(whatif: WhatIf) -> None:
    rows = [dict(r) for r in whatif.leases]
    rows[0]["gpus"] = 288
    rows[0]["sla_availability"] = 0.95
    whatif.leases = rows
    lease = load_scenario_text(whatif.scenario_text(), SCENARIOS).spec.leases[0]
    assert lease.gpus == 288 and lease.sla.availability == 0.95
    assert [c.credit for c in lease.sla.credits] == [0.10, 0.25, 1.00]  # from the file
    assert lease.tenant_utilization == 0.85


def test_spot_row_is_billed_by_use(whatif: WhatIf) -> None:
    whatif.leases = [whatif.new_lease() | {"kind": "spot", "billing": "take_or_pay"}]
    lease = load_scenario_text(whatif.scenario_text(), SCENARIOS).spec.leases[0]
    assert lease.billing == "metered"


def test_link_reproduces_the_what_if(whatif: WhatIf) -> None:
    whatif.leases = [*whatif.leases, whatif.new_lease() | {"tenant": "Zeta <b>&</b> Co", "gpus": 64}]
    whatif.param.update(days=12.5, seed=99, failure_scale=3.0, physics=False)
    url = "http://x/whatif?" + urllib.parse.urlencode(whatif.to_query())
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    other = WhatIf(SCENARIOS)
    other.apply_query(query)
    assert other.scenario_text() == whatif.scenario_text()
    assert other.leases[1]["tenant"] == "Zeta <b>&</b> Co"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"base": "nope"}, "base: no scenario 'nope'"),
        ({"base": "demo_baseline", "days": "-3"}, "days: -3.0 is outside"),
        ({"days": "abc"}, "days: 'abc' is not a number"),
        ({"days": "0"}, "days: 0.0 is outside"),
        ({"seed": "-1"}, "seed: -1 is outside"),
        ({"days": "nan"}, "days: nan is outside"),
        ({"physics": "yes"}, "physics: expected 0 or 1"),
        ({"leases": "[{"}, "leases: not valid JSON"),
        ({"leases": '{"a": 1}'}, "leases: expected a list of rows"),
        ({"leases": '[{"bogus": 1}]'}, "leases, row 1: unknown column 'bogus'"),
        ({"leases": '[{"gpus": [1, 2]}]'}, "leases, row 1: gpus must be a number or text"),
        ({"events": "[" + ",".join(["{}"] * 65) + "]"}, "at most 64 rows"),
        ({"leases": "x" * (MAX_QUERY_CHARS + 1)}, "longer than"),
    ],
)
def test_bad_link_names_the_parameter(whatif: WhatIf, query: dict, message: str) -> None:
    before = whatif.scenario_text()
    with pytest.raises(WhatIfError, match=message.replace("(", r"\(").replace("[", r"\[")):
        whatif.apply_query(query)
    assert whatif.scenario_text() == before  # nothing half-applied


def test_a_link_with_several_bad_parameters_names_them_all(whatif: WhatIf) -> None:
    """Only the first was told; a broken leases value behind it was dropped without a word."""
    before = whatif.scenario_text()
    with pytest.raises(WhatIfError) as err:
        whatif.apply_query(
            {"days": "-5", "seed": "abc", "leases": "[garbage", "physics": "yes", "sites": "Nowhere"}
        )
    told = str(err.value)
    for parameter in ("days", "seed", "leases", "physics", "sites"):
        assert f"link parameter {parameter}" in told, told
    assert whatif.scenario_text() == before


def test_invalid_row_is_reported_by_the_twin_with_its_place(whatif: WhatIf) -> None:
    whatif.leases = [*whatif.leases, whatif.new_lease() | {"gpus": -5}]
    with pytest.raises(ProblemList) as err:
        load_scenario_text(whatif.scenario_text(), SCENARIOS)
    assert any(p.path == "leases[1].gpus" for p in err.value.problems)


def test_generated_text_is_plain_yaml(whatif: WhatIf) -> None:
    """Names with YAML syntax in them stay data: safe_dump quotes them."""
    whatif.leases = [whatif.new_lease() | {"tenant": "!!python/object:os.system ['x']", "name": "&a *a"}]
    data = yaml.safe_load(whatif.scenario_text())
    assert data["leases"][0]["tenant"] == "!!python/object:os.system ['x']"


def test_picking_one_campus_of_two_runs_it_alone_with_its_own_demand() -> None:
    w = WhatIf(SCENARIOS, base="baseline_lease")
    assert w.sites == ["Hyperion", "Prometheus"]
    w.sites = ["Prometheus"]
    w.leases = [w.new_lease() | {"gpu_type": "H100-SXM", "gpus": 1024}]
    scenario = load_scenario_text(w.scenario_text(), SCENARIOS)
    assert [s.spec.name for s in scenario.sites] == ["Prometheus"]
    assert [x.site for x in scenario.spec.inference] == ["Prometheus"]
    assert scenario.spec.leases[0].site == "Prometheus"  # a new row goes to a campus that runs
    query = w.to_query()
    assert query["sites"] == "Prometheus"
    other = WhatIf(SCENARIOS)
    other.apply_query(query)
    assert other.scenario_text() == w.scenario_text()


def test_a_row_on_a_campus_left_out_is_refused_with_its_row() -> None:
    w = WhatIf(SCENARIOS, base="baseline_lease")
    w.sites = ["Prometheus"]
    w.leases = [w.leases[0] | {"site": "Hyperion"}]
    with pytest.raises(ProblemList) as err:
        load_scenario_text(w.scenario_text(), SCENARIOS)
    assert any(p.path.startswith("leases[0]") for p in err.value.problems)


def test_sites_in_a_link_must_belong_to_the_base(whatif: WhatIf) -> None:
    with pytest.raises(WhatIfError, match="sites: expected some of Demo"):
        whatif.apply_query({"sites": "Atlantis"})
    with pytest.raises(WhatIfError, match="sites: expected some of"):
        whatif.apply_query({"base": "baseline", "sites": ""})


def test_a_cell_emptied_in_a_row_of_the_base_file_is_empty_in_the_run(whatif: WhatIf) -> None:
    """Emptied, the cell once let the file's value through: the page showed '-', the run used 576
    GPUs, and the result came from the cache. A required cell is now refused at its row; an
    optional one takes the scenario's default, as on a new row."""
    from app.views.whatif_tables import explain

    whatif.leases = [whatif.leases[0] | {"gpus": None, "price_usd_per_gpu_hour": float("nan")}]
    with pytest.raises(ProblemList) as refused:
        load_scenario_text(whatif.scenario_text(), SCENARIOS)
    told = [explain(str(p)) for p in refused.value.problems]
    assert told == [
        "Leases table, row 1, gpus: empty (or not a number where one is wanted); type a value in the cell",
        "Leases table, row 1, price_usd_per_gpu_hour: empty (or not a number where one is wanted); "
        "type a value in the cell",
    ]
    whatif.leases = [whatif.leases[0] | {"gpus": 576, "price_usd_per_gpu_hour": 4.0, "sla_availability": ""}]
    lease = load_scenario_text(whatif.scenario_text(), SCENARIOS).spec.leases[0]
    assert lease.gpus == 576 and lease.sla.availability == 0.99  # the default, as a new row's

    whatif.hosted = [whatif.new_hosted() | {"peak_requests_per_second": None}]
    with pytest.raises(ProblemList) as refused:
        load_scenario_text(whatif.scenario_text(), SCENARIOS)
    assert [explain(str(p)) for p in refused.value.problems] == [
        "Hosted models table, row 1, peak_requests_per_second: empty (or not a number where one is "
        "wanted); type a value in the cell"
    ]


def test_an_empty_cell_is_told_in_the_table_s_terms() -> None:
    from app.views.whatif_tables import explain

    told = explain("<what-if>:12: leases[0].gpus: required field missing; add 'gpus: ...' to leases[0]")
    assert told == (
        "Leases table, row 1, gpus: empty (or not a number where one is wanted); type a value in the cell"
    )
    other = explain("<what-if>:14: leases[1].price_usd_per_gpu_hour: must be at least 0")
    assert other == "Leases table, row 2, price_usd_per_gpu_hour: must be at least 0"


def test_a_nested_field_is_told_by_the_column_it_is_typed_in(whatif: WhatIf) -> None:
    """The scenario nests sla.availability and latency.ttft_p95_seconds; the tables do not."""
    from app.views.whatif_tables import explain

    whatif.leases = [whatif.leases[0] | {"sla_availability": 1.5}]
    whatif.hosted = [whatif.new_hosted() | {"ttft_p95_seconds": -1.0}]
    with pytest.raises(ProblemList) as exc:
        load_scenario_text(whatif.scenario_text(), SCENARIOS)
    told = [explain(str(p)) for p in exc.value.problems]
    assert any(t.startswith("Leases table, row 1, sla_availability: ") for t in told), told
    assert any(t.startswith("Hosted models table, row 1, ttft_p95_seconds: ") for t in told), told


def test_a_huge_number_in_a_cell_is_told_as_typed(whatif: WhatIf) -> None:
    """A table sends 1e30 as the float's 31 digits; the problem reads it as a person typed it."""
    whatif.leases = [whatif.leases[0] | {"gpus": int(1e30)}]  # as the table's whole-number column gives it
    with pytest.raises(ProblemList) as err:
        load_scenario_text(whatif.scenario_text(), SCENARIOS)
    told = " ".join(p.message for p in err.value.problems if p.path == "leases[0].gpus")
    assert "got 1.00e+30" in told and "19884624838656" not in told


def test_a_share_typed_as_a_percentage_is_told_how_to_write_it(whatif: WhatIf) -> None:
    from app.views.whatif_tables import explain

    whatif.leases = [whatif.leases[0] | {"sla_availability": 99}]
    with pytest.raises(ProblemList) as refused:
        load_scenario_text(whatif.scenario_text(), SCENARIOS)
    assert [explain(str(p)) for p in refused.value.problems] == [
        "Leases table, row 1, sla_availability: must be at most 1, got 99; a share is written as a "
        "fraction: 0.99 for 99 %"
    ]
    # Just above 1 is more likely a slip (1.85 for 0.85) than 1.85 %: the rule, not a guess.
    text = (
        (SCENARIOS / "demo_events.yaml")
        .read_text()
        .replace("tenant_utilization: 0.85", "tenant_utilization: 1.85")
    )
    with pytest.raises(ProblemList) as refused:
        load_scenario_text(text, SCENARIOS)
    assert [p.message for p in refused.value.problems] == [
        "must be at most 1, got 1.85; a share is a fraction of 1: 0.85 for 85 %"
    ]
