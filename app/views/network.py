"""The Network page: one building's fabric drawn tier by tier, and what a failed switch cuts off.

The fabric (:mod:`twin.fabric`) is a tree of tiers with redundancy at each level: racks hang off
leaves, every leaf of a pod reaches every spine of the pod, every spine every aggregation switch
of the building, and those the campus core. A switch's *blast radius* is the set of racks that
lose their path to the core when it fails: a leaf takes its racks with it; a spine or an
aggregation switch with siblings takes none, because traffic reroutes over the siblings; the core
takes the whole campus.

The drawing is a layered layout, not a force layout (far too slow at ~20,000 racks): one row per
tier, racks evenly spaced with a gap between pods, each leaf at the mean x of its racks, spines
spread over their pod, aggregation switches over the building. Layouts are pure numpy over the
campus arrays and cached per (site file, mtime, building, pod), so every session reuses them.
"""

from __future__ import annotations

import functools
import html
from dataclasses import dataclass

import holoviews as hv
import networkx as nx
import numpy as np
import pandas as pd
import panel as pn
import param

# cached_campus is the context's cache of built campuses: the layout cache reuses it rather than
# building a second copy of a 20,000-rack campus.
from app.context import ConsoleContext, cached_campus
from app.views.site import RunTenancy
from app.views.site_grid import tenant_legend
from app.views.url import query_args
from twin.campus import Campus

TIER_Y = {"rack": 0.0, "leaf": 1.0, "spine": 2.0, "aggregation": 3.0, "core": 4.0}
SWITCH_TIERS = ("core", "aggregation", "spine", "leaf")
POD_GAP_RACKS = 4.0  # empty rack widths between pods, so pods read as blocks
ALL_PODS = "all pods"
NO_SWITCH = "(no switch)"
PICK_HINT = "<p>Pick a switch (list or tap) to see which racks its failure cuts off.</p>"
MARKERS = {"core": "star", "aggregation": "diamond", "spine": "triangle", "leaf": "square"}
SWITCH_SIZES = {"core": 18, "aggregation": 12, "spine": 9, "leaf": 6}
SWITCH_COLORS = {"core": "#222222", "aggregation": "#444466", "spine": "#555588", "leaf": "#6b6b9e"}
EDGE_COLORS = {"leaf": "#cfcfcf", "spine": "#c2c8d8", "aggregation": "#aab4cc", "core": "#8893b0"}


@dataclass(frozen=True)
class FabricLayout:
    """Positions of the nodes in view and the links between them (both DataFrames, read-only)."""

    nodes: pd.DataFrame  # node, tier, x, y, pod (-1 above pods), rack (-1 for switches)
    edges: pd.DataFrame  # x0, y0, x1, y1, tier


