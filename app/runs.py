"""Running scenarios for the console: a process pool, progress, cancel, and a results cache.

A run of the twin is pure CPU for a fraction of a second (the demo) to a minute (both campuses
for a year). On the server's event loop it would freeze every session; in a thread it would still
hold the GIL. So runs go to worker processes (``spawn``: the server has threads, ``fork`` would
copy their locks), and the event loop only awaits a future.

Progress and cancel cross the process boundary through one shared array, not messages: run ``k``
owns slot ``k`` of ``progress`` (the worker writes its share done) and of ``cancel`` (the server
writes 1; the worker's progress callback raises :class:`RunCancelled` at its next report, about
every 0.5 % of the horizon). Slots are few on purpose: they bound how many runs can wait.

A run is named by the SHA-256 of its scenario text, its folder and the stamp (names, sizes and
modification times) of the site and trace files beside it; same key, same results, because the
twin is deterministic by seed. Results are kept in memory (a small LRU) and, optionally, on disk
as the Parquet + JSON of :meth:`twin.results.Results.write`, so a year of both campuses is
simulated once per change of its inputs, not once per visit.
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import multiprocessing as mp
import os
import re
import shutil
import stat
import tempfile
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from app.library import code_version
from twin.results import Results

#: a run's key (:func:`run_key`): the only names the disk cache reads, whatever a URL holds
POOL_KEY = re.compile(r"[0-9a-f]{64}")


class RunCancelled(Exception):
    """Raised inside a worker when its run was cancelled."""


class PoolBusy(Exception):
    """Too many runs are waiting; the message says what to do."""


@dataclass
class RunOutcome:
    """What came back from a run: results, or the problems that stopped it (validation, cancel)."""

    key: str
    results: Results | None = None
    problems: list[str] = field(default_factory=list)
    cancelled: bool = False
    cached: bool = False
    #: the lease optimiser's offers (:class:`twin.fit_lease.Offer`), for a fit job
    offers: list | None = None


# ----------------------------------------------------------------------------------- worker side

_shared = None  # the worker's view of RunPool._shared, set once by the pool initializer


def _init_worker(shared) -> None:
    global _shared
    _shared = shared
    # A server killed outright (SIGKILL, OOM) cannot stop its workers; they notice that they
    # were orphaned and leave, rather than hold a core and their memory forever.
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), name="parent-watch", daemon=True).start()
    # Runs are batch work; page loads and clicks are not. A lower priority lets the OS give the
    # server and the browsers the CPU first when a machine has no core to spare.
    if hasattr(os, "nice"):
        os.nice(10)
    # Import the twin now, while the worker is idle, so the first run does not pay for it.
    import twin.simulate  # noqa: F401


def _exit_with_parent(parent: int, every_s: float = 1.0) -> None:
    while True:
        time.sleep(every_s)
        if os.getppid() != parent:
            os._exit(0)


def _warm(scenario: str | None) -> bool:
    """Import the twin and run a day of a small scenario, so the twin's compiled loops are built
    (once per machine, about 13 s here; see README, Benchmarks) or loaded from their cache before
    anyone's first run needs them."""
    from twin.scenario import load_scenario
    from twin.simulate import simulate

    if scenario and Path(scenario).is_file():
        simulate(load_scenario(scenario, {"days": 1}))
    return True


def _run_in_worker(slot: int, slots: int, text: str, folder: str, key: str) -> RunOutcome:
    from twin.errors import ProblemList
    from twin.scenario import load_scenario_text
    from twin.simulate import simulate

    def report(done: float) -> None:
        _shared[slot] = done
        if _shared[slots + slot]:
            raise RunCancelled()

    try:
        scenario = load_scenario_text(text, folder)
        results = simulate(scenario, progress=report)
    except ProblemList as exc:
        return RunOutcome(key, problems=[str(p) for p in exc.problems])
    except RunCancelled:
        return RunOutcome(key, cancelled=True, problems=["cancelled"])
    return RunOutcome(key, results=results)


def _fit_in_worker(
    slot: int, slots: int, text: str, folder: str, key: str, lease: str, targets: dict
) -> RunOutcome:
    """The lease optimiser (:func:`twin.fit_lease.fit_lease`) on a scenario, in a worker."""
    from twin.errors import ProblemList
    from twin.fit_lease import Targets, fit_lease
    from twin.scenario import load_scenario_text

    def report(_message: str, share: float) -> None:
        _shared[slot] = share
        if _shared[slots + slot]:
            raise RunCancelled()

    try:
        offers = fit_lease(load_scenario_text(text, folder), lease, Targets(**targets), progress=report)
    except ProblemList as exc:
        return RunOutcome(key, problems=[str(p) for p in exc.problems])
    except ValueError as exc:  # no such lease
        return RunOutcome(key, problems=[str(exc)])
    except RunCancelled:
        return RunOutcome(key, cancelled=True, problems=["cancelled"])
    return RunOutcome(key, offers=offers)


