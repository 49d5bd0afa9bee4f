"""A what-if as a URL query, and back: a link reproduces the what-if it was copied from.

Values are strings; tables are compact JSON. Reading a link checks every parameter (a number in
its bounds, known columns, at most ``MAX_ROWS`` rows, ``MAX_QUERY_CHARS`` in all) and raises
:class:`~app.state.whatif_columns.WhatIfError` naming the parameter at fault, before changing
anything. A mixin of :class:`app.state.whatif.WhatIf`.
"""

from __future__ import annotations

import json
import math
from typing import Any

from app.state.whatif_columns import EVENT_COLUMNS, HOSTED_COLUMNS, LEASE_COLUMNS, WhatIfError, blank
from twin.yamlsafe import load_yaml

#: A URL longer than this is refused: links are for sharing a what-if, not for carrying a file.
MAX_QUERY_CHARS = 16_000
MAX_ROWS = 64


class WhatIfLink:
    """Mixin for :class:`app.state.whatif.WhatIf`: its URL query."""

    def to_query(self) -> dict[str, str]:
        """The what-if as URL query parameters (values are strings; tables are compact JSON)."""
        return {
            "base": self.base,
            "sites": ",".join(self.site_names),
            "days": _num(self.days),
            "seed": str(self.seed),
            "reps": str(self.replications),
            "training": _num(self.training_scale),
            "inference": _num(self.inference_scale),
            "failures": _num(self.failure_scale),
            "physics": "1" if self.physics else "0",
            "leases": _json(self.leases),
            "hosted": _json(self.hosted),
            "events": _json(self.events),
        }

    def apply_query(self, query: dict[str, str]) -> None:
        """Set the what-if from URL query parameters; raise WhatIfError naming the parameter at fault."""
        if sum(len(k) + len(v) for k, v in query.items()) > MAX_QUERY_CHARS:
            raise WhatIfError(
                f"the link is longer than {MAX_QUERY_CHARS:,} characters; share a saved scenario instead"
            )
        if "base" in query and query["base"] not in self.choices:
            raise WhatIfError(
                f"link parameter base: no scenario {query['base'][:80]!r}; one of: {', '.join(self.choices)}"
            )
        updates: dict[str, Any] = {}
        faults: list[str] = []  # every bad parameter, not only the first: the rest would be dropped unseen

        def take(name: str, read) -> None:
            try:
                updates[name] = read()
            except WhatIfError as exc:
                faults.append(str(exc))

        for key, name, kind in (
            ("days", "days", float),
            ("seed", "seed", int),
            ("reps", "replications", int),
            ("training", "training_scale", float),
            ("inference", "inference_scale", float),
            ("failures", "failure_scale", float),
        ):
            if key in query:
                take(
                    name,
                    lambda key=key, name=name, kind=kind: _parse(
                        key, query[key], kind, self.param[name].bounds
                    ),
                )
        if "physics" in query:
            take("physics", lambda: _flag("physics", query["physics"]))
        for key, columns in (
            ("leases", LEASE_COLUMNS),
            ("hosted", HOSTED_COLUMNS),
            ("events", EVENT_COLUMNS),
        ):
            if key in query:
                take(key, lambda key=key, columns=columns: _rows(key, query[key], columns))
        if "sites" in query:
            known = (
                self._campus_names(load_yaml(self.choices[query["base"]]).data.get("sites") or [])
                if ("base" in query)
                else self._site_files
            )
            sites = query["sites"].split(",") if query["sites"] else []
            if not sites or any(n not in known for n in sites):
                faults.append(f"link parameter sites: expected some of {', '.join(known)}")
            updates["sites"] = sites
        if faults:
            raise WhatIfError("\n".join(faults))
        if "base" in query:  # only now: a bad parameter above leaves the what-if as it was
            self.load_base(query["base"])
        self.param.update(**updates)


def _flag(key: str, text: str) -> bool:
    if text not in ("0", "1"):
        raise WhatIfError(f"link parameter {key}: expected 0 or 1")
    return text == "1"


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def _json(rows: list[dict]) -> str:
    clean = [{k: (None if blank(v) else v) for k, v in r.items()} for r in rows]
    return json.dumps(clean, separators=(",", ":"), ensure_ascii=False)


def _parse(key: str, text: str, kind: type, bounds: tuple) -> float | int:
    try:
        value = kind(text)
    except ValueError:
        raise WhatIfError(f"link parameter {key}: {text[:40]!r} is not a number") from None
    lo, hi = bounds
    if not math.isfinite(value) or (lo is not None and value < lo) or (hi is not None and value > hi):
        raise WhatIfError(f"link parameter {key}: {value} is outside {lo}..{hi}")
    return value


def _rows(key: str, text: str, columns: dict) -> list[dict]:
    try:
        rows = json.loads(text)
    except ValueError:
        raise WhatIfError(f"link parameter {key}: not valid JSON; copy the link again") from None
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise WhatIfError(f"link parameter {key}: expected a list of rows")
    if len(rows) > MAX_ROWS:
        raise WhatIfError(f"link parameter {key}: at most {MAX_ROWS} rows")
    out = []
    for i, r in enumerate(rows):
        unknown = set(r) - set(columns)
        if unknown:
            raise WhatIfError(f"link parameter {key}, row {i + 1}: unknown column {sorted(unknown)[0]!r}")
        bad = [
            k for k, v in r.items() if not isinstance(v, (str, int, float, type(None))) or isinstance(v, bool)
        ]
        if bad:
            raise WhatIfError(f"link parameter {key}, row {i + 1}: {bad[0]} must be a number or text")
        out.append({k: r.get(k, columns[k]) for k in columns})
    return out
