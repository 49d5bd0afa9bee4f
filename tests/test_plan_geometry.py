"""Floor plans: racks never overlap, stay inside their hall, keep their aisles; same site, same plan."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from layouts.geometry import CampusPlan, plan_campus
from twin.campus import build_campus
from twin.load import load_site

SITES = Path(__file__).resolve().parent.parent / "sample_sites"


def plan_of(path: Path) -> CampusPlan:
    return plan_campus(build_campus(load_site(path)))


def overlaps(x0: np.ndarray, y0: np.ndarray, x1: np.ndarray, y1: np.ndarray) -> int:
    """Pairs of boxes that share area (touching edges do not count)."""
    ox = (x0[:, None] < x1[None, :]) & (x0[None, :] < x1[:, None])
    oy = (y0[:, None] < y1[None, :]) & (y0[None, :] < y1[:, None])
    both = ox & oy
    np.fill_diagonal(both, False)
    return int(both.sum()) // 2


def check_plan(plan: CampusPlan, floors: dict) -> None:
    r = plan.racks
    for hall in plan.halls:
        part = r.iloc[hall.rack_slice]
        assert (part["hall"] == hall.name).all()
        x0, y0 = part["x_mm"].to_numpy(), part["y_mm"].to_numpy()
        x1, y1 = x0 + part["w_mm"].to_numpy(), y0 + part["d_mm"].to_numpy()
        assert overlaps(x0, y0, x1, y1) == 0, f"racks overlap in {hall.name}"
        floor = floors[hall.name]
        wall = floor.wall_clearance_mm
        b = hall.box
        assert (x0 >= b.x_mm + wall).all() and (x1 <= b.x1_mm - wall).all(), f"rack outside {hall.name}"
        assert (y0 >= b.y_mm + wall).all() and (y1 <= b.y1_mm).all(), f"rack outside {hall.name}"
        # Aisles: rows stack north; between a pair's rows the cold aisle, between pairs the hot aisle.
        rows = part.groupby("row").agg(
            y0=("y_mm", "min"), y1=("y_mm", "max"), d=("d_mm", "max"), n=("rack", "size")
        )
        assert (rows["n"] <= floor.racks_per_row).all()
        assert (rows["y0"] == rows["y1"]).all(), "a row is not straight"
        tops = (rows["y0"] + rows["d"]).to_numpy()
        gaps = rows["y0"].to_numpy()[1:] - tops[:-1]
        facing = part.groupby("row")["facing"].first().to_numpy()
        # Fronts meet fronts and backs meet backs: a hot aisle never opens onto a cold one.
        assert (facing[1:] != facing[:-1]).all(), f"{hall.name}: rows do not alternate"
        for k, gap in enumerate(gaps):
            # a row facing north and the next facing south share a cold aisle; otherwise backs meet
            need = floor.cold_aisle_mm if (facing[k] == "N" and facing[k + 1] == "S") else floor.hot_aisle_mm
            assert gap >= need, f"{hall.name}: rows {k + 1} and {k + 2} are {gap} mm apart, need {need}"
        for area in hall.areas:
            a = area.box
            assert b.x_mm <= a.x_mm and a.x1_mm <= b.x1_mm and b.y_mm <= a.y_mm and a.y1_mm <= b.y1_mm
    halls = [h.box for h in plan.halls]
    hx = np.array([[h.x_mm, h.y_mm, h.x1_mm, h.y1_mm] for h in halls])
    assert overlaps(*hx.T) == 0, "halls overlap"
    bx = np.array([[b.x_mm, b.y_mm, b.x1_mm, b.y1_mm] for _, b in plan.buildings])
    assert overlaps(*bx.T) == 0, "buildings overlap"
    by_name = dict(plan.buildings)
    for hall in plan.halls:
        out = by_name[hall.building]
        assert out.x_mm <= hall.box.x_mm and hall.box.x1_mm <= out.x1_mm
        assert out.y_mm <= hall.box.y_mm and hall.box.y1_mm <= out.y1_mm


def floors_of(path: Path) -> dict:
    site = load_site(path)
    return {f"{b.name}/{h.name}": h.floor for b in site.buildings for h in b.halls}


@pytest.mark.parametrize("name", ["demo.yaml", "louisiana.yaml", "ohio.yaml", "llama3_cluster.yaml"])
def test_sample_sites_plan_cleanly(name: str) -> None:
    plan = plan_of(SITES / name)
    assert len(plan.racks) == build_campus(load_site(SITES / name)).racks
    assert sum(h.racks for h in plan.halls) == len(plan.racks)
    check_plan(plan, floors_of(SITES / name))


def test_same_site_same_plan() -> None:
    a, b = plan_of(SITES / "louisiana.yaml"), plan_of(SITES / "louisiana.yaml")
    assert a.racks.to_csv(index=False) == b.racks.to_csv(index=False)
    assert [(h.name, h.box, h.areas) for h in a.halls] == [(h.name, h.box, h.areas) for h in b.halls]
    assert a.buildings == b.buildings


def site_with_floor(tmp: Path, floor: str) -> Path:
    shutil.copy(SITES / "catalog.yaml", tmp / "catalog.yaml")
    text = (SITES / "demo.yaml").read_text()
    (tmp / "demo.yaml").write_text(text + "\nfloor: " + floor + "\n")
    return tmp / "demo.yaml"


def test_floor_section_of_the_site_file_is_followed(tmp_path: Path) -> None:
    path = site_with_floor(
        tmp_path,
        "{racks_per_row: 8, cold_aisle_mm: 1800, hot_aisle_mm: 1500, wall_clearance_mm: 2000, "
        "rooms: [{kind: power, depth_mm: 5000}, {kind: cooling, depth_mm: 7000, name: CDU room}]}",
    )
    plan = plan_of(path)
    check_plan(plan, floors_of(path))
    assert plan.racks.groupby(["hall", "row"]).size().max() == 8
    hall = plan.halls[0]
    rooms = [(a.kind, a.name, a.box.d_mm) for a in hall.areas if a.kind in ("power", "cooling")]
    assert rooms == [("power", "power room", 5000), ("cooling", "CDU room", 7000)]
    cold = [a.box.d_mm for a in hall.areas if a.kind == "cold_aisle"]
    assert cold and set(cold) == {1800}


def test_bad_floor_is_refused_with_its_line(tmp_path: Path) -> None:
    from twin.errors import ProblemList

    path = site_with_floor(tmp_path, "{cold_aisle_mm: 100}")
    with pytest.raises(ProblemList) as err:
        load_site(path)
    assert any(p.path == "floor.cold_aisle_mm" for p in err.value.problems)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    per_row=st.integers(1, 40),
    cold=st.integers(600, 3000),
    hot=st.integers(600, 3000),
    wall=st.integers(0, 3000),
)
def test_any_floor_gives_a_clean_plan(tmp_path: Path, per_row: int, cold: int, hot: int, wall: int) -> None:
    path = site_with_floor(
        tmp_path,
        f"{{racks_per_row: {per_row}, cold_aisle_mm: {cold}, hot_aisle_mm: {hot}, wall_clearance_mm: {wall}}}",
    )
    check_plan(plan_of(path), floors_of(path))
