"""The campus as a NetBox 4.x import bundle: CSV files (and one YAML) in NetBox's import order.

NetBox is the DCIM many planners already keep, and it imports objects in bulk from CSV, one
object type per upload, each row naming the objects it refers to by name. So the bundle is one
file per object type, numbered in the order they must be imported (a file may refer only to
objects of earlier files), plus a ``README.md`` saying so. The mapping (``shared/reference/
ecosystem.md`` section 3):

========================  =====================================================================
campustwin                NetBox
========================  =====================================================================
campus                    Region (``00_regions.csv``)
tenant                    Tenant (a lease's, or ``hosted: MODEL``; internal racks have none)
building                  Site, named "<campus> <building>" (site names are unique NetBox-wide)
hall                      Location, named as the twin names halls ("A/H1")
rack                      Rack (role by cooling: air or liquid), named as the twin names racks
lease                     RackReservation of all the units of each of its racks, the lease named
                          in the description (NetBox has no time-bounded lease, issue #11879)
hall power                one PowerPanel per hall, two PowerFeeds per rack: A primary, B redundant
server / compute tray     Device of a DeviceType ("Generic" manufacturer, YAML: NetBox imports
                          device types from YAML only), ``gpus / gpus_per_server`` per rack
========================  =====================================================================

**Feed sizing.** NetBox rates a three-phase feed at V x A x 1.732 x max_utilization. Each feed
is 415 V three-phase AC at 80 % maximum utilisation, and its amperage is the smallest standard
breaker rating (16 A ... 1600 A) whose rating covers the rack's full draw. Both feeds carry the whole
rack (2N at the rack: either feed alone keeps it up), so the two together show twice the rack.

**Rack height.** The catalog has no server heights, so the bundle assumes 1 U per compute tray of
at most four GPUs (NVL72-style), 4 U per liquid-cooled and 8 U per air-cooled eight-GPU server,
in 48 U racks for liquid cooling and 42 U for air, taller if the servers need it (NetBox allows
100 U). Servers stack from U1; any that do not fit in 100 U are placed in the rack without a unit.

Column names follow NetBox 4.6 (``Rack.group``, ``RackReservation.status``); the files are the
same bytes for the same input, and names are written verbatim, since NetBox matches them exactly.
"""

from __future__ import annotations

import csv
import io
import math
import re
import unicodedata
import zipfile
from pathlib import Path

import pandas as pd
import yaml

from layouts.colour import INTERNAL, Colouring
from layouts.export import ExportError
from layouts.geometry import CampusPlan
from twin.campus import Campus
from twin.errors import in_brief

NETBOX_VERSION = "4.6"
MANUFACTURER = "Generic"
DEVICE_ROLE = "GPU server"
VOLTAGE = 415
MAX_UTILIZATION = 80  # percent
BREAKERS_A = (16, 20, 25, 32, 40, 50, 63, 80, 100, 125, 160, 200, 250, 315, 400, 500, 630, 800, 1000,
              1250, 1600)  # fmt: skip
ROLE_COLOUR = {"air": "ff7f0e", "liquid": "1f77b4"}
COLUMNS = {
    "00_regions.csv": ("name", "slug", "parent", "description"),
    "01_tenants.csv": ("name", "slug", "group", "description"),
    "02_sites.csv": ("name", "slug", "status", "region", "group", "tenant", "facility", "time_zone",
                     "latitude", "longitude", "description"),
    "03_locations.csv": ("site", "name", "slug", "status", "parent", "tenant", "facility", "description"),
    "04_rack_roles.csv": ("name", "slug", "color", "description"),
    "05_racks.csv": ("site", "name", "status", "location", "group", "facility_id", "tenant", "role",
                     "rack_type", "width", "u_height", "airflow", "description"),
    "06_rack_reservations.csv": ("site", "rack", "units", "description", "location", "status", "tenant"),
    "07_power_panels.csv": ("site", "name", "location", "description"),
    "08_power_feeds.csv": ("site", "power_panel", "name", "status", "type", "supply", "phase", "location",
                           "rack", "voltage", "amperage", "max_utilization", "tenant"),
    "09_manufacturers.csv": ("name", "slug", "description"),
    "10_device_roles.csv": ("name", "slug", "color", "description"),
    "11_device_types.yaml": (),
    "12_devices.csv": ("role", "manufacturer", "device_type", "status", "site", "name", "tenant", "location",
                       "rack", "position", "face", "airflow"),
}  # fmt: skip
FILES = (*COLUMNS, "README.md")


