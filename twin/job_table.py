"""The job table of a run: one row per job, what it asked for, where it ran and how it went.

Columns: the job's id, kind, owner, GPUs, site and GPU type (empty until it starts), priority;
its submit, first start and end hours; its status; the work it asked for and the hours it
queued; its interruptions and preemptions; its productive, lost, checkpoint and restart hours,
its wall hours and its worst network slowdown; and why it was refused or requeued, if it was.
"""

from __future__ import annotations

from operator import attrgetter

import numpy as np
import pandas as pd
import pyarrow as pa

from twin.jobs import QUEUED

# The job table's columns taken straight from a Job: (column, attribute, dtype; None: text).
_JOB_ATTRIBUTES = (
    ("job", "id", np.int64), ("kind", "kind", None), ("owner", "owner", None), ("gpus", "gpus", np.int64),
    ("priority", "priority", np.int64), ("submit_h", "submit", np.float64),
    ("first_start_h", "first_start", np.float64), ("end_h", "end", np.float64), ("status", "status", None),
    ("work_hours", "work_hours", np.float64), ("interruptions", "interruptions", np.int64),
    ("preemptions", "preemptions", np.int64), ("productive_hours", "productive", np.float64),
    ("lost_hours", "lost", np.float64), ("checkpoint_hours", "checkpointing", np.float64),
    ("restart_hours", "restarting", np.float64), ("max_slowdown", "max_slowdown", np.float64),
    ("reason", "reason", None),
)  # fmt: skip
JOB_COLUMNS = (
    "job", "kind", "owner", "gpus", "site", "gpu_type", "priority", "submit_h", "first_start_h", "end_h",
    "status", "work_hours", "queue_wait_hours", "interruptions", "preemptions", "productive_hours",
    "lost_hours", "checkpoint_hours", "restart_hours", "wall_hours", "max_slowdown", "reason",
)  # fmt: skip


def job_table(jobs: list, now: float, site_names: list[str], gpu_type_names: list[str]) -> pd.DataFrame:
    """One row per job. Built column by column, numbers straight into typed arrays: a year has
    ~100k jobs, and pandas is slow both at splitting row tuples and at guessing a list's type."""
    if not jobs:
        return pd.DataFrame(columns=list(JOB_COLUMNS))
    n = len(jobs)
    cols = {
        name: list(map(attrgetter(attr), jobs)) if dtype is None else np.fromiter(map(attrgetter(attr), jobs), dtype, n)
        for name, attr, dtype in _JOB_ATTRIBUTES
    }  # fmt: skip
    # A job's site and GPU type are -1 until it starts: code 0, the empty text.
    cols["site"] = text_column(np.fromiter(map(attrgetter("site"), jobs), np.int64, n) + 1, ["", *site_names])
    cols["gpu_type"] = text_column(
        np.fromiter(map(attrgetter("gpu_type"), jobs), np.int64, n) + 1, ["", *gpu_type_names]
    )
    queued = np.fromiter((j.status == QUEUED for j in jobs), bool, n)
    waited = np.fromiter(map(attrgetter("queue_wait"), jobs), np.float64, n)
    since = np.fromiter(map(attrgetter("queued_since"), jobs), np.float64, n)
    cols["queue_wait_hours"] = waited + np.where(queued, now - since, 0.0)
    first, end = cols["first_start_h"], cols["end_h"]  # Job.wall, for all jobs at once
    cols["wall_hours"] = np.where(np.isnan(first), 0.0, np.where(np.isnan(end), now, end) - first)
    return pd.DataFrame({name: cols[name] for name in JOB_COLUMNS})


def text_column(codes: np.ndarray, names: list[str]) -> pd.api.extensions.ExtensionArray:
    """A text column of ``names[code]``: Arrow repeats a few names faster than pandas converts
    ~100k Python strings one by one."""
    return pd.array(pa.array(names, type=pa.string()).take(pa.array(codes)), dtype="str")
