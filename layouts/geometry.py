"""Floor plans in millimetres: campus -> buildings -> halls -> rows in aisle pairs -> racks.

A hall is laid out the way data halls are built. The racks of a pod stand side by side in rows
of at most ``floor.racks_per_row``, pod after pod; two rows face each other across a *cold aisle*
(their fronts take in cool air) and form a pair; pairs stand back to back across a *hot aisle*
(their backs exhaust into it). Rows alternate through the hall whatever pod they belong to, so a
hot aisle never opens onto a cold one (a pod that started a fresh pair would leave a single row
blowing its exhaust into its neighbour's cold aisle); a pod's rows stay together. The
racks keep ``floor.wall_clearance_mm`` from the walls; plant rooms the site names (power,
cooling) run the full width of the hall beyond the last pair.

Halls of a building stand side by side with a corridor between them; buildings stand on the
campus in rows. Everything is integer millimetres and depends only on the site, so the same site
gives the same plan, byte for byte, in every export.

Coordinates: ``x`` grows east, ``y`` north; a box is its south-west corner plus width (x) and
depth (y). Rack positions are given on the campus and relative to their hall's origin (the CAD
convention: one origin per hall).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from twin.campus import Campus

CORRIDOR_MM = 3_000  # between halls of a building, and around them inside its walls
BUILDING_GAP_MM = 30_000  # between buildings on the campus


@dataclass(frozen=True)
class Box:
    x_mm: int
    y_mm: int
    w_mm: int
    d_mm: int

    @property
    def x1_mm(self) -> int:
        return self.x_mm + self.w_mm

    @property
    def y1_mm(self) -> int:
        return self.y_mm + self.d_mm

    def moved(self, dx: int, dy: int) -> Box:
        return Box(self.x_mm + dx, self.y_mm + dy, self.w_mm, self.d_mm)


@dataclass(frozen=True)
class Area:
    """Something drawn on a hall's floor: an aisle, a row outline or a plant room."""

    kind: str  # "cold_aisle", "hot_aisle", "row", "power", "cooling"
    name: str
    box: Box


@dataclass
class HallPlan:
    name: str  # "B1/H1", as the twin names halls
    building: str
    box: Box  # on the campus
    first_rack: int
    racks: int
    areas: list[Area] = field(default_factory=list)  # on the campus

    @property
    def rack_slice(self) -> slice:
        return slice(self.first_rack, self.first_rack + self.racks)


@dataclass
class CampusPlan:
    """A whole campus: building outlines, hall plans and one row per rack in ``racks``.

    ``racks`` columns: rack (index in the campus arrays), name, building, hall, pod, row,
    position (1 = west end of its row), x_mm, y_mm (campus), hall_x_mm, hall_y_mm (from the
    hall's origin), w_mm, d_mm, facing ("N" or "S": where its front is), rack_type, gpu_type,
    gpus, kw (full draw).
    """

    name: str
    box: Box
    buildings: list[tuple[str, Box]]
    halls: list[HallPlan]
    racks: pd.DataFrame

    def hall(self, name: str) -> HallPlan:
        for hall in self.halls:
            if hall.name == name:
                return hall
        raise KeyError(f"no hall {name!r}; halls: {', '.join(h.name for h in self.halls[:8])}...")


