"""What two runs were given differently: their scenarios, compared input by input.

Two saved runs side by side answer "what changed?" with KPI deltas; the next question is "because
of what?". The twin being deterministic, the whole answer is in the inputs: the scenario text, the
seed and the folder its site files are read from. Here both scenarios are flattened into paths
(``training.arrivals_per_day``, ``leases[acme-gb200-pod].gpus``; a list of named items is keyed by
name, so a lease added in front of another does not show every later lease as changed) and every
path whose value differs is listed, with both values as YAML would write them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from twin.errors import ProblemList
from twin.yamlsafe import parse_yaml

ABSENT = object()  # the input is not in that run's scenario
MAX_ROWS = 200  # a diff longer than this is told as a count, not listed in full


def flatten(value: Any, path: str = "") -> dict[str, Any]:
    """Every leaf of a YAML document by its path, in document order."""
    if isinstance(value, dict):
        if not value:
            return {path: {}}
        out: dict[str, Any] = {}
        for key, item in value.items():
            out |= flatten(item, f"{path}.{key}" if path else str(key))
        return out
    if isinstance(value, list):
        if not value:
            return {path: []}
        names = [item.get("name") if isinstance(item, dict) else None for item in value]
        keyed = all(isinstance(n, str) and n for n in names) and len(set(names)) == len(names)
        out = {}
        for i, item in enumerate(value):
            out |= flatten(item, f"{path}[{names[i] if keyed else i}]")
        return out
    return {path: value}


def shown(value: Any) -> str:
    """A value as a person reads it in the YAML file."""
    if value is ABSENT:
        return "—"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}" if abs(value) < 1e15 else repr(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if value == {}:
        return "{}"
    if value == []:
        return "[]"
    return str(value)


def parsed(text: str) -> dict:
    """A library scenario's text as data ({} if it no longer parses: it then differs everywhere)."""
    try:
        data = parse_yaml(text, "<library>").data
    except ProblemList:
        return {}
    return data if isinstance(data, dict) else {}


def input_differences(a: tuple[str, str, Any], b: tuple[str, str, Any]) -> list[tuple[str, str, str]]:
    """(input, value in run A, value in run B) for every input that differs.

    ``a`` and ``b`` are a run's scenario text, the folder its paths resolve in, and its seed (a
    replication runs the scenario's text at another seed, so the run's own seed is what counts).
    """
    flat = []
    for text, folder, seed in (a, b):
        doc = flatten(parsed(text))
        doc["seed"] = seed
        doc["folder of its site files"] = folder
        flat.append(doc)
    keys = list(dict.fromkeys([*flat[0], *flat[1]]))
    whole = _whole_items(keys, flat)
    rows = []
    for key in keys:
        item = next((p for p in whole if key == p or key.startswith((p + ".", p + "["))), None)
        if item is not None:
            if whole[item] is None:  # the first of its keys stands for the whole item
                rows.append((item, *(_item_text(doc, item) for doc in flat)))
                whole[item] = True
            continue
        va, vb = flat[0].get(key, ABSENT), flat[1].get(key, ABSENT)
        if not _same(va, vb) and not _emptied_list(key, va, vb, flat):
            rows.append((key, shown(va), shown(vb)))
    return rows


def _item_paths(key: str) -> list[str]:
    """The list items a path runs through: 'leases[a].sla.credits[0].below' gives 'leases[a]' and
    'leases[a].sla.credits[0]'."""
    return [key[: i + 1] for i, c in enumerate(key) if c == "]"]


def _whole_items(keys: list[str], flat: list[dict]) -> dict[str, bool | None]:
    """Items (a lease, an event) one run has and the other has not at all, outermost first."""
    found: dict[str, bool | None] = {}
    for key in keys:
        for item in _item_paths(key):
            if any(item == w or item.startswith((w + ".", w + "[")) for w in found):
                break
            sides = [any(k == item or k.startswith((item + ".", item + "[")) for k in doc) for doc in flat]
            if sides[0] != sides[1]:
                found[item] = None
                break
    return found


def _item_text(doc: dict, item: str) -> str:
    """A whole item on one line ("kind: outage, day: 1, site: Demo"), or — where it is absent."""
    parts = [
        f"{k[len(item) + 1 :]}: {shown(v)}" for k, v in doc.items() if k.startswith((item + ".", item + "["))
    ]
    if item in doc:
        parts.insert(0, shown(doc[item]))
    return ", ".join(parts) if parts else "—"


def _emptied_list(key: str, va: Any, vb: Any, flat: list[dict]) -> bool:
    """An empty list on one side whose items the other side lists (as whole items): not a row."""
    for value, other in ((va, flat[1]), (vb, flat[0])):
        if value == [] and any(k.startswith(key + "[") for k in other):
            return True
    return False


def _same(a: Any, b: Any) -> bool:
    """Equal as inputs: 2 and 2.0 are the same number; true and 1 are not the same value."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return type(a) is type(b) and a == b
