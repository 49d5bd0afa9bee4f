"""Pydantic's validation errors, rephrased as located problems that say what to write instead.

Pydantic's own messages say what is wrong in its terms ("Input should be greater than 0"); here
each error type is rephrased to say what the file holds and what to write instead, at the line
the value sits on (``FILE:LINE: dotted.path: message``), and a misspelt field suggests the right
name. :mod:`twin.load` calls this for every file it validates.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ValidationError

from twin.errors import Problem, dotted
from twin.resolve import close_match, did_you_mean
from twin.yamlsafe import LocatedDocument


def problems_from_validation(
    exc: ValidationError,
    doc: LocatedDocument,
    model: type[BaseModel],
    base: tuple = (),
    skip: set[tuple] | frozenset[tuple] = frozenset(),
) -> list[Problem]:
    """One located, actionable problem per pydantic error, sorted by line.

    A misspelt required field produces two errors, "unknown field" and "field required"; the
    second is dropped when the first already suggests the right name, so one typo is one line.
    """
    errors = exc.errors(include_url=False)
    typos = _typo_targets(errors, model)
    missing = {tuple(e["loc"]) for e in errors if e["type"] == "missing"}
    problems: set[Problem] = set()
    for err in errors:
        loc = tuple(err["loc"])
        if err["type"] == "missing" and loc in typos.values():
            continue
        if any(loc[: len(s)] == s for s in skip):
            continue
        msg = _message(err, model)
        if typos.get(loc) in missing:
            msg += " (a required field, missing here)"
        problems.add(Problem(doc.file, doc.line_of((*base, *loc)), dotted((*base, *loc)), msg))
    return sorted(problems, key=lambda p: (p.line, p.path))


def _typo_targets(errors: list[Any], model: type[BaseModel]) -> dict[tuple, tuple]:
    """For each unknown field that is close to a real one, the location of that real field."""
    out = {}
    for err in errors:
        if err["type"] == "extra_forbidden":
            parent = tuple(err["loc"][:-1])
            close = close_match(str(err["loc"][-1]), _fields_at(model, parent))
            if close:
                out[tuple(err["loc"])] = (*parent, close)
    return out


def _message(err: Any, model: type[BaseModel]) -> str:
    """Rephrase one pydantic error as what the file says and what to write instead."""
    kind, ctx, loc = err["type"], err.get("ctx") or {}, err["loc"]
    got = describe_value(err.get("input"))
    name = str(loc[-1]) if loc else ""
    if kind == "extra_forbidden":
        known = _fields_at(model, tuple(loc[:-1]))
        close = close_match(name, known)
        if close:
            return f"unknown field {name!r}; did you mean {close!r}?"
        return f"unknown field {name!r}" + did_you_mean(name, known, "remove it or use one of")
    if kind == "missing":
        return f"required field missing; add '{name}: ...' to {dotted(loc[:-1]) or 'the top level'}"
    handler = _MESSAGES.get(kind)
    if handler is not None:
        return handler(ctx, got)
    if kind in ("value_error", "assertion_error"):
        return re.sub(r"^(Value|Assertion) error, ", "", err["msg"])
    return f"{err['msg']} (got {got}); correct the value"


def describe_value(value: Any) -> str:
    """A short description of a value as the file wrote it, for 'got ...'."""
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) and abs(value) >= 10**15:  # 1e+30, not the 31 digits a table sent
        digits = str(abs(value))
        return f"{'-' if value < 0 else ''}{digits[0]}.{digits[1:3]}e+{len(digits) - 1}"
    if isinstance(value, float) and abs(value) >= 1e15:
        return f"{value:.3g}"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _number(value: Any) -> str:
    """0.0 as '0', 2.5 as '2.5': limits read as a person would write them."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _items(n: int) -> str:
    return f"{n} item" if n == 1 else f"{n} items"


def _bound(word: str, key: str) -> Callable[[dict, str], str]:
    def render(ctx: dict, got: str) -> str:
        limit = _number(ctx.get(key))
        fix = "use a positive number" if key == "gt" and limit == "0" else f"use a number {word} {limit}"
        if key in ("le", "lt") and limit == "1":
            fix = share_hint(got.strip(QUOTE)) or fix
        return f"must be {word} {limit}, got {got}; {fix}"

    return render