def write_netbox(
    plan: CampusPlan, colouring: Colouring, campus: Campus, out: Path | str, hall: str | None = None
) -> Path:
    """Write the NetBox bundle of ``plan`` (or one hall) to folder ``out``, or a zip if it ends .zip.

    Raises ExportError when ``out`` cannot take a bundle (:func:`bundle_problem`).
    """
    out = Path(out)
    problem = bundle_problem(out)
    if problem:
        raise ExportError(problem)
    files = netbox_files(plan, colouring, campus, hall)
    if out.suffix.lower() == ".zip":
        out.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data in files.items():
                info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))  # fixed: same bytes
                info.external_attr = 0o644 << 16
                zf.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
    else:
        out.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            (out / name).write_bytes(data)
    return out


# An --out ending so is a file name slipped in where a folder goes; a folder may still be called
# "netbox.v2" or "2025.q3".
FILE_SUFFIXES = {".tar", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar", ".csv", ".json", ".yaml", ".yml",
                 ".txt", ".xlsx", ".xls", ".pdf", ".svg", ".dxf"}  # fmt: skip
DESKTOP_FILES = {"Thumbs.db", "desktop.ini"}  # written by file browsers; hidden files are skipped too


def bundle_problem(out: Path) -> str | None:
    """Why ``out`` cannot take a NetBox bundle, in a line that names the fix; None when it can.

    A bundle is a folder (or a .zip). A name with a file's extension (``nb.tar``) is a slip that
    once gave a folder named like an archive; files already in the folder would be mixed with the
    bundle and imported or mistaken for it. A folder holding only an earlier bundle's files is
    fine: the new bundle writes every one of those names, so it replaces it.
    """
    if out.suffix.lower() == ".zip":
        if out.is_dir():
            return f"--out {out}: is a folder; give a new .zip file name, or the folder's name without .zip"
        return _zip_problem(out) if out.exists() else None
    if out.suffix.lower() in FILE_SUFFIXES:
        return (f"--out {out}: a NetBox bundle is a folder (or a .zip), not a {out.suffix} file; "
                f"e.g. --out {out.with_suffix('')} or --out {out.with_suffix('.zip')}")  # fmt: skip
    if out.exists() and not out.is_dir():
        return f"--out {out}: is a file; a NetBox bundle is a folder: give a new folder name, or a .zip"
    try:
        others = sorted(p.name for p in out.iterdir() if (p.name not in FILES or not p.is_file())
                        and not p.name.startswith(".") and p.name not in DESKTOP_FILES) if out.is_dir() else []  # fmt: skip
    except OSError as exc:
        return f"--out {out}: cannot read the folder ({exc.strerror or exc}); give a folder you can write to"
    if others:
        return (f"--out {out}: the folder holds {in_brief(others)}, not a NetBox bundle; give a new or empty folder, "
                f"e.g. --out {out / 'netbox'}")  # fmt: skip
    return None


def _zip_problem(out: Path) -> str | None:
    """An existing zip is replaced only if it is an earlier bundle (its names are a bundle's)."""
    try:
        with zipfile.ZipFile(out) as zf:
            others = sorted(set(zf.namelist()) - set(FILES))
    except (OSError, zipfile.BadZipFile):
        return f"--out {out}: is not a zip file; give a new .zip file name"
    if others:
        return (
            f"--out {out}: the zip holds {in_brief(others)}, not a NetBox bundle; give a new .zip file name"
        )
    return None


