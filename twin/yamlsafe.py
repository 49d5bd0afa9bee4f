"""Safe YAML reading that remembers where every value came from.

A person fixing a file needs the line of the mistake, not a Python traceback. This module reads
YAML the way a hostile or careless file deserves:

* the file must be a regular file of UTF-8 text, not empty and not huge (:mod:`twin.textfile`);
* only the plain YAML tags (strings, numbers, booleans, null, dates, lists, mappings) are allowed:
  a ``!!python/...`` tag is refused, never executed, and so is any custom ``!tag``;
* before anything recursive runs, one pass over the parser's event stream (an iterative parser)
  measures the document *as aliases would expand it*: nesting deeper than ``MAX_DEPTH`` and more
  than ``MAX_NODES`` values are refused at the line that crosses the limit, so an "alias bomb"
  (a billion laughs) costs microseconds, and an alias inside its own anchor (a cycle) is refused;
* the composed node graph is then copied into fresh Python objects, collecting every problem
  (duplicate keys, keys that are not names, unreadable values) instead of stopping at the first.

The result is a :class:`LocatedDocument`: the plain Python data plus a map from each path
(a tuple of keys and list indexes) to its 1-based line, used to place validation errors.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from twin.errors import Problem, ProblemList, dotted, sort_problems
from twin.textfile import empty_file, read_text

MAX_DEPTH = 48
MAX_NODES = 500_000

Path_ = tuple[str | int, ...]

# libyaml (bundled with PyYAML's wheels) reads an 8 MiB file in well under a second; the pure-Python
# parser, the fallback, needs tens of seconds for one. Events and nodes carry the same marks.
_LOADER: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STD = "tag:yaml.org,2002:"
ALLOWED_TAGS = frozenset(_STD + t for t in ("str", "int", "float", "bool", "null", "timestamp", "seq", "map"))


@dataclass
class LocatedDocument:
    """Parsed YAML data and the line of every path in it."""

    file: str
    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)
    # Problems in values and keys, kept only when parsed with keep_going (see parse_yaml); the
    # paths they are at, so that validation does not report the same spot a second time.
    problems: list[Problem] = field(default_factory=list)
    problem_paths: set[Path_] = field(default_factory=set)

    def line_of(self, path: Path_) -> int:
        """The line of ``path``, or of its nearest ancestor that has one (1 if none does)."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), 1)


# --- parsing ----------------------------------------------------------------------------------


def load_yaml(path: str | Path, keep_going: bool = False) -> LocatedDocument:
    """Read and parse a YAML file safely; raise ProblemList with located problems on failure."""
    text = read_text(path)
    return parse_yaml(text, str(path), keep_going)


def parse_yaml(text: str, file: str = "<string>", keep_going: bool = False) -> LocatedDocument:
    """Parse YAML text safely into a LocatedDocument (see the module docstring).

    Broken syntax, tags, bombs and deep nesting always raise. Problems in single keys and values
    (a duplicate key, an impossible date) raise too, unless ``keep_going``: then the document is
    returned with them in ``problems`` (the bad value read as None), so that
    :func:`twin.load.validate_document` can report them together with the schema's problems.
    """
    _EventScan(file, text).run()
    try:
        node = yaml.compose(text, Loader=_LOADER)
    except yaml.YAMLError as exc:
        raise ProblemList([_yaml_problem(exc, file, text)]) from None
    if node is None:
        raise empty_file(file)
    builder = _Builder(file)
    data = builder.build(node, ())
    if builder.problems and not keep_going:
        raise ProblemList(sort_problems(builder.problems))
    return LocatedDocument(file, data, builder.lines, builder.problems, builder.problem_paths)


def _yaml_problem(exc: yaml.YAMLError, file: str, text: str) -> Problem:
    """A parser error as a Problem at the line where the parser stopped, with a likely fix."""
    problem_mark = getattr(exc, "problem_mark", None)
    context_mark = getattr(exc, "context_mark", None)
    mark = problem_mark or context_mark
    last_line = max(1, len(text.splitlines()))
    line = min(mark.line + 1, last_line) if mark is not None else 1
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None)
    if "another document" in problem:
        return Problem(file, line, "", "malformed YAML: a second document starts here; keep one per file")
    if "maximum nesting depth" in problem:  # PyYAML >= 6.0.3 stops deep flow nesting in its scanner
        return Problem(
            file,
            line,
            "",
            f"nesting deeper than {MAX_DEPTH} levels; no campustwin file needs this, flatten it",
        )
    msg = f"malformed YAML: {problem}"
    if context:
        opened = context_mark.line + 1 if context_mark is not None else line
        msg += f" ({context}" + (f" that starts on line {opened})" if opened != line else ")")
    return Problem(file, line, "", f"{msg}; {_yaml_fix(problem, context or '', _text_line(text, line))}")