def share_hint(got: str) -> str:
    """How a share is written, for a value above 1: "a share is written as a fraction: 0.99 for
    99 %" when it reads as a percentage (2 to 100); a value just above 1 (1.85) is more likely a
    slip than 1.85 %, so it gets the rule alone. "" when ``got`` is no number above 1."""
    try:
        value = float(got)
    except ValueError:
        return ""
    if 2 <= value <= 100:
        return f"a share is written as a fraction: {value / 100:g} for {got} %"
    if 1 < value < 2:
        return "a share is a fraction of 1: 0.85 for 85 %"
    return ""


QUOTE = "'"  # how a rendered value is quoted in a message


def _literal(ctx: dict, got: str) -> str:
    expected = str(ctx.get("expected", ""))
    close = close_match(got.strip("'"), set(re.findall(r"'([^']*)'", expected)))
    return f"must be one of {expected}, got {got}" + (
        f"; did you mean {close!r}?" if close else "; use one of those"
    )


_WHOLE = "expected a whole number, got {}; write digits only, such as 8"
_NUMBER = "expected a number, got {}; write digits only, such as 2.5 (no units)"
_BOOL = "expected true or false, got {}"
_DATE = "expected a date, got {}; write it as YYYY-MM-DD"
_FIELDS = "expected a mapping of fields, got {}; write 'field: value' lines indented under it"

_MESSAGES: dict[str, Callable[[dict, str], str]] = {
    "int_parsing": lambda c, g: _WHOLE.format(g),
    "int_type": lambda c, g: _WHOLE.format(g),
    "int_from_float": lambda c, g: f"expected a whole number, got {g}; round it",
    "float_parsing": lambda c, g: _NUMBER.format(g),
    "float_type": lambda c, g: _NUMBER.format(g),
    "finite_number": lambda c, g: f"expected a finite number, got {g}; write an ordinary number",
    "bool_parsing": lambda c, g: _BOOL.format(g),
    "bool_type": lambda c, g: _BOOL.format(g),
    "string_type": lambda c, g: f"expected text, got {g}; write text, in quotes if it looks like a number",
    "greater_than": _bound("greater than", "gt"),
    "greater_than_equal": _bound("at least", "ge"),
    "less_than": _bound("less than", "lt"),
    "less_than_equal": _bound("at most", "le"),
    "literal_error": _literal,
    "too_short": lambda c, g: (
        f"needs at least {_items(c.get('min_length', 1))}, has {c.get('actual_length', 0)}; add the missing ones"
    ),
    "too_long": lambda c, g: (
        f"allows at most {_items(c.get('max_length', 0))}, has {c.get('actual_length', 0)}; remove the extra ones"
    ),
    "string_too_short": lambda c, g: "must not be empty; fill it in",
    "string_too_long": lambda c, g: f"is longer than {c.get('max_length')} characters; shorten it",
    "list_type": lambda c, g: f"expected a list, got {g}; write its items as '- item' lines or [a, b]",
    "tuple_type": lambda c, g: f"expected a list, got {g}; write its items as [a, b]",
    "dict_type": lambda c, g: f"expected a mapping, got {g}; write 'name: value' lines indented under it",
    "model_type": lambda c, g: _FIELDS.format(g),
    "model_attributes_type": lambda c, g: _FIELDS.format(g),
    "date_parsing": lambda c, g: _DATE.format(g),
    "date_type": lambda c, g: _DATE.format(g),
    "date_from_datetime_parsing": lambda c, g: _DATE.format(g),
    "date_from_datetime_inexact": lambda c, g: f"expected a date without a time, got {g}; write YYYY-MM-DD",
}


def _unwrap(annotation: Any) -> list[Any]:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return [a for arg in typing.get_args(annotation) for a in _unwrap(arg)]
    return [annotation]


def _is_model(annotation: Any) -> bool:
    return (
        typing.get_origin(annotation) is None
        and isinstance(annotation, type)
        and issubclass(annotation, BaseModel)
    )


def _fields_at(model: type[BaseModel], loc: tuple) -> set[str]:
    """The field names of the model found by walking ``loc`` down from ``model``."""
    candidates: list[Any] = [model]
    for part in loc:
        nxt: list[Any] = []
        for cand in candidates:
            for ann in _unwrap(cand):
                origin = typing.get_origin(ann)
                if _is_model(ann) and isinstance(part, str):
                    if part in ann.model_fields:
                        nxt.extend(_unwrap(ann.model_fields[part].annotation))
                elif origin in (list, tuple) and isinstance(part, int):
                    nxt.extend(_unwrap(typing.get_args(ann)[0]))
                elif origin is dict:
                    nxt.extend(_unwrap(typing.get_args(ann)[1]))
        candidates = nxt
    return {
        name for cand in candidates for ann in _unwrap(cand) if _is_model(ann) for name in ann.model_fields
    }
