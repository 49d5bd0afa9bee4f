"""The scenario library: named scenarios and their runs, in a database, with results beside it.

A *scenario* is kept as its YAML text and the folder its site paths resolve against, stamped with
the text's SHA-256. A *run* belongs to a scenario and is stamped with that hash, its seed and the
code version (:func:`code_version`); its results are the Parquet + JSON of
:meth:`twin.results.Results.write`, in a folder of their own under ``runs/``.

Embedded by default: SQLite in WAL mode in the data folder (``library.sqlite``). A team can give a
SQLAlchemy URL instead (``postgresql+psycopg://...``); the tables are plain SQLAlchemy Core.

Crash safety, in the order a save happens:

1. :meth:`Library.start_run` commits a row ``running``: a run in flight is known;
2. the results are written to ``runs/.tmp-<id>`` and renamed to ``runs/<id>`` (a rename is atomic);
3. one transaction marks the row ``done`` and records its folder.

A process killed anywhere leaves either a ``done`` row whose folder is complete, or a ``running``
row with at most a temporary folder. Opening the library marks the runs of processes that are
gone ``interrupted`` and removes their folders, so no half-written run is ever visible; runs that
another live process is saving are left alone (each row names its owner, host and pid).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import socket
import time
import uuid
from pathlib import Path

import psutil
from sqlalchemy import (
    create_engine,
    delete,
    event,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.exc import DatabaseError, IntegrityError, OperationalError, SQLAlchemyError

from app.library_refusals import read_only, read_only_message
from app.library_tables import DONE, INTERRUPTED, RUN_ID, RUNNING, code_version, metadata, runs, scenarios
from twin.results import Results


class LibraryError(ValueError):
    """A library request that cannot be met; the message says what to change."""


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class Library:
    """Scenarios and runs under ``folder`` (created), in SQLite there unless ``url`` names a database."""

    def __init__(self, folder: str | Path, url: str | None = None):
        if "://" in str(folder):  # a URL taken for a folder would become a folder named "sqlite:"
            raise LibraryError(
                f"{str(folder)[:80]}: a folder is wanted here, not a database URL; a URL goes to the "
                "Python API (Library(folder, url=...)), and --data names the folder beside it"
            )
        self.folder = Path(folder)
        self.runs_dir = self.folder / "runs"
        try:
            self.runs_dir.mkdir(parents=True, exist_ok=True)
            self.engine = create_engine(url or f"sqlite:///{self.folder / 'library.sqlite'}")
            if self.engine.dialect.name == "sqlite":
                event.listen(self.engine, "connect", _sqlite_pragmas)
            self._check_tables()  # before creating any table in another program's database
            self._create_tables()
            self._recover()
        except DatabaseError as exc:
            reason = getattr(exc, "orig", None) or exc
            if read_only(self.folder, reason):
                raise LibraryError(read_only_message(self.folder, reason)) from None
            raise LibraryError(
                f"{self.folder / 'library.sqlite'}: not a campustwin library ({type(reason).__name__}: "
                f"{str(reason)[:160]}); move that file away, or give another folder with --data"
            ) from None
        except (OSError, SQLAlchemyError) as exc:
            reason = getattr(exc, "orig", None) or exc
            raise LibraryError(
                f"{self.folder}: cannot open the library there ({type(reason).__name__}: {str(reason)[:160]}); "
                "give a writable folder of your own with --data"
            ) from None

    def _check_tables(self) -> None:
        """A database whose tables are not the library's (another program's file) is refused, not
        read: its queries would fail later, half-way through a command."""
        found = inspect(self.engine)
        for table in metadata.sorted_tables:
            if not found.has_table(table.name):
                continue
            have = {c["name"] for c in found.get_columns(table.name)}
            missing = [c.name for c in table.columns if c.name not in have]
            if missing:
                raise LibraryError(
                    f"{self.folder / 'library.sqlite'}: not a campustwin library (its table {table.name!r} "
                    f"has no column {missing[0]!r}); move that file away, or give another folder with --data"
                )

    def _create_tables(self) -> None:
        """Create the tables a new library lacks. Two processes opening a new library at once
        (two ``simulate --save``, a console and a command) both see no table and both create
        one: the second is told it "already exists", which once read as "not a campustwin
        library". Then the check runs again and finds it. A creation that read the tables
        before another process wrote them may also be told "database is locked" at once (in WAL
        mode SQLite refuses to turn a stale read into a write rather than wait): it tries again."""
        for attempt in range(8):
            try:
                metadata.create_all(self.engine)
                return
            except OperationalError as exc:
                raced = "already exists" in str(exc) or "locked" in str(exc)
                if not raced or attempt == 7:
                    raise
                time.sleep(0.02 * (attempt + 1))

    @property
    def interrupted(self) -> list[dict]:
        """Runs that never finished because their process was killed while saving them."""
        return [r for r in self.runs() if r["status"] == INTERRUPTED]

    def _recover(self) -> None:
        """Mark runs whose process died as interrupted and remove their folders.

        Other processes may be saving right now, so only a run whose owner is gone is touched.
        The folders are listed *before* the rows are read: a run's row is committed before its
        folder is made, so every folder listed has its row, and a save that starts meanwhile is
        not in the listing.
        """
        folders = list(self.runs_dir.iterdir())
        with self.engine.begin() as db:
            rows = {
                r.id: (r.status, r.owner) for r in db.execute(select(runs.c.id, runs.c.status, runs.c.owner))
            }
            dead = [i for i, (status, owner) in rows.items() if status == RUNNING and _owner_gone(owner)]
            if dead:
                db.execute(update(runs).where(runs.c.id.in_(dead)).values(status=INTERRUPTED))
        for path in folders:
            run_id = path.name.removeprefix(".tmp-")
            if not RUN_ID.fullmatch(run_id):
                continue  # not a run folder the library made: someone's own files, left alone
            status, owner = rows.get(run_id, (None, ""))
            if status == RUNNING and run_id not in dead:
                continue  # another process is saving it
            if status is None or run_id in dead or status == INTERRUPTED or path.name.startswith(".tmp-"):
                shutil.rmtree(path, ignore_errors=True)

    # -- scenarios ------------------------------------------------------------------------------

    def save_scenario(self, name: str, text: str, folder: str | Path, replace: bool = True) -> None:
        """Save (or replace) scenario ``name``: its YAML text and the folder its paths resolve in.

        With ``replace`` False a scenario of that name with other text is left alone and
        LibraryError says so (saving the same text again is fine: its runs are added to it).
        """
        _check_name(name)
        row = {"text": text, "folder": str(folder), "hash": _hash(text), "saved_at": _now()}
        for _ in range(2):  # another process may insert the same name between our read and write
            try:
                with self.engine.begin() as db:
                    found = db.execute(
                        select(scenarios.c.id, scenarios.c.hash).where(scenarios.c.name == name)
                    ).first()
                    if found is not None and not replace and found.hash != row["hash"]:
                        raise LibraryError(
                            f"a different scenario named {name!r} is in the library; pick another name "
                            "(or delete that one on the Runs page first)"
                        )
                    if found is None:
                        db.execute(insert(scenarios).values(name=name, **row))
                    else:
                        db.execute(update(scenarios).where(scenarios.c.id == found.id).values(**row))
                return
            except IntegrityError:
                continue
        raise LibraryError(
            f"scenario {name!r} could not be saved: another save of it kept failing; try again"
        )

    def scenarios(self) -> list[dict]:
        with self.engine.connect() as db:
            rows = db.execute(
                select(scenarios.c.name, scenarios.c.hash, scenarios.c.saved_at).order_by(scenarios.c.name)
            )
            return [dict(r._mapping) for r in rows]

    def scenario(self, name: str) -> dict:
        with self.engine.connect() as db:
            row = db.execute(select(scenarios).where(scenarios.c.name == name)).first()
        if row is None:
            raise LibraryError(f"no scenario {name!r} in the library; saved ones: {self._names()}")
        return dict(row._mapping)

    def rename(self, old: str, new: str) -> None:
        _check_name(new)
        try:
            with self.engine.begin() as db:
                done = db.execute(update(scenarios).where(scenarios.c.name == old).values(name=new))
        except IntegrityError:
            raise LibraryError(f"a scenario named {new!r} exists already; pick another name") from None
        if done.rowcount == 0:
            raise LibraryError(f"no scenario {old!r} in the library; saved ones: {self._names()}")

    def delete(self, name: str) -> None:
        """Delete scenario ``name`` and its runs (their result folders too)."""
        sid = self.scenario(name)["id"]
        with self.engine.begin() as db:
            ids = [r.id for r in db.execute(select(runs.c.id).where(runs.c.scenario_id == sid))]
            db.execute(delete(runs).where(runs.c.scenario_id == sid))
            db.execute(delete(scenarios).where(scenarios.c.id == sid))
        for run_id in ids:
            shutil.rmtree(self.runs_dir / run_id, ignore_errors=True)

    def _names(self) -> str:
        names = [s["name"] for s in self.scenarios()]
        return ", ".join(names[:10]) or "(none)"

    # -- runs -----------------------------------------------------------------------------------

    def start_run(self, name: str, seed: int) -> str:
        """Record that a run of scenario ``name`` began; return its id (committed at once)."""
        found = self.scenario(name)
        run_id = uuid.uuid4().hex
        with self.engine.begin() as db:
            db.execute(insert(runs).values(
                id=run_id, scenario_id=found["id"], scenario_hash=found["hash"], seed=seed,
                code_version=code_version(), status=RUNNING, started_at=_now(), owner=_owner(),
            ))  # fmt: skip
        return run_id

    def finish_run(self, run_id: str, results: Results) -> None:
        """Write the run's results beside the database, then mark it done in one transaction."""
        tmp = self.runs_dir / f".tmp-{run_id}"
        results.write(tmp)
        tmp.rename(self.runs_dir / run_id)
        kpis = json.dumps(results.kpis, default=_json_default)
        with self.engine.begin() as db:
            db.execute(
                update(runs).where(runs.c.id == run_id).values(status=DONE, finished_at=_now(), kpis=kpis)
            )

    def saved_runs(self, name: str, text: str, seeds: list[int]) -> list[str] | None:
        """The finished runs of scenario ``name`` that are these: the same text, seeds and code
        (so the same results, the twin being deterministic); None unless every seed has one."""
        same = (DONE, _hash(text), code_version())
        found = {}
        for row in self.runs(name):
            if (row["status"], row["scenario_hash"], row["code_version"]) == same:
                found.setdefault(row["seed"], row["id"])
        ids = [found.get(seed) for seed in seeds]
        return ids if ids and all(ids) else None

    def save_run(self, name: str, results: Results) -> str:
        run_id = self.start_run(name, int(results.kpis.get("seed", 0)))
        self.finish_run(run_id, results)
        return run_id

    def runs(self, name: str | None = None) -> list[dict]:
        """Every run (of scenario ``name`` only, when given), oldest first, with its KPIs when done."""
        query = select(runs.c.id, scenarios.c.name, runs.c.seed, runs.c.scenario_hash, runs.c.code_version,
                       runs.c.status, runs.c.started_at, runs.c.finished_at, runs.c.kpis).join(scenarios)  # fmt: skip
        if name is not None:
            query = query.where(scenarios.c.name == name)
        with self.engine.connect() as db:
            found = [dict(r._mapping) for r in db.execute(query.order_by(runs.c.started_at, runs.c.id))]
        for row in found:
            row["kpis"] = json.loads(row["kpis"]) if row["kpis"] else {}
        return found

    def run_folder(self, run_id: str) -> Path:
        """The folder of a finished run's Parquet + JSON (``run_id`` as listed, or its first 8+ characters)."""
        if not (8 <= len(run_id) <= 32 and all(c in "0123456789abcdef" for c in run_id)):
            raise LibraryError(f"run {run_id[:40]!r}: a run id is 8 to 32 hexadecimal characters, as listed")
        with self.engine.connect() as db:
            rows = db.execute(select(runs.c.id, runs.c.status).where(runs.c.id.startswith(run_id))).all()
        if not rows:
            raise LibraryError(f"no run {run_id!r} in the library")
        if len(rows) > 1:
            raise LibraryError(
                f"run {run_id!r} is ambiguous ({len(rows)} runs start so); give more characters"
            )
        if rows[0].status != DONE:
            raise LibraryError(f"run {rows[0].id} is {rows[0].status}: it has no results; run it again")
        return self.runs_dir / rows[0].id

    def run_scenario(self, run_id: str) -> str:
        """The name the run's scenario is saved under (``run_id`` in full)."""
        with self.engine.connect() as db:
            name = db.execute(select(scenarios.c.name).join(runs).where(runs.c.id == run_id)).scalar()
        if name is None:
            raise LibraryError(f"no run {run_id!r} in the library")
        return name

    def run_inputs(self, run_id: str) -> tuple[str, str] | None:
        """The scenario text a run ran and the folder its paths resolve in (``run_id`` in full);
        None when the scenario was saved again with other text since (the library keeps a
        scenario's latest text only)."""
        query = (
            select(scenarios.c.text, scenarios.c.folder, scenarios.c.hash, runs.c.scenario_hash)
            .join(runs)
            .where(runs.c.id == run_id)
        )
        with self.engine.connect() as db:
            row = db.execute(query).first()
        if row is None or row.hash != row.scenario_hash:
            return None
        return row.text, row.folder

    def load_run(self, run_id: str) -> Results:
        return Results.read(self.run_folder(run_id))


def _sqlite_pragmas(connection, _record) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA busy_timeout=30000")  # two processes saving at once wait, not fail
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait for a writer
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _owner_gone(owner: str) -> bool:
    """True when the owning process has ended; a run owned on another machine cannot be judged here."""
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    return not psutil.pid_exists(int(pid))


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _check_name(name: str) -> None:
    if not name or len(name) > 128 or not name.strip() or not name.isprintable():
        raise LibraryError(f"scenario name {name[:40]!r}: 1-128 printable characters")
    if name != name.strip():  # " base" is listed as "base", and a second "base" could be saved beside it
        raise LibraryError(
            f"scenario name {name[:40]!r}: no spaces at its start or end; e.g. {name.strip()[:40]!r}"
        )


def _json_default(value):
    from twin.results import json_default

    return json_default(value)