def _text_line(text: str, line: int) -> str:
    lines = text.splitlines()
    return lines[line - 1] if 0 < line <= len(lines) else ""


def _yaml_fix(problem: str, context: str, line_text: str) -> str:
    """What a person most likely has to do about a parser error (the parser's words are terse)."""
    indent = line_text[: len(line_text) - len(line_text.lstrip())]
    if "\t" in indent or "\\t" in problem or "tab" in problem:
        return "indent with spaces, not tabs"
    if "flow sequence" in context:
        return "close the list with ']' and separate its items with ','"
    if "flow mapping" in context:
        return "close the mapping with '}' and separate its items with ','"
    if "quoted scalar" in context:
        return "close the quoted string with the same quote it opened with"
    if "mapping values are not allowed" in problem:
        return "quote a value that contains ': ', or fix the indentation of this key"
    if "block" in context:
        return "indent keys of the same mapping equally and list items under their key"
    return "check indentation, colons, quotes and brackets"


@dataclass
class _Open:
    """A collection the event scan is inside of."""

    anchor: str | None
    depth: int
    count_before: int
    reach: int


class _EventScan:
    """One pass over the event stream that bounds the *expanded* document before composing it.

    Events arrive from an iterative parser, so nothing here can overflow the stack. Each anchor
    remembers how many values and how many levels it expands to; an alias then costs its anchor's
    expanded size, which is how nine aliases of nine aliases are caught at the line where the
    total crosses ``MAX_NODES``, long before anything is expanded.
    """

    def __init__(self, file: str, text: str) -> None:
        self.file = file
        self.text = text
        self.count = 0
        self.stack: list[_Open] = []
        self.anchors: dict[str, tuple[int, int]] = {}  # anchor -> (expanded values, levels)
        self.anchor_lines: dict[str, int] = {}
        self.problems: list[Problem] = []

    def run(self) -> None:
        try:
            for event in yaml.parse(self.text, Loader=_LOADER):
                self._feed(event)
        except yaml.YAMLError as exc:
            self.problems.append(_yaml_problem(exc, self.file, self.text))
            raise ProblemList(self.problems) from None
        if self.problems:
            raise ProblemList(self.problems)

    def _feed(self, event: yaml.Event) -> None:
        line = event.start_mark.line + 1
        if isinstance(event, yaml.AliasEvent):
            self._alias(event.anchor, line)
        elif isinstance(event, (yaml.ScalarEvent, yaml.CollectionStartEvent)):
            self._check_tag(event.tag, line)
            self._define(event.anchor, line)
            self._add(1, line, alias=False)
            if isinstance(event, yaml.CollectionStartEvent):
                self._open(event.anchor, line)
            elif event.anchor:
                self.anchors[event.anchor] = (1, 0)
        elif isinstance(event, yaml.CollectionEndEvent):
            self._close()

    def _open(self, anchor: str | None, line: int) -> None:
        depth = len(self.stack) + 1
        self.stack.append(_Open(anchor, depth, self.count - 1, depth))
        if depth > MAX_DEPTH:
            self._fatal(
                line, f"nesting deeper than {MAX_DEPTH} levels; no campustwin file needs this, flatten it"
            )

    def _close(self) -> None:
        done = self.stack.pop()
        if self.stack:
            self.stack[-1].reach = max(self.stack[-1].reach, done.reach)
        if done.anchor:
            self.anchors[done.anchor] = (self.count - done.count_before, done.reach - done.depth + 1)

    def _alias(self, anchor: str, line: int) -> None:
        if any(o.anchor == anchor for o in self.stack):
            self._note(
                line, f"alias *{anchor} is inside the value &{anchor} names; a value cannot contain itself"
            )
            return
        if anchor not in self.anchors:
            self._note(line, f"alias *{anchor} has no anchor &{anchor} above it; define the anchor first")
            return
        size, levels = self.anchors[anchor]
        reach = len(self.stack) + levels
        if reach > MAX_DEPTH:
            self._fatal(line, f"alias *{anchor} nests values deeper than {MAX_DEPTH} levels; flatten it")
        if self.stack:
            self.stack[-1].reach = max(self.stack[-1].reach, reach)
        self._add(size, line, alias=True)

    def _add(self, values: int, line: int, alias: bool) -> None:
        self.count += values
        if self.count <= MAX_NODES:
            return
        if alias:
            self._fatal(
                line,
                f"aliases expand the document to over {MAX_NODES:,} values by this line (an alias bomb?); "
                "write the values out, or use templates and count:",
            )
        self._fatal(
            line,
            f"document has over {MAX_NODES:,} values; is it the file you meant? (a site file describes "
            "repeated parts with templates and count:)",
        )

    def _define(self, anchor: str | None, line: int) -> None:
        if not anchor:
            return
        if anchor in self.anchor_lines:
            first = self.anchor_lines[anchor]
            self._note(line, f"anchor &{anchor} is defined twice (first on line {first}); rename one")
        self.anchor_lines[anchor] = line

    def _check_tag(self, tag: str | None, line: int) -> None:
        if tag is None or tag in ALLOWED_TAGS:
            return
        short = "!!" + tag[len(_STD) :] if tag.startswith(_STD) else tag
        if short.startswith("!!python"):
            self._note(
                line,
                f"YAML tag {short!r} is refused: it would build a Python object and campustwin never runs "
                "code from a file; remove the tag",
            )
        else:
            self._note(line, f"YAML tag {short!r} is not allowed; files hold plain values, remove the tag")

    def _note(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.file, line, "", message))

    def _fatal(self, line: int, message: str) -> None:
        self._note(line, message)
        raise ProblemList(self.problems)