# ----------------------------------------------------------------------------------- server side


def files_stamp(folder: Path) -> list[tuple[str, int, int]]:
    """Names, sizes and mtimes of the inputs a scenario in ``folder`` can read (sites, traces)."""
    found = []
    for base in (folder, folder.parent):
        for sub in ("", "traces"):
            d = base / sub
            if d.is_dir():
                for p in sorted(d.iterdir()):
                    # Hidden files are no input: an upload being checked (.upload-*.yaml) is one,
                    # and may be gone before it is looked at.
                    if p.name.startswith(".") or p.suffix not in (".yaml", ".yml", ".csv"):
                        continue
                    try:
                        st = p.stat()
                    except FileNotFoundError:  # removed since the listing: not an input now
                        continue
                    if stat.S_ISREG(st.st_mode):
                        found.append((str(p), st.st_size, st.st_mtime_ns))
    return found


def run_key(text: str, folder: Path) -> str:
    """The cache key of a run: the scenario text, its folder's files, and the twin's code version
    (a changed twin must not serve results its older self computed)."""
    h = hashlib.sha256()
    h.update(code_version().encode())
    h.update(text.encode())
    h.update(str(folder.resolve()).encode())
    for name, size, mtime in files_stamp(folder):
        h.update(f"{name}\0{size}\0{mtime}\n".encode())
    return h.hexdigest()


@dataclass(eq=False)
class _Run:
    """One run in the pool, shared by every session that asked for the same scenario."""

    key: str
    future: cf.Future
    slot: int | None = None
    sharers: int = 1
    #: set once the run is over *and* its results are in the cache (so a link to them works)
    settled: threading.Event = field(default_factory=threading.Event)


@dataclass(eq=False)
class RunHandle:
    """A run as one session sees it: its progress, its end, and this session's cancel.

    Cancelling withdraws this session only; the run stops when no session wants it any more.
    """

    key: str
    run: _Run
    pool: RunPool
    withdrawn: bool = False

    @property
    def future(self) -> cf.Future:
        return self.run.future

    @property
    def progress(self) -> float:
        if self.done():
            return 1.0
        return self.pool.progress_of(self.run.slot)

    def cancel(self) -> None:
        self.pool.cancel(self)

    def done(self) -> bool:
        return self.withdrawn or self.run.settled.is_set()