def fabric_layout(campus: Campus, building: int, pod: int | None = None) -> FabricLayout:
    """The layered layout of one building (``pod=None``, with the core) or one pod of it."""
    g = campus.fabric
    pod_building = campus.rack_building[campus.pod_first_rack[:-1]]
    pods = np.flatnonzero(pod_building == building) if pod is None else np.array([pod])
    if pod is not None and pod_building[pod] != building:
        raise ValueError(f"pod {campus.pod_names[pod]} is not in building {campus.building_names[building]}")
    sizes = campus.pod_first_rack[pods + 1] - campus.pod_first_rack[pods]
    racks = np.concatenate([np.arange(campus.pod_first_rack[p], campus.pod_first_rack[p + 1]) for p in pods])
    ordinal = np.repeat(np.arange(len(pods)), sizes)
    rack_x = np.arange(racks.size, dtype=np.float64) + POD_GAP_RACKS * ordinal
    rack_names = [campus.rack_name(int(r)) for r in racks]
    parts = [_frame(rack_names, "rack", rack_x, campus.rack_pod[racks], racks)]

    # Leaves: at the mean x of their racks. Names come from the graph (a rack's one neighbour).
    _, first, inverse = np.unique(campus.rack_leaf[racks], return_index=True, return_inverse=True)
    leaf_x = np.bincount(inverse, weights=rack_x) / np.bincount(inverse)
    leaf_names = [next(iter(g[rack_names[i]])) for i in first.tolist()]
    parts.append(_frame(leaf_names, "leaf", leaf_x, campus.rack_pod[racks[first]]))

    spine_names, spine_x, spine_pod = [], [], []
    for k, p in enumerate(pods.tolist()):
        spines = g.graph["pod_spines"][p]
        span = rack_x[ordinal == k]
        spine_names += spines
        spine_x.append(_spread(float(span.min()), float(span.max()), len(spines)))
        spine_pod += [p] * len(spines)
    parts.append(_frame(spine_names, "spine", np.concatenate(spine_x), spine_pod))

    kinds = g.nodes
    aggs = sorted(n for n in g[spine_names[0]] if kinds[n]["kind"] == "aggregation") if spine_names else []
    parts.append(_frame(aggs, "aggregation", _spread(float(rack_x.min()), float(rack_x.max()), len(aggs))))
    if pod is None:
        parts.append(_frame([g.graph["core"]], "core", np.array([(rack_x.min() + rack_x.max()) / 2.0])))
    nodes = pd.concat(parts, ignore_index=True)

    # Links: every edge of the graph between two nodes in view. Walking the adjacency of the nodes
    # in view is ~20x faster than a networkx subgraph view at a building's ~60,000 links.
    names = nodes["node"].tolist()
    position = {name: i for i, name in enumerate(names)}
    a, b = [], []
    for i, u in enumerate(names):
        for v in g.adj[u]:
            j = position.get(v, -1)
            if j > i:  # each undirected edge once
                a.append(i)
                b.append(j)
    a, b = np.array(a, dtype=np.int64), np.array(b, dtype=np.int64)
    x, y = nodes["x"].to_numpy(), nodes["y"].to_numpy()
    # A link's tier is its upper end's (rack-leaf is "leaf", ..., aggregation-core is "core"), as in
    # twin.fabric; taken from positions so no edge attribute is read per link.
    tier = np.array(list(TIER_Y), dtype=object)[np.maximum(y[a], y[b]).astype(np.int64)]
    tiers = pd.Categorical(tier, categories=list(TIER_Y))
    edges = pd.DataFrame({"x0": x[a], "y0": y[a], "x1": x[b], "y1": y[b], "tier": tiers})
    return FabricLayout(nodes=nodes, edges=edges)


def _frame(names: list[str], tier: str, x: np.ndarray, pods=None, racks=None) -> pd.DataFrame:
    n = len(names)
    return pd.DataFrame(
        {
            "node": pd.Series(names, dtype=object),  # object, not Arrow: isin() on a set is ~50x faster
            "tier": pd.Series([tier] * n, dtype=object),
            "x": np.asarray(x, dtype=np.float64),
            "y": TIER_Y[tier],
            "pod": np.full(n, -1, dtype=np.int64) if pods is None else np.asarray(pods, dtype=np.int64),
            "rack": np.full(n, -1, dtype=np.int64) if racks is None else np.asarray(racks, dtype=np.int64),
        }
    )


def _spread(lo: float, hi: float, n: int) -> np.ndarray:
    """n positions evenly over [lo, hi], inset by half a step so the ends do not sit on the edges."""
    if n <= 0:
        return np.zeros(0)
    step = (hi - lo) / n
    return lo + step * (np.arange(n) + 0.5)


@functools.lru_cache(maxsize=16)
def cached_layout(site_file: str, mtime_ns: int, building: int, pod: int | None) -> FabricLayout:
    """:func:`fabric_layout` shared by every session until the site file changes (do not mutate it)."""
    return fabric_layout(cached_campus(site_file, mtime_ns), building, pod)