def plan_campus(campus: Campus) -> CampusPlan:
    """The floor plan of ``campus`` (deterministic; see the module docstring)."""
    catalog = campus.site.catalog
    footprint = np.array(
        [catalog.rack_types[name].footprint_mm for name in campus.rack_type_names], dtype=np.int64
    )
    n = campus.racks
    local = np.zeros((n, 2), dtype=np.int64)  # rack corner from its hall's origin
    row_of = np.zeros(n, dtype=np.int64)
    position = np.zeros(n, dtype=np.int64)
    facing = np.zeros(n, dtype=bool)  # True: front to the south
    hall_boxes: list[Box] = []  # hall-local size only (origin 0, 0)
    hall_areas: list[list[Area]] = []
    hall_first: list[int] = []
    h_index = 0
    for building in campus.site.buildings:
        for hall in building.halls:
            first = int(campus.rack_hall.searchsorted(h_index))
            size, areas = _lay_hall(campus, hall, h_index, footprint, local, row_of, position, facing)
            hall_boxes.append(size)
            hall_areas.append(areas)
            hall_first.append(first)
            h_index += 1

    # Halls side by side in their building, buildings in rows on the campus.
    halls: list[HallPlan] = []
    buildings: list[tuple[str, Box]] = []
    offsets = np.zeros((len(hall_boxes), 2), dtype=np.int64)
    sizes = []
    h = 0
    for building in campus.site.buildings:
        x = CORRIDOR_MM
        depth = 0
        for _ in building.halls:
            offsets[h] = (x, CORRIDOR_MM)
            x += hall_boxes[h].w_mm + CORRIDOR_MM
            depth = max(depth, hall_boxes[h].d_mm)
            h += 1
        sizes.append((x, depth + 2 * CORRIDOR_MM))
    per_row = max(1, math.ceil(math.sqrt(len(sizes))))
    origins = []
    y = 0
    for start in range(0, len(sizes), per_row):
        row = sizes[start : start + per_row]
        x = 0
        for w, _ in row:
            origins.append((x, y))
            x += w + BUILDING_GAP_MM
        y += max(d for _, d in row) + BUILDING_GAP_MM
    h = 0
    for b, building in enumerate(campus.site.buildings):
        bx, by = origins[b]
        buildings.append((building.name, Box(bx, by, *sizes[b])))
        for _ in building.halls:
            dx, dy = bx + int(offsets[h, 0]), by + int(offsets[h, 1])
            halls.append(
                HallPlan(
                    name=campus.hall_names[h],
                    building=building.name,
                    box=hall_boxes[h].moved(dx, dy),
                    first_rack=hall_first[h],
                    racks=int(np.count_nonzero(campus.rack_hall == h)),
                    areas=[Area(a.kind, a.name, a.box.moved(dx, dy)) for a in hall_areas[h]],
                )
            )
            h += 1
    hall_origin = np.array([(p.box.x_mm, p.box.y_mm) for p in halls], dtype=np.int64)[campus.rack_hall]
    rt = campus.rack_type
    racks = pd.DataFrame(
        {
            "rack": np.arange(n),
            "name": [campus.rack_name(r) for r in range(n)],
            "building": np.array(campus.building_names, dtype=object)[campus.rack_building],
            "hall": np.array(campus.hall_names, dtype=object)[campus.rack_hall],
            "pod": np.array(campus.pod_names, dtype=object)[campus.rack_pod],
            "row": row_of,
            "position": position,
            "x_mm": local[:, 0] + hall_origin[:, 0],
            "y_mm": local[:, 1] + hall_origin[:, 1],
            "hall_x_mm": local[:, 0],
            "hall_y_mm": local[:, 1],
            "w_mm": footprint[rt, 0],
            "d_mm": footprint[rt, 1],
            "facing": np.where(facing, "S", "N"),
            "rack_type": np.array(campus.rack_type_names, dtype=object)[rt],
            "gpu_type": np.array(campus.gpu_type_names, dtype=object)[campus.rack_gpu_type],
            "gpus": campus.rack_gpus.astype(np.int64),
            "kw": campus.rack_max_kw.astype(float),
        }
    )
    width = max(b.x1_mm for _, b in buildings)
    depth = max(b.y1_mm for _, b in buildings)
    return CampusPlan(campus.name, Box(0, 0, width, depth), buildings, halls, racks)


def _lay_hall(campus, hall, h_index, footprint, local, row_of, position, facing) -> tuple[Box, list[Area]]:
    """Place one hall's racks (hall-local, written into the arrays); return its size and areas."""
    floor = hall.floor
    wall = floor.wall_clearance_mm
    pods = np.flatnonzero(campus.pod_hall == h_index)
    areas: list[Area] = []
    rows = []  # (racks of the row, rack width, rack depth), pod after pod
    for pod in pods.tolist():
        start, stop = int(campus.pod_first_rack[pod]), int(campus.pod_first_rack[pod + 1])
        w, d = (int(v) for v in footprint[campus.rack_type[start]])
        step = floor.racks_per_row
        rows += [(np.arange(i, min(i + step, stop)), w, d) for i in range(start, stop, step)]
    y = wall
    width = 0
    for k, (idx, w, d) in enumerate(rows):
        number = k + 1
        south = k % 2 == 1  # rows alternate: fronts meet across cold aisles, backs across hot ones
        local[idx, 0] = wall + w * np.arange(idx.size)
        local[idx, 1] = y
        row_of[idx] = number
        position[idx] = np.arange(1, idx.size + 1)
        facing[idx] = south
        areas.append(Area("row", f"R{number:02d}", Box(wall, y, w * idx.size, d)))
        width = max(width, w * idx.size)
        y += d
        if not south:  # a north-facing row always has a cold aisle in front, paired row or not
            areas.append(Area("cold_aisle", f"cold aisle R{number:02d}-R{number + 1:02d}",
                              Box(wall, y, 0, floor.cold_aisle_mm)))  # fmt: skip
            y += floor.cold_aisle_mm
        elif k + 1 < len(rows):
            areas.append(Area("hot_aisle", f"hot aisle R{number:02d}-R{number + 1:02d}",
                              Box(wall, y, 0, floor.hot_aisle_mm)))  # fmt: skip
            y += floor.hot_aisle_mm
    y += wall
    total_w = width + 2 * wall
    for room in floor.rooms:
        areas.append(Area(room.kind, room.name or f"{room.kind} room", Box(0, y, total_w, room.depth_mm)))
        y += room.depth_mm
    # Aisles were opened before the hall's width was known: give them the rows' width now.
    areas = [Area(a.kind, a.name, Box(wall, a.box.y_mm, width, a.box.d_mm)) if a.kind.endswith("aisle") else a
             for a in areas]  # fmt: skip
    return Box(0, 0, total_w, y), areas
