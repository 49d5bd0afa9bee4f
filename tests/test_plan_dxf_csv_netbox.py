"""Site-plan exports for other tools: DXF for CAD, the rack inventory CSV, the NetBox bundle.

Each export is read back the way its consumer reads it: the DXF with ezdxf (and its auditor), the
CSV with the csv module, the NetBox files as NetBox resolves them (every name a row refers to must
be defined by an earlier file of the import order). Tenants are set on the colouring directly, so
no run of the twin is needed; two of them are hostile (a formula and an HTML tag).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import re
import zipfile

import ezdxf
import pytest
import yaml

from layouts.colour import INTERNAL, TENANT_HEX, RunSource, colour_racks
from layouts.dxf import layer_slug, write_dxf
from layouts.geometry import Area, Box, plan_campus
from layouts.inventory_csv import COLUMNS as CSV_COLUMNS
from layouts.inventory_csv import write_csv
from layouts.netbox import feed_amperage, netbox_files, write_netbox
from twin.campus import build_campus
from twin.load import load_site

FORMULA = '=HYPERLINK("x")'
HTML = "<img src=x onerror=alert(1)>"
# NetBox 4.x import columns, required first (shared/reference/ecosystem.md section 3), and for the
# objects that table leaves out, NetBox's own import form fields.
NETBOX_COLUMNS = {
    "00_regions.csv": ["name", "slug", "parent", "description"],
    "01_tenants.csv": ["name", "slug", "group", "description"],
    "02_sites.csv": ["name", "slug", "status", "region", "group", "tenant", "facility", "time_zone",
                     "latitude", "longitude", "description"],
    "03_locations.csv": ["site", "name", "slug", "status", "parent", "tenant", "facility", "description"],
    "04_rack_roles.csv": ["name", "slug", "color", "description"],
    "05_racks.csv": ["site", "name", "status", "location", "group", "facility_id", "tenant", "role",
                     "rack_type", "width", "u_height", "airflow", "description"],
    "06_rack_reservations.csv": ["site", "rack", "units", "description", "location", "status", "tenant"],
    "07_power_panels.csv": ["site", "name", "location", "description"],
    "08_power_feeds.csv": ["site", "power_panel", "name", "status", "type", "supply", "phase", "location",
                           "rack", "voltage", "amperage", "max_utilization", "tenant"],
    "09_manufacturers.csv": ["name", "slug", "description"],
    "10_device_roles.csv": ["name", "slug", "color", "description"],
    "12_devices.csv": ["role", "manufacturer", "device_type", "status", "site", "name", "tenant", "location",
                       "rack", "position", "face", "airflow"],
}  # fmt: skip
IMPORT_ORDER = [*list(NETBOX_COLUMNS)[:11], "11_device_types.yaml", "12_devices.csv"]


@pytest.fixture(scope="module")
def demo():
    campus = build_campus(load_site("sample_sites/demo.yaml"))
    plan = plan_campus(campus)
    n = len(plan.racks)
    tenant = [INTERNAL] * n
    lease = [""] * n
    for first, stop, name, held in (
        (0, 40, "Acme AI", "L-1"),
        (40, 60, HTML, "L-3"),
        (100, n, FORMULA, "-L-2"),
    ):
        tenant[first:stop] = [name] * (stop - first)
        lease[first:stop] = [held] * (stop - first)
    colouring = dataclasses.replace(colour_racks(plan, "tenant"), tenant=tenant, lease=lease)
    return campus, plan, colouring


@pytest.fixture(scope="module")
def louisiana():
    campus = build_campus(load_site("sample_sites/louisiana.yaml"))
    plan = plan_campus(campus)
    return campus, plan, colour_racks(plan, "tenant")


# --- DXF ---------------------------------------------------------------------------------------


def _inserts(path):
    doc = ezdxf.readfile(path)
    auditor = doc.audit()
    assert not auditor.has_errors, [str(e) for e in auditor.errors][:5]
    return doc, list(doc.modelspace().query("INSERT"))


def test_dxf_audits_clean_with_one_attributed_insert_per_rack(demo, tmp_path):
    _, plan, colouring = demo
    doc, inserts = _inserts(write_dxf(plan, colouring, tmp_path / "demo.dxf"))
    assert doc.header["$INSUNITS"] == 4  # millimetres
    assert len(inserts) == len(plan.racks)
    expected = {
        name: (kw, tenant, lease)
        for name, kw, tenant, lease in zip(
            plan.racks["name"], plan.racks["kw"], colouring.tenant, colouring.lease, strict=True
        )
    }
    seen = set()
    for ref in inserts:
        attribs = {a.dxf.tag: a.dxf.text for a in ref.attribs}
        assert set(attribs) == {"NAME", "KW", "TENANT", "LEASE"}
        consts = {a.dxf.tag: a.dxf.text for a in doc.blocks[ref.dxf.name].attdefs() if a.is_const}
        assert set(consts) == {"GPUS", "TYPE"}
        kw, tenant, lease = expected[attribs["NAME"]]
        assert float(attribs["KW"]) == kw
        assert attribs["TENANT"] == tenant  # "internal" as in the CSV, never empty
        assert attribs["LEASE"] == lease
        layer = "RACK-INTERNAL" if tenant == INTERNAL else f"TENANT-{layer_slug(tenant)}"
        assert ref.dxf.layer == layer
        seen.add(attribs["NAME"])
    assert seen == set(expected)
    layers = {layer.dxf.name for layer in doc.layers}
    assert {"RACK-INTERNAL", "RACK-LEASED", "POWER", "COOLING", "ANNO"} <= layers
    for tenant in {"Acme AI", HTML, FORMULA}:
        assert f"TENANT-{layer_slug(tenant)}" in layers
    assert all(re.fullmatch(r"TENANT-[a-z0-9-]+", name) for name in layers if name.startswith("TENANT-"))
    assert doc.layers.get("TENANT-acme-ai").rgb is not None  # true colour


@pytest.mark.parametrize("hall", [None, "A/H1"])
def test_dxf_opens_on_the_whole_drawing_with_rack_names_read_from_the_bottom_or_right(demo, hall, tmp_path):
    """The saved extents and view hold every entity (a viewer opens on the plan, not on an empty
    metre at the origin), however long a tenant's name in the legend, and the rack names of
    south-facing rows are not upside down."""
    from ezdxf import bbox

    _, plan, colouring = demo
    long_name = "Frontier Model Laboratory of Very Long Names, Incorporated " * 2
    tenant = [long_name if t == "Acme AI" else t for t in colouring.tenant]
    names = sorted(set(tenant) - {INTERNAL})
    colouring = dataclasses.replace(
        colouring,
        tenant=tenant,
        legend=[*((n, TENANT_HEX[k]) for k, n in enumerate(names)), (INTERNAL, "#b4b4b4")],
    )
    doc, inserts = _inserts(write_dxf(plan, colouring, tmp_path / "demo.dxf", hall=hall))
    low, high = doc.header["$EXTMIN"], doc.header["$EXTMAX"]
    # Everything visible: racks (with their visible names) lie within the halls' outlines, and a
    # rack's invisible attributes (its tenant, kW) are no part of what a viewer shows.
    drawn = bbox.extents(doc.modelspace().query("LWPOLYLINE LINE TEXT"), fast=True)
    assert low[0] <= drawn.extmin.x + 1 and low[1] <= drawn.extmin.y + 1
    assert high[0] >= drawn.extmax.x - 1 and high[1] >= drawn.extmax.y - 1
    assert (high[0] - low[0]) < 1.05 * drawn.size.x and (high[1] - low[1]) < 1.05 * drawn.size.y
    view = doc.viewports.get("*Active")[0]
    assert view.dxf.height >= high[1] - low[1]  # the saved view shows it all, across too
    assert view.dxf.height * view.dxf.aspect_ratio >= high[0] - low[0]
    assert (view.dxf.center.x, view.dxf.center.y) == pytest.approx(
        ((low[0] + high[0]) / 2, (low[1] + high[1]) / 2)
    )
    turned = [ref for ref in inserts if ref.dxf.rotation == 180]
    assert turned, "the demo has south-facing rows"
    assert {a.dxf.rotation for ref in inserts for a in ref.attribs if a.dxf.tag == "NAME"} == {90}
    legend = {t.dxf.text for t in doc.modelspace().query('TEXT[layer=="ANNO"]')}
    held = {a.dxf.text for ref in inserts for a in ref.attribs if a.dxf.tag == "TENANT"}
    assert {label for label, _ in colouring.legend} & legend == held  # only the tenants drawn


def test_dxf_is_deterministic(demo, tmp_path):
    _, plan, colouring = demo
    first = write_dxf(plan, colouring, tmp_path / "a.dxf").read_bytes()
    assert write_dxf(plan, colouring, tmp_path / "b.dxf").read_bytes() == first


def test_dxf_of_one_hall_has_its_origin_at_zero(louisiana, tmp_path):
    _, plan, colouring = louisiana
    hall = plan.halls[5]
    doc, inserts = _inserts(write_dxf(plan, colouring, tmp_path / "hall.dxf", hall=hall.name))
    assert len(inserts) == hall.racks
    xs = [ref.dxf.insert.x for ref in inserts]
    ys = [ref.dxf.insert.y for ref in inserts]
    assert min(xs) > 0 and max(xs) <= hall.box.w_mm and min(ys) > 0 and max(ys) <= hall.box.d_mm
    assert {ref.dxf.layer for ref in inserts} == {"RACK-INTERNAL"}


def test_dxf_plant_rooms_and_colouring_by_kw(demo, tmp_path):
    _, plan, _ = demo
    hall = plan.halls[0]
    box = hall.box
    rooms = [Area("power", "UPS room", Box(box.x_mm, box.y1_mm, box.w_mm, 5000)),
             Area("cooling", "CDU room", Box(box.x_mm, box.y1_mm + 5000, box.w_mm, 4000))]  # fmt: skip
    halls = [dataclasses.replace(hall, areas=hall.areas + rooms), *plan.halls[1:]]
    plan = dataclasses.replace(plan, halls=halls)
    doc, inserts = _inserts(write_dxf(plan, colour_racks(plan, "kw"), tmp_path / "kw.dxf", hall=hall.name))
    msp = doc.modelspace()
    aisles = sum(a.kind.endswith("aisle") for a in hall.areas)
    assert len(msp.query("LWPOLYLINE[layer=='POWER']")) == 1
    assert len(msp.query("LWPOLYLINE[layer=='COOLING']")) == aisles + 1
    assert all(ref.rgb is not None for ref in inserts)  # the kW band's colour on each rack
    texts = [t.dxf.text for t in msp.query("TEXT[layer=='ANNO']")]
    assert {"UPS room", "CDU room", hall.name, "R01"} <= set(texts)
    # Aisles and pods are named as on the SVG and PDF plans (the DXF once named only rows and rooms).
    assert texts.count("cold aisle") + texts.count("hot aisle") == aisles
    pods = {p.rsplit("/", 1)[-1] for p in plan.racks.iloc[hall.rack_slice]["pod"]}
    assert pods and all(texts.count(p) == 1 for p in pods)


def test_layer_slugs_are_safe():
    assert layer_slug("Acme AI") == "acme-ai"
    assert layer_slug(HTML) == "img-src-x-onerror-alert-1"
    assert layer_slug("日本") == "tenant"


# --- CSV ---------------------------------------------------------------------------------------


def test_csv_has_one_row_per_rack_and_neutralises_formulas(demo, tmp_path):
    _, plan, colouring = demo
    path = write_csv(plan, colouring, tmp_path / "racks.csv")
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == list(CSV_COLUMNS) == [
        "rack_id", "building", "hall", "row", "position", "x_mm", "y_mm", "campus_x_mm", "campus_y_mm",
        "rack_type", "gpus", "gpu_type", "kw", "tenant", "lease", "utilisation_pct", "scenario", "seed", "day",
    ]  # fmt: skip
    records = [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    assert [r["rack_id"] for r in records] == plan.racks["name"].tolist()
    tenants = {r["tenant"] for r in records}
    assert tenants == {"Acme AI", HTML, "'" + FORMULA, INTERNAL}  # the HTML stays plain text
    assert {r["lease"] for r in records} == {"L-1", "L-3", "'-L-2", ""}
    first = plan.racks.iloc[0]
    assert (int(records[0]["x_mm"]), int(records[0]["campus_x_mm"])) == (first.hall_x_mm, first.x_mm)


def test_csv_of_one_hall(demo, tmp_path):
    _, plan, colouring = demo
    hall = plan.halls[2]
    with write_csv(plan, colouring, tmp_path / "h.csv", hall=hall.name).open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == hall.racks and {r["hall"] for r in rows} == {hall.name}


# --- NetBox ------------------------------------------------------------------------------------


def _read(files: dict[str, bytes]) -> dict[str, list[dict]]:
    tables = {}
    for name, data in files.items():
        if name.endswith(".csv"):
            reader = csv.reader(io.StringIO(data.decode("utf-8"), newline=""))
            header = next(reader)
            assert header == NETBOX_COLUMNS[name], name
            tables[name] = [dict(zip(header, row, strict=True)) for row in reader]
    tables["11_device_types.yaml"] = list(yaml.safe_load_all(files["11_device_types.yaml"]))
    return tables


def test_netbox_names_resolve_in_import_order(demo):
    campus, plan, colouring = demo
    files = netbox_files(plan, colouring, campus)
    assert list(files) == [*IMPORT_ORDER, "README.md"]
    t = _read(files)
    regions = {r["name"] for r in t["00_regions.csv"]}
    tenants = {r["name"] for r in t["01_tenants.csv"]} | {""}
    assert tenants == {"Acme AI", HTML, FORMULA, ""}  # NetBox matches names exactly: verbatim
    sites = {r["name"] for r in t["02_sites.csv"]}
    assert {r["region"] for r in t["02_sites.csv"]} <= regions
    locations = {(r["site"], r["name"]) for r in t["03_locations.csv"]}
    roles = {r["name"] for r in t["04_rack_roles.csv"]}
    racks = {(r["site"], r["location"], r["name"]): r for r in t["05_racks.csv"]}
    assert len(racks) == len(plan.racks)
    for r in t["05_racks.csv"]:
        assert r["status"] == "active" and r["role"] in roles and r["tenant"] in tenants
        assert (r["site"], r["location"]) in locations and r["site"] in sites
    leased = [name for name, lease in zip(plan.racks["name"], colouring.lease, strict=True) if lease]
    assert sorted(r["rack"] for r in t["06_rack_reservations.csv"]) == sorted(leased)
    for r in t["06_rack_reservations.csv"]:
        rack = racks[(r["site"], r["location"], r["rack"])]
        assert [int(u) for u in r["units"].split(",")] == list(range(1, int(rack["u_height"]) + 1))
        assert r["tenant"] == rack["tenant"] and r["tenant"] and "Lease" in r["description"]
    panels = {(r["site"], r["name"]) for r in t["07_power_panels.csv"]}
    assert {(r["site"], r["location"]) for r in t["07_power_panels.csv"]} <= locations
    assert len(t["08_power_feeds.csv"]) == 2 * len(plan.racks)
    kw = dict(zip(plan.racks["name"], plan.racks["kw"], strict=True))
    for r in t["08_power_feeds.csv"]:
        assert (r["site"], r["power_panel"]) in panels and (r["site"], r["location"], r["rack"]) in racks
        assert r["type"] in ("primary", "redundant") and (r["supply"], r["phase"]) == ("ac", "three-phase")
        watts = int(r["voltage"]) * int(r["amperage"]) * math.sqrt(3) * int(r["max_utilization"]) / 100
        assert watts >= kw[r["rack"]] * 1000
    manufacturers = {r["name"] for r in t["09_manufacturers.csv"]}
    device_roles = {r["name"] for r in t["10_device_roles.csv"]}
    types = {(d["manufacturer"], d["model"]): d for d in t["11_device_types.yaml"]}
    assert {m for m, _ in types} <= manufacturers
    gpus = dict(zip(plan.racks["name"], plan.racks["gpus"], strict=True))
    per_rack: dict[str, int] = {}
    for r in t["12_devices.csv"]:
        assert r["role"] in device_roles and r["tenant"] in tenants
        dtype = types[(r["manufacturer"], r["device_type"])]
        rack = racks[(r["site"], r["location"], r["rack"])]
        assert int(r["position"]) >= 1 and int(r["position"]) + dtype["u_height"] - 1 <= int(rack["u_height"])
        per_rack[r["rack"]] = per_rack.get(r["rack"], 0) + 1
    catalog = campus.site.catalog.rack_types
    for name, rtype in zip(plan.racks["name"], plan.racks["rack_type"], strict=True):
        assert per_rack[name] == gpus[name] // catalog[rtype].gpus_per_server


def test_netbox_folder_zip_and_readme(demo, tmp_path):
    campus, plan, colouring = demo
    folder = write_netbox(plan, colouring, campus, tmp_path / "bundle")
    archive = write_netbox(plan, colouring, campus, tmp_path / "bundle.zip")
    with zipfile.ZipFile(archive) as zf:
        zipped = {name: zf.read(name) for name in zf.namelist()}
    on_disk = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert zipped == on_disk and set(on_disk) == {*IMPORT_ORDER, "README.md"}
    assert write_netbox(plan, colouring, campus, tmp_path / "again.zip").read_bytes() == archive.read_bytes()
    readme = on_disk["README.md"].decode()
    assert "NetBox 4." in readme
    positions = [readme.index(f"`{name}`") for name in IMPORT_ORDER]
    assert positions == sorted(positions)
    for netbox in ("Region", "Site", "Location", "Rack", "Tenant", "RackReservation"):
        assert f"| {netbox}" in readme


def test_netbox_tenants_and_reservations_name_the_run_they_come_from(demo):
    campus, plan, colouring = demo
    run = dataclasses.replace(colouring, source=RunSource("=whatif", 3, 12.5))
    files = netbox_files(plan, run, campus)
    t = _read(files)  # the same NetBox columns: the run is in free-text descriptions only
    said = "scenario =whatif · seed 3 · tenants on day 12.5, the run's end"
    assert all(said in r["description"] for r in t["01_tenants.csv"] + t["06_rack_reservations.csv"])
    assert all(len(r["description"]) <= 200 for r in t["01_tenants.csv"] + t["06_rack_reservations.csv"])
    assert said in files["README.md"].decode()
    assert "no run of the twin" in netbox_files(plan, colouring, campus)["README.md"].decode()


def test_netbox_one_hall(louisiana):
    campus, plan, colouring = louisiana
    hall = plan.halls[-1]
    t = _read(netbox_files(plan, colouring, campus, hall=hall.name))
    assert [r["name"] for r in t["03_locations.csv"]] == [hall.name]
    assert len(t["05_racks.csv"]) == hall.racks and not t["06_rack_reservations.csv"]
    assert len(t["02_sites.csv"]) == 1 and not t["01_tenants.csv"]


def test_feed_amperage_is_a_standard_rating_that_covers_the_rack():
    assert feed_amperage(22) == 40  # 22 kW / (415 V x 1.732 x 0.8) = 38 A
    assert feed_amperage(132) == 250  # 230 A
    assert feed_amperage(5000) == 8700  # beyond 1,600 A: the next 100 A
