"""``campustwin sweep``: a grid of scenario changes x replications, on Dask, resumable.

Runs go to a Dask distributed cluster: a local one of ``--workers`` processes by default, or the
scheduler at ``--scheduler ADDRESS`` (its workers need campustwin installed and the scenario and
site files at the same paths). ``--workers 0`` runs in this process, one after another.

Each finished run is written to ``OUT/runs/<task>.json`` (atomically), so a sweep that stops, or
is stopped, picks up where it was: finished runs are not run again. At the end ``summary.csv``
and ``summary.json`` give each grid point's mean, p5 and p95 of every KPI.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import yaml

from app.sweep_folder import SweepError, json_text, prepare, whole_run, write_json, write_together

EXIT_USER_ERROR = 2
MAX_RUNS = 10_000
_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.([A-Za-z_][A-Za-z0-9_]*|[0-9]+))*$")
_BASE_60 = re.compile(r"^[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?$")
MAX_WORKERS = 512
SCHEDULER_TIMEOUT_S = 10


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sweep", help="run a scenario over a grid of changes and seeds, on Dask")
    p.add_argument("scenario", metavar="SCENARIO")
    p.add_argument("--vary", action="append", default=[], metavar="PATH=V1,V2,...",
                   help="a dotted path of the scenario and its values (repeat for a grid)")  # fmt: skip
    p.add_argument("--replications", type=int, default=1, help="seeds per grid point (default 1)")
    p.add_argument("--workers", type=int, default=None, help="local Dask workers (default: CPUs; 0: serial)")
    p.add_argument("--scheduler", default=None, help="address of an existing Dask scheduler")
    p.add_argument("--out", required=True, help="folder for the runs and the summary")
    p.set_defaults(func=cmd_sweep)


def parse_vary(items: list[str]) -> dict[str, list]:
    """``["a.b=1,2"]`` -> ``{"a.b": [1, 2]}``; raise ValueError naming the item at fault."""
    vary: dict[str, list] = {}
    for item in items:
        path, sep, values = item.partition("=")
        # validate's messages name items as leases[0].gpus: that form is taken too
        path = re.sub(r"\[(\d+)\]", r".\1", path.strip())
        if not sep or not _PATH.match(path):
            raise ValueError(
                f"--vary {item[:60]!r}: write PATH=V1,V2 with a dotted path, e.g. leases.0.gpus=512,1024 or leases[0].gpus=512,1024"
            )
        if path in vary:
            raise ValueError(f"--vary {path}: given twice; list all its values in one --vary")
        if path == "name":  # each point would be the same run under another label
            raise ValueError(
                "--vary name: a scenario's name changes no result; vary an input, e.g. leases.0.gpus"
            )
        if path == "seed":
            raise ValueError(
                "--vary seed: each grid point runs the scenario's seed and the next ones; set how many "
                "with --replications (and the first in the scenario file)"
            )
        tokens = [t.strip() for t in values.split(",")]
        if not tokens or any(not t for t in tokens):
            raise ValueError(f"--vary {path}: empty value; separate values with commas, e.g. {path}=1,2")
        for t in tokens:
            if _BASE_60.match(t):  # YAML 1.1 would read 1:30 as 90
                raise ValueError(f"--vary {path}: {t!r} reads as a base-60 number; write the number itself")
        try:
            vary[path] = [yaml.safe_load(t) if t[0] not in "&*!|>%@`" else t for t in tokens]
        except yaml.YAMLError as exc:
            raise ValueError(
                f"--vary {path}: a value is not valid YAML ({getattr(exc, 'problem', None) or exc}); "
                "quote text with both quotes, e.g. name='\"a b\"'"
            ) from None
        parsed = vary[path]
        twice = next((t for k, t in enumerate(tokens) if parsed[k] in parsed[:k]), None)
        if twice is not None:  # the same grid point run twice over (1 and 1.0 too), counted twice
            raise ValueError(f"--vary {path}: {twice!r} is given twice; list each value once")
    return vary


def cmd_sweep(args: argparse.Namespace) -> int:
    try:
        vary = parse_vary(args.vary)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USER_ERROR
    problem = _check_counts(args, vary)
    if problem:
        print(problem, file=sys.stderr)
        return EXIT_USER_ERROR
    # A local cluster takes seconds to start; it starts while this process loads and checks the
    # scenario at every grid point, instead of after.
    starting = _start_local_cluster(args.workers) if args.scheduler is None and args.workers != 0 else None
    try:
        return _sweep(args, vary, starting)
    except SweepError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USER_ERROR
    finally:
        if starting is not None and starting.exception() is None:
            starting.result().close()


def _check_counts(args: argparse.Namespace, vary: dict[str, list]) -> str | None:
    """What is wrong with --replications, --workers or the number of runs (counted, not built)."""
    if args.replications < 1:
        return f"--replications: at least 1, got {args.replications}"
    if args.workers is not None and not 0 <= args.workers <= MAX_WORKERS:
        return f"--workers: from 0 (runs in this process) to {MAX_WORKERS}, got {args.workers}"
    if args.workers is not None and args.scheduler is not None:  # one would be silently ignored
        return "--workers and --scheduler: give one; the scheduler's cluster has workers of its own"
    runs = math.prod(len(v) for v in vary.values()) * args.replications
    if runs > MAX_RUNS:
        return f"--vary/--replications: {runs:,} runs; at most {MAX_RUNS:,} per sweep"
    return None


def _sweep(args: argparse.Namespace, vary: dict[str, list], starting: Future | None) -> int:
    from twin.safepath import output_folder
    from twin.scenario import load_scenario
    from twin.scenario_checks import held_unbilled
    from twin.scenario_spec import SEED_MAX
    from twin.sweep import PERCENTILE_SEEDS, files_fingerprint, run_task, scenario_files, summarise, tasks

    base = load_scenario(args.scenario)  # problems of the file itself exit 2 with their lines
    if base.spec.seed + args.replications - 1 > SEED_MAX:
        raise SweepError(
            f"--replications: seeds run from the scenario's {base.spec.seed} up, past the largest "
            f"({SEED_MAX}); lower the seed in {args.scenario} or the replications"
        )
    todo_all = tasks(vary, base.spec.seed, args.replications)
    points, files = set(), scenario_files(base)
    for task in todo_all:  # every grid point must be a valid scenario before any run starts
        if task.point not in points:
            points.add(task.point)
            point = load_scenario(args.scenario, dict(task.changes), flag="--vary {key}")
            files |= scenario_files(point)
            # As validate and simulate say it: a size that isolation rounds up holds GPUs no one pays.
            for _, message in held_unbilled(point.spec, point.sites):
                changes = ", ".join(f"{k}={v}" for k, v in task.changes)
                print(f"note, point {task.point} ({changes}): {message}", file=sys.stderr)
    made = not Path(args.out).exists()
    out = output_folder(args.out)
    scenario = str(Path(args.scenario).resolve())
    runs_dir = prepare(out, args.out, scenario, files_fingerprint(files))
    done = {p.stem for p in runs_dir.glob("*.json") if whole_run(p)}
    todo = [t for t in todo_all if t.name not in done]
    print(
        f"{len(todo_all)} runs: {len(todo_all) - len(todo)} already done, {len(todo)} to run", file=sys.stderr
    )
    bar = _bar(len(todo))
    try:
        for row, task in _execute(scenario, todo, args.scheduler, starting, run_task):
            write_json(runs_dir / f"{task.name}.json", row)
            if bar is not None:
                bar.update(1)
        rows = [json.loads((runs_dir / f"{t.name}.json").read_text()) for t in todo_all]
        summary = summarise(rows)
        write_together(
            {
                out / "summary.csv": summary.to_csv(index=False),
                out / "summary.json": json_text(summary.to_dict(orient="records")),
            }
        )
    except SweepError:  # no cluster, or a write refused: a folder this sweep made and ran nothing in goes
        if made and not any(runs_dir.iterdir()):
            shutil.rmtree(out, ignore_errors=True)
        raise
    finally:
        if bar is not None:
            bar.close()
    # With few seeds p5/p95 only interpolate between them: the range is shown instead.
    lo, hi = ("p5", "p95") if summary["runs"].min() >= PERCENTILE_SEEDS else ("min", "max")
    show = [
        c
        for c in ("utilization_mean", "margin_usd_mean", f"margin_usd_{lo}", f"margin_usd_{hi}")
        if c in summary
    ]
    print(summary[["point", *vary, "runs", *show]].to_string(index=False))
    print(f"wrote {out / 'summary.csv'}", file=sys.stderr)
    return 0


def _start_local_cluster(workers: int | None) -> Future:
    """Start a local cluster of ``workers`` processes (default: one per CPU) in a thread."""

    method = _start_fork_server()

    def start():
        import dask
        from dask.distributed import LocalCluster

        # A worker samples its running task's stack every 10 ms for the dashboard's profile, which a
        # local cluster without a dashboard never shows: no point paying for it. Its logs are quiet
        # below CRITICAL: a failed run reaches this process through its future, and what else a
        # worker says at a local cluster's close (a heartbeat racing the scheduler's shutdown) is
        # noise to the person running the sweep.
        config = {
            "distributed.worker.profile.enabled": False,
            "distributed.worker.multiprocessing-method": method,
        }
        with dask.config.set(config):
            return LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1,
                                processes=True, dashboard_address=None, silence_logs=50,
                                preload=["twin.simulate"])  # fmt: skip

    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sweep-cluster")
    starting = pool.submit(start)
    pool.shutdown(wait=False)  # the start goes on; the pool takes no more work
    return starting


def _start_fork_server() -> str:
    """Start the fork server the local workers will be forked from, now; return the start method.

    The server imports Dask and the twin and loads the twin's compiled loops once
    (:mod:`app.sweep_warm`), on another core while this process checks the scenario, so each
    worker is a fork that is ready at once; spawned workers would each import everything again,
    and load the compiled loops at their first run. Where there is no fork server (Windows),
    workers are spawned.
    """
    import multiprocessing
    from multiprocessing import forkserver

    if "forkserver" not in multiprocessing.get_all_start_methods():
        return "spawn"
    forkserver.set_forkserver_preload(["app.sweep_warm"])
    forkserver.ensure_running()
    return "forkserver"


def _execute(scenario: str, todo: list, scheduler: str | None, cluster: Future | None, run_task):
    """Yield (row, task) as runs finish: on the local ``cluster`` being started, on the Dask
    ``scheduler`` at that address, or (neither) in this process."""
    if not todo:
        return
    if scheduler is None and cluster is None:
        for task in todo:
            yield run_task(scenario, task), task
        return
    from dask.distributed import Client, as_completed

    if scheduler is not None:
        client = _connect(Client, scheduler)
    else:
        client = Client(cluster.result())
    try:
        futures = {client.submit(run_task, scenario, task, pure=False): task for task in todo}
        for future in as_completed(futures):
            yield future.result(), futures[future]
    finally:
        client.close()


def _connect(client_class, scheduler: str):
    """A Dask client of the scheduler at ``scheduler``, or SweepError within ~SCHEDULER_TIMEOUT_S.

    Dask's own timeout covers a refused connection but not a listener that accepts and never
    answers its handshake (it waited forever), so the connection is made in a thread that is
    given up on; any failure of the attempt (an unknown or unusable protocol too) is reported.
    """
    box: dict[str, object] = {}

    def connect() -> None:
        try:
            box["client"] = client_class(scheduler, timeout=SCHEDULER_TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001 (whatever the attempt raised is the answer)
            box["error"] = exc

    thread = threading.Thread(target=connect, name="dask-connect", daemon=True)
    thread.start()
    thread.join(SCHEDULER_TIMEOUT_S + 5)
    if "client" in box:
        return box["client"]
    why = "no answer in time" if thread.is_alive() else str(box.get("error")).splitlines()[0][:160]
    raise SweepError(
        f"--scheduler {scheduler}: no Dask scheduler answered ({why}); give its address as "
        "tcp://HOST:8786, and start one with 'dask scheduler'"
    )


def _bar(total: int):
    if not sys.stderr.isatty() or total == 0:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc="sweep", unit="run", file=sys.stderr)