def netbox_files(plan: CampusPlan, colouring: Colouring, campus: Campus, hall: str | None = None) -> dict:
    """The bundle as {file name: bytes}, in import order (README last)."""
    racks = plan.racks.assign(tenant=colouring.tenant, lease=colouring.lease)
    halls = plan.halls
    if hall is not None:
        hp = plan.hall(hall)
        racks, halls = racks.iloc[hp.rack_slice], [hp]
    catalog = campus.site.catalog
    spec = campus.site.spec
    tenant = _tenant_names(sorted(set(racks["tenant"]) - {INTERNAL}))
    tenant[INTERNAL] = ""
    site = {b: _text(f"{plan.name} {b}", 100) for b in dict.fromkeys(h.building for h in halls)}
    kinds = {rt: catalog.rack_types[rt] for rt in dict.fromkeys(racks["rack_type"])}
    shape = {rt: _rack_shape(k.gpus, k.gpus_per_server, k.cooling) for rt, k in kinds.items()}
    role = {"air": "GPU compute (air-cooled)", "liquid": "GPU compute (liquid-cooled)"}
    model = {rt: f"{rt} server ({k.gpus_per_server}x {k.gpu_type})"[:100] for rt, k in kinds.items()}
    counts = racks["tenant"].value_counts()
    # Tenants and reservations come from a run: their descriptions (free text in NetBox) name it.
    source = colouring.provenance_line()

    rows: dict[str, list[dict]] = {name: [] for name in COLUMNS}  # a row names only its non-empty cells
    rows["00_regions.csv"].append({"name": plan.name, "slug": _slug(plan.name),
                                   "description": _text(spec.description, 200)})  # fmt: skip
    slugs: set[str] = set()
    for name, nb in tenant.items():
        if nb:
            leases = sorted(set(racks.loc[racks["tenant"] == name, "lease"]) - {""})
            # The run before the leases: a long list of leases is what NetBox's 200 characters cut.
            held = f"leases: {', '.join(leases)}" if leases else "a hosted model, sold by the token"
            desc = f"{counts[name]} racks in {plan.name} ({source}); {held}"
            rows["01_tenants.csv"].append(
                {"name": nb, "slug": _slug(nb, slugs), "description": _text(desc, 200)}
            )
    loc = spec.location
    slugs = set()
    for b, name in site.items():
        desc = f"Building {b} of campus {plan.name}" + (f", {loc.region}" if loc.region else "")
        rows["02_sites.csv"].append({
            "name": name, "slug": _slug(name, slugs), "status": "active", "region": plan.name,
            "facility": _text(b, 50), "time_zone": loc.time_zone, "latitude": f"{loc.latitude:.6f}",
            "longitude": f"{loc.longitude:.6f}", "description": _text(desc, 200),
        })  # fmt: skip
    slugs = set()
    for hp in halls:
        part = racks[racks["hall"] == hp.name]
        desc = f"Data hall: {len(part)} racks, {part['kw'].sum() / 1000:,.1f} MW IT at full draw"
        rows["03_locations.csv"].append({
            "site": site[hp.building], "name": hp.name, "slug": _slug(hp.name, slugs), "status": "active",
            "description": desc,
        })  # fmt: skip
        rows["07_power_panels.csv"].append({
            "site": site[hp.building], "name": f"{hp.name} panel", "location": hp.name,
            "description": f"Hall {hp.name}: feeds A and B per rack",
        })  # fmt: skip
    slugs = set()
    for cooling in sorted({k.cooling for k in kinds.values()}):
        rows["04_rack_roles.csv"].append({
            "name": role[cooling], "slug": _slug(role[cooling], slugs), "color": ROLE_COLOUR[cooling],
            "description": f"GPU racks, {cooling} cooled",
        })  # fmt: skip
    _rack_rows(
        racks, rows, site, tenant, shape, {rt: role[k.cooling] for rt, k in kinds.items()}, model, source
    )
    rows["09_manufacturers.csv"].append({"name": MANUFACTURER, "slug": "generic",
                                         "description": "Placeholder for the server vendor"})  # fmt: skip
    rows["10_device_roles.csv"].append({"name": DEVICE_ROLE, "slug": "gpu-server", "color": "76b900",
                                        "description": "GPU server or compute tray"})  # fmt: skip

    files: dict[str, bytes] = {}
    for name, cols in COLUMNS.items():
        files[name] = _device_types(kinds, shape, model) if name.endswith(".yaml") else _csv(cols, rows[name])
    files["README.md"] = _readme(plan, hall, len(racks), source).encode("utf-8")
    return files


