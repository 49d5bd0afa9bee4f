"""The power chain: from the racks' IT draw to what the campus takes from its sources.

Per hall, IT power flows back through the PDUs/busways (a fixed efficiency), the UPS (an
efficiency that depends on how loaded each UPS module is) and, for the whole facility, the
transformers. Cooling and other loads (lights, offices) hang off the transformers but not the
UPS. The losses are computed from those efficiencies each sample, so

    facility = IT + losses (PDU + UPS + transformer) + cooling + other

holds exactly at every sample.

A hall's UPS is sized to its IT capacity; redundancy decides how loaded each module is at a
given draw: with 2N each side carries half, with N+1 (assumed 4+1 modules) each carries 4/5, so
redundant halls run their UPS lower on its efficiency curve.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MODULE_SHARE = {"N": 1.0, "N+1": 0.8, "N+2": 4.0 / 6.0, "2N": 0.5}


def ups_efficiency(points: list[tuple[float, float]], load_fraction: float | np.ndarray) -> np.ndarray:
    """The UPS efficiency at a load fraction, interpolated on the site's curve."""
    xs, ys = zip(*points, strict=True)
    return np.interp(load_fraction, xs, ys)


@dataclass
class HallChain:
    """Power-chain constants as arrays over halls (each hall takes its site's chain).

    :meth:`losses` and :meth:`facility` are the chain's formulas; a run evaluates them in one
    compiled pass per sample (:func:`twin.plant_kernels.hall_draw`), which the tests pin to these.
    """

    hall_site: np.ndarray
    it_capacity_kw: np.ndarray
    module_share: np.ndarray
    pdu_efficiency: np.ndarray
    transformer_efficiency: np.ndarray
    other_fraction: np.ndarray
    ups_curves: list[list[tuple[float, float]]]  # per site: (load fraction, efficiency) points

    def __post_init__(self) -> None:
        # Per site: its halls and its curve as arrays (losses run at every sample of a run).
        self._site_curves = [
            (
                np.flatnonzero(self.hall_site == s),
                *(np.array(axis, dtype=float) for axis in zip(*points, strict=True)),
            )
            for s, points in enumerate(self.ups_curves)
        ]

    def arrays(self) -> tuple:
        """The chain as a tuple of arrays for :func:`twin.plant_kernels.hall_draw`: per hall its
        site, IT capacity, module share, PDU and transformer efficiency, other-load fraction and
        the index of its UPS curve; then the curves' start offsets and their points end to end."""
        curves = [np.array(points, dtype=float).reshape(-1, 2) for points in self.ups_curves]
        starts = np.concatenate([[0], np.cumsum([c.shape[0] for c in curves])]).astype(np.int64)
        xs = np.concatenate([c[:, 0] for c in curves]) if curves else np.zeros(0)
        ys = np.concatenate([c[:, 1] for c in curves]) if curves else np.zeros(0)
        return (
            self.hall_site.astype(np.int64),
            self.it_capacity_kw.astype(float),
            self.module_share.astype(float),
            self.pdu_efficiency.astype(float),
            self.transformer_efficiency.astype(float),
            self.other_fraction.astype(float),
            self.hall_site.astype(np.int64),  # each hall takes its site's curve
            starts,
            xs,
            ys,
        )

    def losses(self, it_kw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """PDU and UPS losses per hall at IT draw ``it_kw``."""
        ups_out = it_kw / self.pdu_efficiency
        load = it_kw / self.it_capacity_kw * self.module_share  # the UPS is sized to the hall's IT
        eff = np.empty_like(it_kw)
        for halls, xs, ys in self._site_curves:
            eff[halls] = np.interp(load[halls], xs, ys)
        return ups_out - it_kw, ups_out / eff - ups_out

    def facility(
        self, it_kw: np.ndarray, cooling_kw: np.ndarray, losses: tuple[np.ndarray, np.ndarray] | None = None
    ) -> dict[str, np.ndarray]:
        """Every term of the facility draw per hall (kW); ``losses``: PDU and UPS, if known."""
        pdu, ups = losses if losses is not None else self.losses(it_kw)
        other = it_kw * self.other_fraction
        upstream = it_kw + pdu + ups + cooling_kw + other
        transformer = upstream / self.transformer_efficiency - upstream
        return {
            "it_kw": it_kw,
            "losses_kw": pdu + ups + transformer,
            "cooling_kw": cooling_kw,
            "other_kw": other,
            "facility_kw": upstream + transformer,
        }


def hall_chain(campuses) -> HallChain:
    site, cap, share, pdu, tr, other, curves = [], [], [], [], [], [], []
    for si, campus in enumerate(campuses):
        chain = campus.site.spec.power.chain
        curves.append(chain.ups_efficiency_at_load)
        for cap_kw in campus.hall_it_capacity_kw.tolist():
            site.append(si)
            cap.append(cap_kw)
            pdu.append(chain.pdu_efficiency)
            tr.append(chain.transformer_efficiency)
            other.append(chain.other_load_fraction)
        share.extend(
            MODULE_SHARE[hall.power_redundancy]
            for building in campus.site.buildings
            for hall in building.halls
        )
    return HallChain(
        np.array(site), np.array(cap), np.array(share), np.array(pdu), np.array(tr), np.array(other), curves
    )


def firm_supply_kw(campus) -> float:
    """What the campus can count on from its sources (their firm capacity)."""
    return sum(s.capacity_mw * 1000.0 for s in campus.site.spec.power.sources)
