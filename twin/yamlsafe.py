"""Safe YAML reading that remembers where every value came from.

A person fixing a file needs the line of the mistake, not a Python traceback. This module reads
YAML the way a hostile or careless file deserves:

* the file must be text (UTF-8, no NUL bytes), not empty, and no larger than ``MAX_FILE_BYTES``;
* no tags that build Python objects (the safe loader's scalars only);
* nesting deeper than ``MAX_DEPTH`` is refused before a recursive parser could overflow;
* anchors and aliases are allowed, but the document is expanded into fresh objects while counting
  nodes, so an "alias bomb" (a billion laughs) stops at ``MAX_NODES`` instead of eating memory.

The result is a :class:`LocatedDocument`: the plain Python data plus a map from each path
(a tuple of keys and list indexes) to its 1-based line, used to place validation errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from twin.errors import Problem, ProblemList, dotted

MAX_FILE_BYTES = 8 * 1024 * 1024
MAX_DEPTH = 48
MAX_NODES = 500_000

Path_ = tuple[str | int, ...]


@dataclass
class LocatedDocument:
    """Parsed YAML data and the line of every path in it."""

    file: str
    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)

    def line_of(self, path: Path_) -> int:
        """The line of ``path``, or of its nearest ancestor that has one (1 if none does)."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), 1)


def read_text(path: str | Path, what: str = "file") -> str:
    """Read a text file with the size and encoding checks; raise ProblemList on failure."""
    file = str(path)
    p = Path(path)
    try:
        size = p.stat().st_size
    except FileNotFoundError:
        raise ProblemList([Problem(file, 0, "", f"{what} not found; check the path")]) from None
    except OSError as exc:
        raise ProblemList([Problem(file, 0, "", f"cannot read {what}: {exc.strerror}")]) from None
    if p.is_dir():
        raise ProblemList([Problem(file, 0, "", f"is a directory; give a {what} path")])
    if size > MAX_FILE_BYTES:
        raise ProblemList(
            [
                Problem(
                    file,
                    0,
                    "",
                    f"file is {size / 1e6:.1f} MB, over the {MAX_FILE_BYTES / 1e6:.0f} MB limit; "
                    "use templates and counts to describe repeated halls",
                )
            ]
        )
    raw = p.read_bytes()
    return decode_text(raw, file)


def decode_text(raw: bytes, file: str) -> str:
    """Decode bytes as UTF-8 text, refusing binary content with a clear problem."""
    if b"\x00" in raw[:65536]:
        raise ProblemList([Problem(file, 0, "", "binary file (NUL bytes); expected YAML text")])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ProblemList([Problem(file, line, "", "not UTF-8 text; save the file as UTF-8")]) from None
    if not text.strip():
        raise ProblemList([Problem(file, 1, "", "file is empty; expected a YAML mapping")])
    return text


def load_yaml(path: str | Path) -> LocatedDocument:
    """Read and parse a YAML file safely; raise ProblemList with located problems on failure."""
    text = read_text(path)
    return parse_yaml(text, str(path))


def parse_yaml(text: str, file: str = "<string>") -> LocatedDocument:
    """Parse YAML text safely into a LocatedDocument (see the module docstring)."""
    _check_structure(text, file)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise ProblemList([_yaml_problem(exc, file)]) from None
    if node is None:
        raise ProblemList([Problem(file, 1, "", "file is empty; expected a YAML mapping")])
    builder = _Builder(file)
    data = builder.build(node, ())
    return LocatedDocument(file=file, data=data, lines=builder.lines)


def _yaml_problem(exc: yaml.YAMLError, file: str) -> Problem:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark is not None else 1
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None)
    msg = f"malformed YAML: {problem}" + (f" ({context})" if context else "")
    return Problem(file, line, "", msg + "; check indentation, colons and quotes")


def _check_structure(text: str, file: str) -> None:
    """Walk the event stream (an iterative parser) to bound depth and size before composing."""
    depth = 0
    events = 0
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            events += 1
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    line = event.start_mark.line + 1
                    raise ProblemList(
                        [
                            Problem(
                                file,
                                line,
                                "",
                                f"nesting deeper than {MAX_DEPTH} levels; a site or scenario "
                                "never needs this, flatten the structure",
                            )
                        ]
                    )
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
            elif isinstance(event, (yaml.ScalarEvent, yaml.CollectionStartEvent)):
                tag = getattr(event, "tag", None)
                if tag and tag.startswith("!") and not tag.startswith("!!"):
                    line = event.start_mark.line + 1
                    raise ProblemList(
                        [Problem(file, line, "", f"YAML tag {tag!r} is not allowed; remove it")]
                    )
            if events > MAX_NODES:
                raise ProblemList(
                    [Problem(file, 1, "", f"document has over {MAX_NODES:,} YAML nodes; too large")]
                )
    except yaml.YAMLError as exc:
        raise ProblemList([_yaml_problem(exc, file)]) from None


class _Builder:
    """Turn a composed node graph into fresh Python objects, counting expanded nodes."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.lines: dict[Path_, int] = {}
        self.count = 0
        self._constructor = yaml.SafeLoader("")

    def _tick(self, node: yaml.Node) -> None:
        self.count += 1
        if self.count > MAX_NODES:
            raise ProblemList(
                [
                    Problem(
                        self.file,
                        node.start_mark.line + 1,
                        "",
                        f"aliases expand to over {MAX_NODES:,} values (an alias bomb?); "
                        "write the values out or use templates",
                    )
                ]
            )

    def build(self, node: yaml.Node, path: Path_) -> Any:
        self._tick(node)
        self.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    merged = self.build(value_node, path)
                    for item in merged if isinstance(merged, list) else [merged]:
                        if isinstance(item, dict):
                            for k, v in item.items():
                                out.setdefault(k, v)
                    continue
                key = self.build_scalar(key_node) if isinstance(key_node, yaml.ScalarNode) else None
                if not isinstance(key, (str, int, float, bool)) or key is None:
                    raise ProblemList(
                        [
                            Problem(
                                self.file,
                                key_node.start_mark.line + 1,
                                dotted(path),
                                "mapping keys must be plain names",
                            )
                        ]
                    )
                key = str(key)
                if key in out:
                    raise ProblemList(
                        [
                            Problem(
                                self.file,
                                key_node.start_mark.line + 1,
                                dotted((*path, key)),
                                "key appears twice in the same mapping; keep one",
                            )
                        ]
                    )
                self.lines[(*path, key)] = key_node.start_mark.line + 1
                out[key] = self.build(value_node, (*path, key))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        return self.build_scalar(node)

    def build_scalar(self, node: yaml.ScalarNode) -> Any:
        try:
            return self._constructor.construct_object(node, deep=False)
        except yaml.YAMLError as exc:
            raise ProblemList([_yaml_problem(exc, self.file)]) from None
        except (ValueError, OverflowError):
            raise ProblemList(
                [Problem(self.file, node.start_mark.line + 1, "", f"bad value {node.value!r}")]
            ) from None
