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
import os
import re
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import yaml

EXIT_USER_ERROR = 2
MAX_RUNS = 10_000
_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.([A-Za-z_][A-Za-z0-9_]*|[0-9]+))*$")


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
        path = path.strip()
        if not sep or not _PATH.match(path):
            raise ValueError(
                f"--vary {item[:60]!r}: write PATH=V1,V2 with a dotted path, e.g. leases.0.gpus=512,1024"
            )
        if path in vary:
            raise ValueError(f"--vary {path}: given twice; list all its values in one --vary")
        tokens = [t.strip() for t in values.split(",")]
        if not tokens or any(not t for t in tokens):
            raise ValueError(f"--vary {path}: empty value; separate values with commas, e.g. {path}=1,2")
        vary[path] = [yaml.safe_load(t) if t[0] not in "&*!|>%@`" else t for t in tokens]
    return vary


def cmd_sweep(args: argparse.Namespace) -> int:
    try:
        vary = parse_vary(args.vary)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USER_ERROR
    if args.replications < 1:
        print(f"--replications: at least 1, got {args.replications}", file=sys.stderr)
        return EXIT_USER_ERROR
    # A local cluster takes seconds to start; it starts while this process loads and checks the
    # scenario at every grid point, instead of after.
    starting = _start_local_cluster(args.workers) if args.scheduler is None and args.workers != 0 else None
    try:
        return _sweep(args, vary, starting)
    finally:
        if starting is not None and starting.exception() is None:
            starting.result().close()


def _sweep(args: argparse.Namespace, vary: dict[str, list], starting: Future | None) -> int:
    from twin.safepath import output_folder
    from twin.scenario import load_scenario
    from twin.sweep import run_task, summarise, tasks

    base = load_scenario(args.scenario)  # problems of the file itself exit 2 with their lines
    todo_all = tasks(vary, base.spec.seed, args.replications)
    if len(todo_all) > MAX_RUNS:
        print(
            f"--vary/--replications: {len(todo_all):,} runs; at most {MAX_RUNS:,} per sweep", file=sys.stderr
        )
        return EXIT_USER_ERROR
    seen_points = set()
    for task in todo_all:  # every grid point must be a valid scenario before any run starts
        if task.point not in seen_points:
            seen_points.add(task.point)
            load_scenario(args.scenario, dict(task.changes))
    out = output_folder(args.out)
    runs_dir = out / "runs"
    runs_dir.mkdir(exist_ok=True)
    done = {p.stem for p in runs_dir.glob("*.json")}
    todo = [t for t in todo_all if t.name not in done]
    print(
        f"{len(todo_all)} runs: {len(todo_all) - len(todo)} already done, {len(todo)} to run", file=sys.stderr
    )
    bar = _bar(len(todo))
    scenario = str(Path(args.scenario).resolve())
    for row, task in _execute(scenario, todo, args.scheduler, starting, run_task):
        _write_json(runs_dir / f"{task.name}.json", row)
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    rows = [json.loads((runs_dir / f"{t.name}.json").read_text()) for t in todo_all]
    summary = summarise(rows)
    summary.to_csv(out / "summary.csv", index=False)
    _write_json(out / "summary.json", summary.to_dict(orient="records"))
    show = [
        c for c in ("utilization_mean", "margin_usd_mean", "margin_usd_p5", "margin_usd_p95") if c in summary
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

    client = Client(scheduler or cluster.result())
    try:
        futures = {client.submit(run_task, scenario, task, pure=False): task for task in todo}
        for future in as_completed(futures):
            yield future.result(), futures[future]
    finally:
        client.close()


def _write_json(path: Path, data: object) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str))
    tmp.replace(path)  # a stopped sweep leaves whole files only


def _bar(total: int):
    if not sys.stderr.isatty() or total == 0:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc="sweep", unit="run", file=sys.stderr)