def _rack_rows(racks: pd.DataFrame, rows, site, tenant, shape, role, model, source: str) -> None:
    """Racks, reservations, feeds and devices: the rows that grow with the campus."""
    cols = ["name", "building", "hall", "pod", "row", "position", "rack_type", "gpu_type", "gpus", "kw",
            "tenant", "lease"]  # fmt: skip
    for name, bld, hl, pod, row, pos, rt, gt, gpus, kw, ten, lease in racks[cols].itertuples(index=False):
        where = {"site": site[bld], "location": hl}
        t = tenant[ten]
        u_height, servers, server_u = shape[rt]
        desc = f"{rt}: {gpus}x {gt}, {_num(kw)} kW; {pod}, row R{row:02d} position {pos}"
        rows["05_racks.csv"].append({
            **where, "name": name, "status": "active", "facility_id": f"R{row:02d}.{pos:02d}", "tenant": t,
            "role": role[rt], "width": 19, "u_height": u_height, "airflow": "front-to-rear",
            "description": _text(desc, 200),
        })  # fmt: skip
        if lease:
            rows["06_rack_reservations.csv"].append({
                **where, "rack": name, "units": ",".join(str(u) for u in range(1, u_height + 1)),
                "description": _text(f"Lease {lease} ({ten}); from {source}", 200), "status": "active",
                "tenant": t,
            })  # fmt: skip
        amps = feed_amperage(kw)
        for side, kind in (("A", "primary"), ("B", "redundant")):
            rows["08_power_feeds.csv"].append({
                **where, "power_panel": f"{hl} panel", "name": f"{name} {side}", "status": "active",
                "type": kind, "supply": "ac", "phase": "three-phase", "rack": name, "voltage": VOLTAGE,
                "amperage": amps, "max_utilization": MAX_UTILIZATION, "tenant": t,
            })  # fmt: skip
        for k in range(servers):
            top = k * server_u + 1
            fits = top + server_u - 1 <= u_height  # else in the rack without a unit (NetBox allows it)
            rows["12_devices.csv"].append({
                **where, "role": DEVICE_ROLE, "manufacturer": MANUFACTURER, "device_type": model[rt],
                "status": "active", "name": f"{name}/S{k + 1:02d}", "tenant": t, "rack": name,
                "position": top if fits else "", "face": "front" if fits else "", "airflow": "front-to-rear",
            })  # fmt: skip


def feed_amperage(kw: float) -> int:
    """Smallest standard breaker (A) of a 415 V three-phase feed carrying ``kw`` at 80 % utilisation."""
    need = kw * 1000.0 / (VOLTAGE * math.sqrt(3) * MAX_UTILIZATION / 100.0)
    for rating in BREAKERS_A:
        if rating >= need:
            return rating
    return min(32767, math.ceil(need / 100.0) * 100)  # NetBox's amperage is a 16-bit field


def _rack_shape(gpus: int, gpus_per_server: int, cooling: str) -> tuple[int, int, int]:
    """(rack height in U, servers, U per server) under the assumptions of the module docstring."""
    server_u = 1 if gpus_per_server <= 4 else (4 if cooling == "liquid" else 8)
    servers = gpus // gpus_per_server
    base = 48 if cooling == "liquid" else 42
    return min(100, max(base, servers * server_u)), servers, server_u


def _device_types(kinds, shape, model) -> bytes:
    """One YAML document per device type (NetBox's device type import takes YAML, not CSV)."""
    docs = [
        {
            "manufacturer": MANUFACTURER,
            "model": model[rt],
            "slug": _slug(model[rt]),
            "u_height": shape[rt][2],
            "is_full_depth": True,
            "airflow": "front-to-rear",
            "description": _text(f"{k.gpus_per_server}x {k.gpu_type}, {k.cooling} cooled, rack {rt}", 200),
        }
        for rt, k in kinds.items()
    ]
    return yaml.safe_dump_all(docs, sort_keys=False, explicit_start=True, allow_unicode=True).encode("utf-8")