class RunPool:
    """Worker processes for scenario runs, shared by every session of one server.

    ``workers`` processes run at once; at most ``slots`` runs may be queued or running, beyond
    which :meth:`submit` raises :class:`PoolBusy`. ``cache_dir`` keeps results on disk; memory
    keeps the last ``memory_cache`` (a year of both campuses is 118 MB of tables, measured).
    """

    def __init__(
        self, workers: int = 1, slots: int = 32, memory_cache: int = 6, cache_dir: Path | None = None
    ):
        ctx = mp.get_context("spawn")
        self.slots = slots
        self._shared = ctx.Array("d", 2 * slots, lock=False)
        self._executor = cf.ProcessPoolExecutor(
            max_workers=workers, mp_context=ctx, initializer=_init_worker, initargs=(self._shared,)
        )
        self._free = list(range(slots))
        self._lock = threading.Lock()
        self._running: dict[str, _Run] = {}
        self._memory: OrderedDict[str, Results] = OrderedDict()
        self._memory_cache = memory_cache
        self.cache_dir = cache_dir

    def warm(self, scenario: Path | None = None) -> cf.Future:
        """Start the workers now (they import the twin and run a day of ``scenario``), so the
        first what-if is not slow."""
        return self._executor.submit(_warm, str(scenario) if scenario else None)

    def shutdown(self, wait_s: float = 0.0) -> None:
        """Stop every run and take no more; with ``wait_s``, wait up to that long for the workers.

        A process about to exit waits: CPython 3.11's exit hook for process pools writes to the
        pool's wake-up pipe, which the pool's own thread may be closing at that very moment
        (``OSError: Bad file descriptor`` traced at exit, about one stop in twenty here). Once
        that thread has ended, the hook leaves the pipe alone. Runs stop at their next check of
        the stop flag set here, so the wait is short.
        """
        for handle in list(self._running.values()):
            handle.cancel()
        # Taken before shutdown(), which forgets it when it does not wait.
        manager = getattr(self._executor, "_executor_manager_thread", None)
        self._executor.shutdown(wait=False, cancel_futures=True)
        if wait_s > 0 and manager is not None:
            manager.join(wait_s)

    # -- cache ----------------------------------------------------------------------------------

    def cached(self, key: str) -> Results | None:
        with self._lock:
            if key in self._memory:
                self._memory.move_to_end(key)
                return self._memory[key]
        if (
            POOL_KEY.fullmatch(key)
            and self.cache_dir is not None
            and (self.cache_dir / key / "kpis.json").is_file()
        ):
            try:
                results = Results.read(self.cache_dir / key)
            except (OSError, ValueError):  # a damaged entry is recomputed, not fatal
                return None
            self.remember(key, results)
            return results
        return None

    def remember(self, key: str, results: Results) -> None:
        """Keep ``results`` in the memory cache under ``key`` (a run from elsewhere, e.g. the library)."""
        with self._lock:
            self._memory[key] = results
            self._memory.move_to_end(key)
            while len(self._memory) > self._memory_cache:
                self._memory.popitem(last=False)

    def _store(self, key: str, results: Results) -> None:
        self.remember(key, results)
        if self.cache_dir is None:
            return
        final = self.cache_dir / key
        if final.exists():
            return
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{key[:12]}-", dir=self.cache_dir))
        try:
            results.write(tmp)
            tmp.rename(final)  # atomic: a reader sees a whole entry or none
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)

    # -- runs -----------------------------------------------------------------------------------

    def submit(self, text: str, folder: Path) -> RunHandle:
        """Run a scenario (YAML text, site paths relative to ``folder``), or reuse a run of it."""
        key = run_key(text, folder)
        results = self.cached(key)
        if results is not None:
            done: cf.Future = cf.Future()
            done.set_result(RunOutcome(key, results=results, cached=True))
            run = _Run(key, done)
            run.settled.set()
            return RunHandle(key, run, self)
        return self._start(key, _run_in_worker, text, str(folder), key)

    def submit_fit(self, text: str, folder: Path, lease: str, targets: dict) -> RunHandle:
        """Run the lease optimiser on a scenario in a worker; its outcome carries the offers.

        ``targets`` are :class:`twin.fit_lease.Targets` fields. Not cached: a search is asked
        for on purpose, and two sessions asking the same one at once share it.
        """
        h = hashlib.sha256(f"fit\0{lease}\0{sorted(targets.items())}\0".encode())
        h.update(run_key(text, folder).encode())
        key = h.hexdigest()
        return self._start(key, _fit_in_worker, text, str(folder), key, lease, targets)

    def _start(self, key: str, fn, *args) -> RunHandle:
        with self._lock:
            if key in self._running:  # the same request from another session: share the run
                run = self._running[key]
                run.sharers += 1
                return RunHandle(key, run, self)
            if not self._free:
                raise PoolBusy(
                    f"{self.slots} runs are already queued or running; wait for one to finish or cancel one"
                )
            slot = self._free.pop()
            self._shared[slot] = 0.0
            self._shared[self.slots + slot] = 0.0
            future = self._executor.submit(fn, slot, self.slots, *args)
            run = _Run(key, future, slot)
            self._running[key] = run
        future.add_done_callback(lambda f: self._finished(run, f))
        return RunHandle(key, run, self)

    def _finished(self, run: _Run, future: cf.Future) -> None:
        try:
            self._settle(run, future)
        finally:
            run.settled.set()

    def _settle(self, run: _Run, future: cf.Future) -> None:
        with self._lock:
            self._running.pop(run.key, None)
            if run.slot is not None:
                self._free.append(run.slot)
                run.slot = None
        if future.cancelled() or future.exception() is not None:
            return
        outcome: RunOutcome = future.result()
        if outcome.results is not None:
            self._store(run.key, outcome.results)

    def progress_of(self, slot: int | None) -> float:
        return 0.0 if slot is None else float(self._shared[slot])

    def cancel(self, handle: RunHandle) -> None:
        """Withdraw ``handle``'s session; stop the run once no session wants it."""
        run = handle.run
        with self._lock:
            if handle.withdrawn:
                return
            handle.withdrawn = True
            run.sharers -= 1
            if run.sharers > 0:
                return
            if run.slot is not None:
                self._shared[self.slots + run.slot] = 1.0
        run.future.cancel()  # succeeds only while it is still waiting for a worker


def outcome_of(handle: RunHandle) -> RunOutcome:
    """The handle's outcome once done, with a worker crash or pool cancel told as a problem."""
    if handle.withdrawn or handle.future.cancelled():
        return RunOutcome(handle.key, cancelled=True, problems=["cancelled"])
    exc = handle.future.exception()
    if exc is not None:
        return RunOutcome(handle.key, problems=[f"the run failed: {type(exc).__name__}: {exc}"])
    return handle.future.result()