def blast_radius(graph: nx.Graph, switch: str) -> set[str]:
    """Rack nodes that can no longer reach the campus core if ``switch`` fails."""
    nodes = graph.nodes
    kind = nodes[switch]["kind"]
    if kind not in SWITCH_TIERS:
        raise ValueError(f"{switch} is a {kind}, not a switch")
    if kind == "core":  # the core is the campus's one root: nothing reaches it once it is gone
        return {n for n, k in nodes(data="kind") if k == "rack"}
    building = nodes[switch]["building"]
    core = graph.graph["core"]
    # Other buildings reach the core through their own aggregation switches, so only this building's
    # nodes can be cut off; searching just them keeps a 500,000-link campus to one building's links.
    view = nx.subgraph_view(
        graph, filter_node=lambda n: n == core or (n != switch and nodes[n]["building"] == building)
    )
    reached = nx.node_connected_component(view, core)
    racks = (n for n, d in nodes(data=True) if d["kind"] == "rack" and d["building"] == building)
    return {n for n in racks if n not in reached}


def cut_off_leases(campus: Campus, racks: set[str], tenancy: pd.DataFrame) -> pd.DataFrame:
    """Racks and GPUs cut off, by lease and tenant (``internal`` for racks no lease holds)."""
    nodes = campus.fabric.nodes
    index = np.array(sorted(nodes[n]["rack"] for n in racks), dtype=np.int64)
    frame = tenancy.iloc[index][["lease", "tenant"]].assign(racks=1, GPUs=campus.rack_gpus[index].astype(int))
    return frame.groupby(["tenant", "lease"], as_index=False)[["racks", "GPUs"]].sum()


def summary_html(switch: str, table: pd.DataFrame) -> str:
    """The blast radius told in words and a small table; every name escaped."""
    racks, gpus = int(table["racks"].sum()), int(table["GPUs"].sum())
    head = (
        f"<p><b>{html.escape(switch)}</b> fails: <b>{racks:,}</b> rack{'s' * (racks != 1)}, "
        f"<b>{gpus:,}</b> GPU{'s' * (gpus != 1)} cut off"
    )
    if not racks:
        return head + " (traffic reroutes over the other switches of its tier).</p>"
    rows = "".join(
        f"<tr><td>{html.escape(str(r.tenant))}</td><td>{html.escape(str(r.lease)) or '(none)'}</td>"
        f"<td>{r.racks:,}</td><td>{r.GPUs:,}</td></tr>"
        for r in table.itertuples()
    )
    return (
        head + ". Racks and leases cut off (jobs are not mapped to racks in a run):</p>"
        "<table><tr><th>tenant</th><th>lease</th><th>racks</th><th>GPUs</th></tr>" + rows + "</table>"
    )


def _nothing() -> pd.DataFrame:
    return pd.DataFrame({"x": [], "y": [], "node": [], "tier": []})


def _highlight(data: pd.DataFrame) -> hv.Overlay:
    """Cut-off racks in red and the failed switch as a red cross (empty when none is picked)."""
    racks = hv.Points(data[data["tier"] == "rack"], ["x", "y"], ["node"])
    failed = hv.Points(data[data["tier"] != "rack"], ["x", "y"], ["node"])
    return racks.opts(color="#e00000", size=8, marker="square") * failed.opts(
        color="#e00000", size=22, marker="x", line_width=3
    )