def _readme(plan: CampusPlan, hall: str | None, n_racks: int, source: str) -> str:
    scope = f"hall {hall} of campus {plan.name}" if hall else f"campus {plan.name}"
    order = "\n".join(f"{i}. `{name}`" for i, name in enumerate(COLUMNS, start=1))
    return f"""# NetBox import bundle: {scope}

Written by campustwin for **NetBox {NETBOX_VERSION}** (NetBox 4.x; the rack `group` and reservation
`status` columns need 4.6 and 4.4: on an older 4.x delete those columns first). {n_racks} racks.

Tenants and leases from: {source}.

## Import order

Import the files in this order, each through its object list's *Import* form (NetBox 4.x bulk
import: CSV with a header row; device types as YAML). A file refers only to objects of earlier files.

{order}

## How campustwin maps onto NetBox

| campustwin | NetBox |
|---|---|
| campus | Region |
| building | Site ("<campus> <building>") |
| hall | Location |
| rack | Rack (role by cooling) |
| tenant | Tenant: a lease's, or `hosted: MODEL` for racks serving a hosted model (internal racks have none) |
| lease | RackReservation of all units of each leased rack; the lease is in its description |
| hall power | PowerPanel per hall; PowerFeed A (primary) and B (redundant) per rack |
| server / compute tray | Device (manufacturer "{MANUFACTURER}", role "{DEVICE_ROLE}") |

Feeds: {VOLTAGE} V three-phase AC, max utilisation {MAX_UTILIZATION} %; the amperage is the smallest
standard breaker whose V x A x 1.732 x {MAX_UTILIZATION} % covers the rack's full draw, on each feed.
Server heights (not in the catalog) are assumed: 1 U per compute tray of up to 4 GPUs, 4 U per
liquid-cooled and 8 U per air-cooled 8-GPU server; racks are 48 U (liquid) or 42 U (air).

Names are written verbatim because NetBox matches them exactly: open these files in a text
editor rather than a spreadsheet, which may run a name that starts with `=` as a formula.
"""


def _csv(columns: tuple[str, ...], rows: list[dict]) -> bytes:
    if rows and set(rows[0]) - set(columns):  # a misspelt column would silently write nothing
        raise ValueError(f"not NetBox columns: {sorted(set(rows[0]) - set(columns))}")
    buf = io.StringIO(newline="")
    writer = csv.writer(buf)
    writer.writerow(columns)
    writer.writerows([row.get(c, "") for c in columns] for row in rows)
    return buf.getvalue().encode("utf-8")


def _tenant_names(tenants: list[str]) -> dict[str, str]:
    """Tenant -> its NetBox name: one line, at most 100 characters, unique ignoring case."""
    out: dict[str, str] = {}
    taken: set[str] = set()
    for name in tenants:
        base = _text(name, 100) or "tenant"
        nb, n = base, 2
        while nb.lower() in taken:
            nb, n = f"{base[: 100 - len(str(n)) - 3]} ({n})", n + 1
        taken.add(nb.lower())
        out[name] = nb
    return out


def _slug(name: str, taken: set[str] | None = None) -> str:
    """A NetBox slug (``[a-z0-9_-]``, at most 100) from a name, made unique within ``taken``."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    base = re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9_-]+", "-", ascii_name.lower())).strip("-")[:95] or "x"
    slug, n = base, 2
    while taken is not None and slug in taken:
        slug, n = f"{base}-{n}", n + 1
    if taken is not None:
        taken.add(slug)
    return slug


def _text(text: str, limit: int) -> str:
    """One line of at most ``limit`` characters (NetBox's field lengths)."""
    return re.sub(r"[\x00-\x1f\x7f]+", " ", str(text)).strip()[:limit]


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{float(value):.3f}".rstrip("0")
