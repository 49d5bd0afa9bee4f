"""The built campus: racks as numpy arrays, halls and pods as index arrays over them.

The twin never keeps a Python object per rack. A :class:`Campus` holds one array per rack
attribute (building, hall, pod, rack type, GPUs, power envelope, leaf switch) with racks laid out
contiguously by pod, so a pod is the slice ``pod_first_rack[p]:pod_first_rack[p+1]`` and a hall
or building total is one ``np.bincount``. The network fabric, a networkx graph, is built from the
same arrays on demand by :func:`twin.fabric.build_fabric`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from twin.resolve import ResolvedSite


@dataclass
class Campus:
    """One campus with its racks as arrays. Index arrays are int32; powers are kW (float64)."""

    name: str
    site: ResolvedSite
    building_names: list[str]
    hall_names: list[str]  # "B1/H1"
    pod_names: list[str]  # "B1/H1/P1"
    rack_type_names: list[str]
    gpu_type_names: list[str]
    hall_building: np.ndarray
    hall_it_capacity_kw: np.ndarray
    hall_cooling_capacity_kw: np.ndarray
    pod_hall: np.ndarray
    pod_first_rack: np.ndarray  # length pods + 1
    rack_building: np.ndarray
    rack_hall: np.ndarray
    rack_pod: np.ndarray
    rack_type: np.ndarray
    rack_gpus: np.ndarray
    rack_gpu_type: np.ndarray
    rack_max_kw: np.ndarray
    rack_idle_kw: np.ndarray
    rack_nic_gbps: np.ndarray
    rack_leaf: np.ndarray  # campus-wide leaf switch index
    _fabric: Any = field(default=None, repr=False)

    @property
    def racks(self) -> int:
        return int(self.rack_gpus.size)

    @property
    def pods(self) -> int:
        return len(self.pod_names)

    @property
    def halls(self) -> int:
        return len(self.hall_names)

    @property
    def buildings(self) -> int:
        return len(self.building_names)

    @property
    def gpus(self) -> int:
        return int(self.rack_gpus.sum())

    def gpus_by_type(self) -> dict[str, int]:
        counts = np.bincount(self.rack_gpu_type, weights=self.rack_gpus, minlength=len(self.gpu_type_names))
        return {name: int(c) for name, c in zip(self.gpu_type_names, counts, strict=True) if c}

    @property
    def it_mw(self) -> float:
        """IT draw with every rack at full load."""
        return float(self.rack_max_kw.sum()) / 1000.0

    @property
    def it_capacity_mw(self) -> float:
        return float(self.hall_it_capacity_kw.sum()) / 1000.0

    def pod_of(self, rack: int) -> int:
        """The pod (index) a rack is in."""
        return int(self.rack_pod[rack])

    def pod_racks(self, pod: int) -> slice:
        """The racks of a pod, as a slice into the rack arrays."""
        return slice(int(self.pod_first_rack[pod]), int(self.pod_first_rack[pod + 1]))

    def rack_name(self, rack: int) -> str:
        pod = int(self.rack_pod[rack])
        return f"{self.pod_names[pod]}/R{rack - int(self.pod_first_rack[pod]) + 1:03d}"

    @property
    def fabric(self):
        """The networkx fabric graph, built once on first use."""
        if self._fabric is None:
            from twin.fabric import build_fabric

            self._fabric = build_fabric(self)
        return self._fabric


def build_campus(site: ResolvedSite) -> Campus:
    """Turn a resolved site into rack arrays (no graph yet; see :attr:`Campus.fabric`)."""
    catalog = site.catalog
    rack_type_names = sorted({p.rack_type for b in site.buildings for h in b.halls for p in h.pods})
    gpu_type_names = sorted({catalog.rack_types[r].gpu_type for r in rack_type_names})
    rt_index = {name: i for i, name in enumerate(rack_type_names)}
    gt_index = {name: i for i, name in enumerate(gpu_type_names)}
    rt = [catalog.rack_types[n] for n in rack_type_names]
    rt_gpus = np.array([r.gpus for r in rt], dtype=np.int32)
    rt_gpu_type = np.array([gt_index[r.gpu_type] for r in rt], dtype=np.int32)
    rt_max = np.array([r.max_kw for r in rt], dtype=np.float64)
    rt_idle = np.array([r.idle_kw for r in rt], dtype=np.float64)
    rt_nic = np.array([r.gpus * r.nic_gbps_per_gpu for r in rt], dtype=np.float64)

    building_names, hall_names, pod_names = [], [], []
    hall_building, hall_it, hall_cool = [], [], []
    pod_hall, pod_sizes, pod_type, pod_building, pod_racks_per_leaf = [], [], [], [], []
    for bi, b in enumerate(site.buildings):
        building_names.append(b.name)
        for h in b.halls:
            hi = len(hall_names)
            hall_names.append(f"{b.name}/{h.name}")
            hall_building.append(bi)
            hall_it.append(h.it_capacity_mw * 1000.0)
            hall_cool.append(h.cooling.capacity_mw * 1000.0)
            for p in h.pods:
                pod_names.append(f"{b.name}/{h.name}/{p.name}")
                pod_hall.append(hi)
                pod_building.append(bi)
                pod_sizes.append(p.racks)
                pod_type.append(rt_index[p.rack_type])
                pod_racks_per_leaf.append(b.fabric.racks_per_leaf)

    sizes = np.array(pod_sizes, dtype=np.int64)
    pod_first = np.zeros(len(sizes) + 1, dtype=np.int64)
    np.cumsum(sizes, out=pod_first[1:])
    rack_pod = np.repeat(np.arange(len(sizes), dtype=np.int32), sizes)
    rack_type = np.repeat(np.array(pod_type, dtype=np.int32), sizes)
    pod_hall_a = np.array(pod_hall, dtype=np.int32)
    hall_building_a = np.array(hall_building, dtype=np.int32)
    # Leaves never span pods: number them per pod, then offset by the leaves of earlier pods.
    rpl = np.array(pod_racks_per_leaf, dtype=np.int64)
    leaves_per_pod = -(-sizes // rpl)
    leaf_offset = np.concatenate([[0], np.cumsum(leaves_per_pod)[:-1]])
    within = np.arange(rack_pod.size, dtype=np.int64) - pod_first[rack_pod]
    rack_leaf = (leaf_offset[rack_pod] + within // rpl[rack_pod]).astype(np.int32)

    return Campus(
        name=site.spec.name,
        site=site,
        building_names=building_names,
        hall_names=hall_names,
        pod_names=pod_names,
        rack_type_names=rack_type_names,
        gpu_type_names=gpu_type_names,
        hall_building=hall_building_a,
        hall_it_capacity_kw=np.array(hall_it, dtype=np.float64),
        hall_cooling_capacity_kw=np.array(hall_cool, dtype=np.float64),
        pod_hall=pod_hall_a,
        pod_first_rack=pod_first,
        rack_building=hall_building_a[pod_hall_a[rack_pod]],
        rack_hall=pod_hall_a[rack_pod],
        rack_pod=rack_pod,
        rack_type=rack_type,
        rack_gpus=rt_gpus[rack_type],
        rack_gpu_type=rt_gpu_type[rack_type],
        rack_max_kw=rt_max[rack_type],
        rack_idle_kw=rt_idle[rack_type],
        rack_nic_gbps=rt_nic[rack_type],
        rack_leaf=rack_leaf,
    )
