"""Files uploaded through the console: scenarios (operators) and sites (admins).

An upload is bytes from a browser, so everything about it is checked before it is used:

* its size (``MAX_UPLOAD_BYTES``; the server's web socket refuses far larger messages anyway);
* its text: UTF-8, then parsed by the twin's safe YAML reader (no tags, no alias bombs, no deep
  nesting), then validated exactly as a file on the command line is;
* the files it names (a scenario's sites and trace, a site's catalog) must lie in the console's
  sites folder: an upload never makes the server read, or write, a path of the uploader's choice;
* its name only labels it (a site file is stored under a name made of safe characters, next to
  the others, and never over an existing file);
* a site's campus name is taken once, even by two uploads stored at the same moment.

A scenario upload lives in the uploading session only, until its operator saves it to the
library. No Panel import: the page shows :class:`UploadError`'s problems as text.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import time
import uuid
from pathlib import Path, PurePath

from app.stamps import site_files
from twin.errors import ProblemList
from twin.load import file_kind, load_site
from twin.scenario import load_scenario_text
from twin.textfile import decode_text
from twin.yamlsafe import parse_yaml

MAX_UPLOAD_BYTES = 1024 * 1024  # the largest sample scenario is ~6 KB and site ~20 KB
LOCK_NAME = ".site-upload.lock"  # hidden, and not *.yaml: no listing of the sites folder shows it
LOCK_WAIT_S = 10.0  # storing one upload takes milliseconds; waiting longer means something is stuck


class UploadError(ValueError):
    """An upload refused; ``problems`` say where and what to fix."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


def upload_label(filename: str) -> str:
    """The upload's file name as a label: its last component, safe characters, at most 60."""
    name = PurePath(str(filename).replace("\\", "/")).name
    name = re.sub(r"[^A-Za-z0-9._ -]+", "_", name).strip(" .")
    return name[:60] or "upload.yaml"