class NetworkView(pn.viewable.Viewer):
    """One building's or pod's fabric, tenants on the racks, and a switch's blast radius."""

    campus = param.Selector(objects=[])
    building = param.Selector(objects=[])
    pod = param.Selector(objects=[])
    switch = param.Selector(default=NO_SWITCH, objects=[NO_SWITCH])

    def __init__(self, context: ConsoleContext, **params):
        super().__init__(**params)
        self.context = context
        self._files = context.site_files()
        args = query_args()
        self._run = RunTenancy(context, args)
        self._layout: FabricLayout | None = None
        self._pipe = hv.streams.Pipe(data=_nothing())
        names = list(self._files)
        self.param.campus.objects = names
        self._syncing = True
        try:
            self.campus = self._run.first_campus(names, args.get("campus"))
            self._fill_buildings(args.get("building"))
            self._fill_pods(args.get("pod"))
        finally:
            self._syncing = False
        self._run_note = pn.pane.Markdown(self._run.note, sizing_mode="stretch_width")
        self._plot = pn.pane.HoloViews(None, sizing_mode="stretch_width", linked_axes=False)
        self._summary = pn.pane.HTML("", sizing_mode="stretch_width")
        self._widgets = pn.Row(
            pn.widgets.Select.from_param(self.param.campus, name="Campus", width=180),
            pn.widgets.Select.from_param(self.param.building, name="Building", width=140),
            pn.widgets.Select.from_param(self.param.pod, name="Pod", width=160),
            pn.widgets.Select.from_param(self.param.switch, name="Failed switch (or tap one)", width=240),
        )
        self.param.watch(self._on_place, ["campus", "building", "pod"])
        self.param.watch(self._on_switch, "switch")
        self._draw()

    def _campus(self) -> Campus:
        return self.context.campus(self.campus)

    def _fill_buildings(self, wanted: str | None = None) -> None:
        names = self._campus().building_names if self.campus else []
        self.param.building.objects = names
        self.building = next((n for n in (wanted, self.building) if n in names), names[0] if names else None)

    def _fill_pods(self, wanted: str | None = None) -> None:
        pods = [ALL_PODS]
        if self.building is not None:
            campus = self._campus()
            b = campus.building_names.index(self.building)
            pod_building = campus.rack_building[campus.pod_first_rack[:-1]]
            pods += [campus.pod_names[p] for p in np.flatnonzero(pod_building == b).tolist()]
        self.param.pod.objects = pods
        self.pod = wanted if wanted in pods else ALL_PODS

    def _on_place(self, event: param.parameterized.Event) -> None:
        if self._syncing:
            return
        doc = pn.state.curdoc
        if doc is None or doc.session_context is None:  # no browser to tell: redraw at once
            self._place(event.name)
            return
        # A new campus or building takes seconds the first time (Louisiana: planning ~20,000
        # switches). Say so first, and take no other pick meanwhile: the drawing is greyed and
        # the lists disabled until the new drawing is in, on the next turn of the server's loop.
        self._plot.loading = True
        for widget in self._widgets:
            widget.disabled = True
        doc.add_next_tick_callback(lambda: self._place(event.name))

    def _place(self, changed: str) -> None:
        try:
            self._place_now(changed)
        finally:
            self._plot.loading = False
            for widget in self._widgets:
                widget.disabled = False

    def _place_now(self, changed: str) -> None:
        self._syncing = True
        try:
            if changed == "campus":
                self._fill_buildings()
            if changed in ("campus", "building"):
                self._fill_pods()
        finally:
            self._syncing = False
        if pn.state.location is not None:  # update_query keeps run= and the other pages' keys
            pn.state.location.update_query(campus=self.campus, building=self.building, pod=self.pod)
        self._draw()

    def _draw(self) -> None:
        """Rebuild the drawing for the campus, building and pod chosen (the switch is reset)."""
        if not self.campus or self.building is None:
            self._plot.object = None
            self._summary.object = "<p>No site files in the sites folder.</p>"
            return
        path = self._files[self.campus]
        campus = self._campus()
        self._run_note.object = self._run.note_for(campus)
        b = campus.building_names.index(self.building)
        pod = None if self.pod == ALL_PODS else campus.pod_names.index(self.pod)
        self._layout = layout = cached_layout(str(path), path.stat().st_mtime_ns, b, pod)
        nodes = layout.nodes
        switches = nodes[nodes["tier"] != "rack"]
        self._syncing = True
        try:
            self.param.switch.objects = [NO_SWITCH, *switches["node"]]
            self.switch = NO_SWITCH
        finally:
            self._syncing = False
        self._pipe = hv.streams.Pipe(data=_nothing())
        racks = nodes[nodes["tier"] == "rack"].join(self._run.of(campus), on="rack")
        racks = racks.assign(gpus=campus.rack_gpus[racks["rack"].to_numpy()].astype(int))
        self._plot.object = self._figure(layout.edges, switches, racks)
        self._summary.object = PICK_HINT

    def _figure(self, edges: pd.DataFrame, switches: pd.DataFrame, racks: pd.DataFrame) -> hv.DynamicMap:
        # One Segments per tier with a constant colour: a colour per link would be validated by Bokeh
        # link by link (seconds for a building of ~60,000 links).
        layers: list[hv.Element] = [
            hv.Segments(edges[edges["tier"] == tier], ["x0", "y0", "x1", "y1"]).opts(
                color=EDGE_COLORS[tier], line_width=0.6, alpha=0.7
            )
            for tier in SWITCH_TIERS[::-1]
            if (edges["tier"] == tier).any()
        ]
        size = float(np.clip(900.0 / max(len(racks), 1), 3.0, 12.0))  # racks shrink as a building widens
        legend, legend_colors = tenant_legend(racks["tenant"])
        racks = racks.assign(legend=legend)
        rack_points = hv.Points(racks, ["x", "y"], ["node", "tier", "tenant", "lease", "gpus", "legend"]).opts(
            color="legend", cmap=legend_colors, show_legend=True, marker="square", size=size,
            hover_tooltips=[
                ("rack", "@node"), ("tier", "@tier"), ("tenant", "@tenant"), ("lease", "@lease"), ("GPUs", "@gpus"),
            ],
            tools=["hover"], nonselection_alpha=1.0, legend_position="right",
        )  # fmt: skip
        layers.append(rack_points)
        # One Points per tier: Bokeh draws per-point markers wrongly once a tap selects a subset.
        for tier in SWITCH_TIERS:
            part = switches[switches["tier"] == tier]
            if part.empty:
                continue
            points = hv.Points(part, ["x", "y"], ["node", "tier"]).opts(
                color=SWITCH_COLORS[tier], marker=MARKERS[tier], size=SWITCH_SIZES[tier],
                hover_tooltips=[("switch", "@node"), ("tier", "@tier")], tools=["hover", "tap"],
                nonselection_alpha=1.0,  # the red cross marks the failed switch; fading would mislead
            )  # fmt: skip
            tap = hv.streams.Selection1D(source=points)
            tap.add_subscriber(functools.partial(self._on_tap, part["node"].tolist()))
            layers.append(points)
        marks = hv.DynamicMap(_highlight, streams=[self._pipe])
        # Figure options go on the first layer, not the overlay: options on the overlay would be
        # re-applied to every element, ~60,000 links included, each time the highlight changes.
        layers[0] = layers[0].opts(
            responsive=True, height=540, xaxis=None, yticks=[(y, t) for t, y in TIER_Y.items()],
            ylim=(-0.6, 4.6), ylabel="", toolbar="above", title="",
        )  # fmt: skip
        return hv.Overlay(layers) * marks

    def _on_tap(self, names: list[str], index: list[int]) -> None:
        if index and index[0] < len(names):
            self.switch = names[index[0]]

    def _on_switch(self, event: param.parameterized.Event) -> None:
        if self._syncing or self._layout is None:
            return
        if self.switch == NO_SWITCH:
            self._pipe.send(_nothing())
            self._summary.object = PICK_HINT
            return
        campus = self._campus()
        cut = blast_radius(campus.fabric, self.switch)
        nodes = self._layout.nodes
        shown = nodes[nodes["node"].isin(cut) | (nodes["node"] == self.switch)]
        self._pipe.send(shown[["x", "y", "node", "tier"]])
        table = cut_off_leases(campus, cut, self._run.of(campus))
        self._summary.object = summary_html(self.switch, table)

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            self._widgets, self._run_note, self._plot, self._summary, sizing_mode="stretch_width"
        )
