"""Values given on the command line in place of a scenario's own (``--days``, ``--vary PATH=V``).

An override is a dotted path into the parsed document (``leases.0.gpus``), set before the
document is validated, so it is checked exactly as a value in the file is. A problem with it names
the option that gave it, not a line of the file the user did not write.
"""

from __future__ import annotations

import re

from twin.errors import Problem, ProblemList


def blame_overrides(problems: list[Problem], overrides: dict | None, flag: str = "--{key}") -> list[Problem]:
    """Problems with a value given on the command line name the option, not the file's line: the
    value itself, a section the option made (``foo`` of ``--vary foo.bar``), or a part of it."""
    keys = list(overrides or ())
    out = []
    for p in problems:
        path = re.sub(r"\[(\d+)\]", r".\1", p.path)  # inference[0].peak_gpus -> inference.0.peak_gpus
        key = next(
            (k for k in keys if path == k or k.startswith(path + ".") or path.startswith(k + ".")), None
        )
        if key is not None and path:
            p = Problem(flag.format(key=key), 0, "", f"{p.message} (given on the command line)")
        out.append(p)
    return out


def set_dotted(data: dict, key: str, value: object, flag: str = "--{key}") -> None:
    """Set ``a.b.0.c`` in a parsed document, or raise ProblemList naming the option and the fix.

    A missing section is created (``money.pue`` in a file without ``money``); a list entry must
    exist already (``leases.0.gpus`` changes the file's first lease, it does not invent one).
    ``flag`` names the option as the user typed it (``--vary {key}``).
    """
    option = flag.format(key=key)
    parts = key.split(".")
    node: object = data
    for depth, part in enumerate(parts):
        here = ".".join(parts[:depth])
        last = depth == len(parts) - 1
        if isinstance(node, list):
            if not part.isdigit():
                raise _bad_path(option, f"{here} is a list: follow it with an entry's index, e.g. {here}.0")
            if int(part) >= len(node):
                n = len(node)
                has = "is empty" if not n else f"has {n} entr{'y' if n == 1 else 'ies'} (from index 0)"
                raise _bad_path(option, f"{here} {has} in the scenario; add the entry to the file first")
            index = int(part)
        elif isinstance(node, dict):
            index = part
            if not last and node.get(part) is None:
                if parts[depth + 1].isdigit():
                    raise _bad_path(
                        option,
                        f"{'.'.join(parts[: depth + 1])}: the scenario has none; add it to the file first",
                    )
                node[part] = {}
        else:
            raise _bad_path(option, f"{here} is a single value, so it has no '{part}' inside")
        if last:
            node[index] = value
        else:
            node = node[index]


def _bad_path(option: str, message: str) -> ProblemList:
    return ProblemList([Problem(option, 0, "", f"{message} (given on the command line)")])