# --- building Python data ---------------------------------------------------------------------


class _Builder:
    """Turn a composed node graph into fresh Python objects, recording lines and problems.

    The event scan has already bounded size and depth and refused cycles and tags; the guards
    here are a backstop so that a surprise becomes a Problem, never a RecursionError.
    """

    def __init__(self, file: str) -> None:
        self.file = file
        self.lines: dict[Path_, int] = {}
        self.problems: list[Problem] = []
        self.problem_paths: set[Path_] = set()
        self.count = 0
        self._constructor = yaml.constructor.SafeConstructor()

    def build(self, node: yaml.Node, path: Path_) -> Any:
        self.count += 1
        if self.count > MAX_NODES or len(path) > MAX_DEPTH + 1:
            raise ProblemList.one(
                self.file, _line(node), "document too large or too deeply nested; simplify it"
            )
        self.lines.setdefault(path, _line(node))
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        return self._scalar(node, path)

    def _mapping(self, node: yaml.MappingNode, path: Path_) -> dict[str, Any]:
        """Explicit keys first, then ``<<`` merges, so explicit keys win wherever they are written."""
        out: dict[str, Any] = {}
        merges: list[yaml.Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _STD + "merge":
                merges.append(value_node)
                continue
            key = self._key(key_node, path)
            if key is None:
                continue
            if key in out:
                first = self.lines[(*path, key)]
                self._problem(
                    key_node,
                    (*path, key),
                    f"key {key!r} appears twice here (first on line {first}); keep one",
                )
                continue
            self.lines[(*path, key)] = _line(key_node)
            out[key] = self.build(value_node, (*path, key))
        for value_node in merges:
            sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
            for source in sources:
                self._merge(out, source, path)
        return out

    def _merge(self, out: dict[str, Any], source: yaml.Node, path: Path_) -> None:
        """Add the keys of a merged mapping that ``out`` lacks, with the lines they came from."""
        if not isinstance(source, yaml.MappingNode):
            msg = "'<<' merges a mapping into this one; point it at a mapping anchor"
            self._problem(source, path, msg, at_value=False)
            return
        saved, self.lines = self.lines, {}
        merged = self._mapping(source, path)
        merged_lines, self.lines = self.lines, saved
        by_key: dict[Any, list[tuple[Path_, int]]] = defaultdict(list)
        for p, ln in merged_lines.items():
            if len(p) > len(path):
                by_key[p[len(path)]].append((p, ln))
        for key, value in merged.items():
            if key not in out:
                out[key] = value
                for p, ln in by_key[key]:
                    self.lines.setdefault(p, ln)

    def _key(self, node: yaml.Node, path: Path_) -> str | None:
        """A key as written (``on:`` stays 'on', ``1:`` stays '1'); None after noting a problem."""
        if not isinstance(node, yaml.ScalarNode):
            self._problem(
                node, path, "a mapping key must be a plain name, not a list or mapping", at_value=False
            )
            return None
        if node.value == "":
            self._problem(node, path, "empty mapping key; write a name before the ':'", at_value=False)
            return None
        return str(node.value)

    def _scalar(self, node: yaml.ScalarNode, path: Path_) -> Any:
        try:
            value = self._constructor.construct_object(node, deep=False)
        except (yaml.YAMLError, ValueError, OverflowError, TypeError):
            is_date = node.tag == _STD + "timestamp"
            hint = "write a real date as YYYY-MM-DD" if is_date else "quote it or correct it"
            self._problem(node, path, f"cannot read the value {node.value!r}; {hint}")
            return None
        if isinstance(value, float) and not math.isfinite(value):
            self._problem(node, path, f"{node.value!r} is not a finite number; write an ordinary number")
            return None
        return value

    def _problem(self, node: yaml.Node, path: Path_, message: str, at_value: bool = True) -> None:
        """Record a problem; ``at_value`` when it is about the value at ``path`` (not its mapping)."""
        self.problems.append(Problem(self.file, _line(node), dotted(path), message))
        if at_value:
            self.problem_paths.add(path)


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1
