"""Building a run's :class:`~twin.fleet.Fleet`: campuses concatenated, servers laid out by rack and pod."""

from __future__ import annotations

import numpy as np

from twin.campus import Campus
from twin.fabric import rack_share_gbps
from twin.fleet import Fleet


def build_fleet(campuses: list[Campus]) -> Fleet:
    """Concatenate campuses into one fleet with servers laid out by rack and pod."""
    gpu_types = sorted({t for c in campuses for t in c.gpu_type_names})
    gt_index = {t: i for i, t in enumerate(gpu_types)}
    parts: dict[str, list[np.ndarray]] = {}
    hall_names: list[str] = []
    hall_off = pod_off = bld_off = 0

    def add(key: str, arr) -> None:
        parts.setdefault(key, []).append(np.asarray(arr))

    for si, c in enumerate(campuses):
        gt_map = np.array([gt_index[t] for t in c.gpu_type_names], dtype=np.int32)
        gps = np.array(
            [c.site.catalog.rack_types[n].gpus_per_server for n in c.rack_type_names], dtype=np.int64
        )
        rack_gps = gps[c.rack_type]
        rack_servers = c.rack_gpus // rack_gps
        add("rack_site", np.full(c.racks, si, dtype=np.int32))
        add("rack_hall", c.rack_hall + hall_off)
        add("rack_pod", c.rack_pod + pod_off)
        add("rack_gpus", c.rack_gpus.astype(np.int64))
        add("rack_max_kw", c.rack_max_kw)
        add("rack_idle_kw", c.rack_idle_kw)
        add("rack_servers", rack_servers)
        add("rack_gps", rack_gps)
        add("rack_gpu_type", gt_map[c.rack_gpu_type])
        add("hall_site", np.full(c.halls, si, dtype=np.int32))
        hall_names.extend(f"{c.name}/{h}" for h in c.hall_names)
        first_rack = c.pod_first_rack[:-1]
        add("pod_site", np.full(c.pods, si, dtype=np.int32))
        add("pod_building", c.rack_building[first_rack] + bld_off)
        add("pod_hall", c.pod_hall + hall_off)
        add("pod_gpu_type", gt_map[c.rack_gpu_type[first_rack]])
        add("pod_racks", np.diff(c.pod_first_rack))
        for tier in ("spine", "aggregation", "core"):
            share = rack_share_gbps(c, tier)
            add(f"pod_{tier}", np.minimum.reduceat(share, first_rack) if c.racks else share)
        hall_off += c.halls
        pod_off += c.pods
        bld_off += c.buildings

    cat = {k: np.concatenate(v) for k, v in parts.items()}
    rack_servers = cat["rack_servers"]
    server_rack = np.repeat(np.arange(rack_servers.size, dtype=np.int64), rack_servers)
    rack_first_server = np.concatenate([[0], np.cumsum(rack_servers)])
    pod_first_rack = np.concatenate([[0], np.cumsum(cat["pod_racks"])])
    return Fleet(
        campuses=campuses,
        gpu_type_names=gpu_types,
        rack_site=cat["rack_site"],
        rack_hall=cat["rack_hall"],
        rack_pod=cat["rack_pod"],
        rack_gpus=cat["rack_gpus"],
        rack_max_kw=cat["rack_max_kw"],
        rack_idle_kw=cat["rack_idle_kw"],
        hall_site=cat["hall_site"],
        hall_names=hall_names,
        pod_site=cat["pod_site"],
        pod_building=cat["pod_building"],
        pod_hall=cat["pod_hall"],
        pod_gpu_type=cat["pod_gpu_type"],
        pod_first_server=rack_first_server[pod_first_rack],
        pod_first_rack=pod_first_rack,
        pod_spine_gbps=cat["pod_spine"],
        pod_agg_gbps=cat["pod_aggregation"],
        pod_core_gbps=cat["pod_core"],
        pod_gpus_per_server=cat["rack_gps"][pod_first_rack[:-1]],
        server_rack=server_rack,
        server_pod=cat["rack_pod"][server_rack],
        server_site=cat["rack_site"][server_rack],
        server_gpus=cat["rack_gps"][server_rack],
        server_gpu_type=cat["rack_gpu_type"][server_rack],
    )