def file_stem(name: str, default: str) -> str:
    """``name`` as a file name's stem: letters, digits, ``-`` and ``_`` only, at most 60."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_")[:60] or default


def _parse(filename: str, raw: bytes, kind: str):
    label = upload_label(filename)
    if len(raw) > MAX_UPLOAD_BYTES:
        raise UploadError(
            [f"{label}: {len(raw) / 1e6:.1f} MB is over the console's {MAX_UPLOAD_BYTES // 1024} KiB limit "
             f"for {kind} files; run a larger one with the campustwin command"]
        )  # fmt: skip
    try:
        doc = parse_yaml(decode_text(raw, label), label)
        found = file_kind(doc)
    except ProblemList as exc:
        raise UploadError([str(p) for p in exc.problems]) from None
    if found != kind:
        raise UploadError([f"{label}: this is a {found} file; upload a {kind} file here"])
    return label, doc


def _inside(folder: Path, base: Path, rel: object, where: str, label: str) -> None:
    if not isinstance(rel, str):
        return  # not a path at all: validation tells
    target = (base / rel).resolve()
    if not target.is_relative_to(folder.resolve()):
        raise UploadError(
            [f"{label}: {where}: {rel[:80]!r} is outside the console's sites folder; "
             "name a file of that folder (such as ../demo.yaml)"]
        )  # fmt: skip


def _named_files(data: object, where: str = ""):
    """(place, path) of every file a scenario names: its ``sites`` and any ``file:`` at any depth.

    Every ``file:`` key is taken as a path, wherever it is (a job trace, a hosted model's request
    trace, whatever a later version adds): a path is never let through by not being known.
    """
    if isinstance(data, dict):
        for key, value in data.items():
            here = f"{where}.{key}" if where else str(key)
            if key == "file":
                yield here, value
            elif key == "sites" and not where and isinstance(value, list):
                yield from ((f"sites[{i}]", rel) for i, rel in enumerate(value))
            else:
                yield from _named_files(value, here)
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from _named_files(value, f"{where}[{i}]")


def read_scenario_upload(filename: str, raw: bytes, sites_dir: Path) -> tuple[str, dict]:
    """Check an uploaded scenario; return its label and its data (site paths as in the samples)."""
    label, doc = _parse(filename, raw, "scenario")
    scenarios_dir = sites_dir / "scenarios"
    data = doc.data
    for where, rel in _named_files(data):
        _inside(sites_dir, scenarios_dir, rel, where, label)
    try:
        load_scenario_text(raw.decode("utf-8"), scenarios_dir, file=label)
    except ProblemList as exc:
        raise UploadError([str(p) for p in exc.problems]) from None
    return label, data


def store_site_upload(filename: str, raw: bytes, sites_dir: Path, campuses: set[str] = frozenset()) -> Path:
    """Check an uploaded site file and add it to the sites folder; return where it was stored.

    A campus name is taken once: later code finds a campus by its name. ``campuses`` are the names
    the caller listed earlier, enough to refuse a taken name before the file is validated, but
    stale by the time it is stored: another admin, in another session or another server process,
    may be storing a campus of the same name under another file name at the same moment. So
    "the name is free" and "the file is in" are one critical section, under an exclusive lock
    on a hidden file of the sites folder (:data:`LOCK_NAME`) that every storing process takes;
    inside it the names are read again from the folder's files as they are then.
    """
    label, doc = _parse(filename, raw, "site")
    name = str(doc.data.get("name"))
    if name in campuses:
        raise UploadError([f"{label}: a campus named {name!r} is already there; rename yours (name:)"])
    target = sites_dir / f"{file_stem(Path(label).stem, 'site')}.yaml"
    if target.exists():
        raise UploadError(
            [f"{label}: a site file {target.name} is already there; rename your file and upload it again"]
        )
    catalog = doc.data.get("catalog", "catalog.yaml")
    _inside(sites_dir, sites_dir, catalog, "catalog", label)
    # Validated where it will live (its catalog path is relative to it), under a name no page lists
    # (nor the check below: a hidden file is not a site yet).
    trial = sites_dir / f".upload-{uuid.uuid4().hex}.yaml"
    try:
        try:
            trial.write_bytes(raw)
        except OSError as exc:
            raise UploadError([_unwritable(label, exc)]) from None
        try:
            load_site(trial)
        except ProblemList as exc:
            raise UploadError([str(p).replace(str(trial), label) for p in exc.problems]) from None
        with _upload_lock(sites_dir, label):
            held = site_files(sites_dir).get(name)
            if held is not None:
                raise UploadError(
                    [f"{label}: a campus named {name!r} is already there, in {held.name}; "
                     "rename yours (name:) and upload it again"]
                )  # fmt: skip
            try:
                os.link(trial, target)  # fails if the name was taken meanwhile: never overwrites
            except FileExistsError:
                raise UploadError([f"{label}: a site file {target.name} is already there"]) from None
            except OSError as exc:
                raise UploadError([_unwritable(label, exc)]) from None
    finally:
        trial.unlink(missing_ok=True)
    return target


def _unwritable(label: str, exc: OSError) -> str:
    return (
        f"{label}: the console cannot write into its sites folder ({exc.strerror or exc}); "
        "ask whoever runs the console to make that folder writable, then upload again"
    )


@contextlib.contextmanager
def _upload_lock(sites_dir: Path, label: str):
    """Held by one storing upload at a time, across threads and processes (``flock``).

    The lock file is never removed: a process waiting on a removed file's lock would get it while
    another locked a new file of the same name. A wait has a bound, as a page's callback must end.
    """
    try:
        fd = os.open(sites_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise UploadError([_unwritable(label, exc)]) from None
    try:
        deadline = time.monotonic() + LOCK_WAIT_S
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise UploadError(
                        [f"{label}: another site upload kept the sites folder busy for {LOCK_WAIT_S:g} s; "
                         "upload yours again in a moment"]
                    ) from None  # fmt: skip
                time.sleep(0.02)
        yield
    finally:
        os.close(fd)  # releases the lock
