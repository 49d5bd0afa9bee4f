"""The library's tables, and what stamps a run with the code that produced it.

Two tables, plain SQLAlchemy Core so that SQLite and a team's PostgreSQL take the same
definitions: ``scenarios`` (a name, the YAML text, the folder its site paths resolve against, the
text's SHA-256) and ``runs`` (a scenario's run: its hash, seed and code version, its status and the
process saving it, its KPIs). :mod:`app.library` keeps them.
"""

from __future__ import annotations

import functools
import hashlib
import re
from pathlib import Path

from sqlalchemy import BigInteger, Column, ForeignKey, Integer, MetaData, String, Table, Text

#: a run's id (uuid4 hex), also the name of its folder under ``runs/``
RUN_ID = re.compile(r"[0-9a-f]{32}")

metadata = MetaData()
scenarios = Table(
    "scenarios",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(128), unique=True, nullable=False),
    Column("text", Text, nullable=False),
    Column("folder", Text, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("saved_at", String(32), nullable=False),
)
runs = Table(
    "runs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("scenario_id", Integer, ForeignKey("scenarios.id", ondelete="CASCADE"), nullable=False),
    Column("scenario_hash", String(64), nullable=False),
    Column("seed", BigInteger, nullable=False),
    Column("code_version", String(64), nullable=False),
    Column("status", String(16), nullable=False),  # running, done, interrupted
    Column("owner", String(160), nullable=False),  # host:pid of the process running it
    Column("started_at", String(32), nullable=False),
    Column("finished_at", String(32)),
    Column("kpis", Text),
)

RUNNING, DONE, INTERRUPTED = "running", "done", "interrupted"


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """The package version and a hash of the twin's source: what produced a run."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        package = version("campustwin")
    except PackageNotFoundError:
        package = "0"
    h = hashlib.sha256()
    for path in sorted((Path(__file__).resolve().parent.parent / "twin").glob("*.py")):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return f"{package}+{h.hexdigest()[:12]}"
