"""The state of every server in a run, as numpy arrays, and the moves that change it.

The twin's unit of allocation is the *server* (an 8-GPU HGX box, or a 4-GPU NVL72 compute tray):
the thing a hardware failure takes out and a scheduler hands to a job. A run's campuses are
concatenated into one :class:`Fleet`: servers are laid out contiguously by rack and racks by pod,
so a pod is a slice of servers. Each server is in exactly one state:

* **down**   failed and under repair (``down_until`` > now), whoever it belonged to;
* **leased** carved out for a tenant lease (``lease`` >= 0) and healthy;
* **busy**   running internal work (``job`` >= 0 for training, ``INFERENCE`` for the fleet);
* **idle**   none of the above; the scheduler may place internal work on it.

Per-rack and per-hall counters of busy, leased and failed GPUs follow every move, so sampling a
time step is a few vector operations over racks, never a pass over servers. The busy and failed
counters are *journalled*: a one-server move (a failure, its stand-in, a small job) appends the
server to a list, and reading a counter folds the pending moves in with one vector operation.
Moves come hundreds of times more often than reads (a sample an hour), and a numpy scalar update
costs as much as folding a hundred moves at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import accumulate

import numpy as np

from twin.campus import Campus
from twin.kernels import (
    assign_servers,
    fail_one,
    fail_under_job,
    fold_moves,
    release_servers,
    repair_unleased,
    stand_in,
)
from twin.placement_kernels import first_idle

FREE = -1
SMALL = 8  # moves of up to this many servers are journalled one by one (cheaper than an array copy)
INFERENCE = -2
_NO_SERVERS = np.empty(0, dtype=np.int64)


@dataclass
class Fleet:
    campuses: list[Campus]
    gpu_type_names: list[str]
    # racks (global index)
    rack_site: np.ndarray
    rack_hall: np.ndarray  # global hall index
    rack_pod: np.ndarray  # global pod index
    rack_gpus: np.ndarray
    rack_max_kw: np.ndarray
    rack_idle_kw: np.ndarray
    hall_site: np.ndarray
    hall_names: list[str]  # "Site/B1/H1"
    # pods
    pod_site: np.ndarray
    pod_building: np.ndarray  # global building index
    pod_hall: np.ndarray
    pod_gpu_type: np.ndarray
    pod_first_server: np.ndarray  # length pods + 1
    pod_first_rack: np.ndarray
    pod_spine_gbps: np.ndarray  # per-rack share inside the pod (min over racks)
    pod_agg_gbps: np.ndarray  # per-rack share between pods of a building
    pod_core_gbps: np.ndarray  # per-rack share between buildings
    pod_gpus_per_server: np.ndarray
    # servers
    server_rack: np.ndarray
    server_pod: np.ndarray
    server_site: np.ndarray
    server_gpus: np.ndarray
    server_gpu_type: np.ndarray
    # state
    job: np.ndarray = field(init=False)
    lease: np.ndarray = field(init=False)
    down: np.ndarray = field(init=False)
    down_until: np.ndarray = field(init=False)
    pod_idle_servers: np.ndarray = field(init=False)
    rack_leased_gpus: np.ndarray = field(init=False)
    rack_tenant_busy_gpus: np.ndarray = field(init=False)  # leased GPUs x their tenant's utilisation
    lease_utilization: np.ndarray = field(default_factory=lambda: np.zeros(0))  # per lease index

    def __post_init__(self) -> None:
        n = self.server_rack.size
        self.job = np.full(n, FREE, dtype=np.int64)
        self.lease = np.full(n, FREE, dtype=np.int32)
        self.down = np.zeros(n, dtype=bool)
        self.down_until = np.zeros(n, dtype=np.float64)
        self.idle = np.ones(n, dtype=bool)  # not down, not leased, no internal work
        self.slot = np.zeros(n, dtype=np.int64)  # a training job's server: its index in job.servers
        self.pod_idle_servers = np.diff(self.pod_first_server).astype(np.int64)
        self.pod_open = np.ones(self.pod_site.size, dtype=bool)  # False: closed to new work (physics)
        racks = self.rack_gpus.size
        self._rack_busy = np.zeros(racks, dtype=np.int64)
        self.rack_leased_gpus = np.zeros(racks, dtype=np.int64)
        self._rack_failed = np.zeros(racks, dtype=np.int64)
        # Pending one-server moves: the server for +1, ~server for -1; and (servers, sign) arrays.
        self._busy_moves: list[int] = []
        self._busy_arrays: list[tuple[np.ndarray, int]] = []
        self._failed_moves: list[int] = []
        self.rack_tenant_busy_gpus = np.zeros(racks, dtype=np.float64)
        self._hall_counts = np.zeros((7, self.hall_site.size), dtype=np.float64)
        self.server_hall = self.rack_hall[self.server_rack]
        # Servers are laid out by rack: rack r's are rack_first_server[r] up to rack_first_server[r + 1].
        self.rack_first_server = np.concatenate(
            ([0], np.cumsum(np.bincount(self.server_rack, minlength=racks)))
        )
        self.server_dyn_kw_per_gpu = ((self.rack_max_kw - self.rack_idle_kw) / self.rack_gpus)[
            self.server_rack
        ]
        self.server_idle_kw_per_gpu = (self.rack_idle_kw / self.rack_gpus)[self.server_rack]
        # Idle GPUs per (site, GPU type) pool, kept with pod_idle_servers so that deciding whether
        # a scheduling pass could start anything costs O(pools), not a pass over pods.
        self._need_cache: dict[int, np.ndarray] = {}
        self.pod_pool_key = self.pod_site.astype(np.int64) * 64 + self.pod_gpu_type
        # Python-list mirrors for the one-server moves of the failure path (no numpy scalars).
        self.server_pod_l = self.server_pod.tolist()
        self._pod_pool_l = self.pod_pool_key.tolist()
        self._pod_gps_l = self.pod_gpus_per_server.tolist()
        self.pod_first_server_l = self.pod_first_server.tolist()
        self.pod_site_l = self.pod_site.tolist()
        self.pod_gpu_type_l = self.pod_gpu_type.tolist()
        # What the slowdown of a gang over several pods reads (twin.kernels.spread_pods).
        self.fabric_arrays = (self.pod_building, self.pod_spine_gbps, self.pod_agg_gbps, self.pod_core_gbps)
        self.pool_idle_gpus = np.bincount(
            self.pod_pool_key, weights=self.pod_idle_servers * self.pod_gpus_per_server
        ).astype(np.int64)
        self.pool_leased_gpus = np.zeros(self.pool_idle_gpus.size, dtype=np.int64)  # healthy leased GPUs
        # What a change of a server's idle flag touches, for the compiled moves (twin.kernels): the
        # same arrays, changed in place, never rebound.
        self.idle_book = (
            self.idle, self.server_pod, self.pod_idle_servers, self.pod_pool_key, self.pod_gpus_per_server,
            self.pool_idle_gpus,
        )  # fmt: skip

    # -- sizes -------------------------------------------------------------------------------
    @property
    def servers(self) -> int:
        return int(self.server_rack.size)

    @property
    def racks(self) -> int:
        return int(self.rack_gpus.size)

    @property
    def pods(self) -> int:
        return int(self.pod_site.size)

    @property
    def gpus(self) -> int:
        return int(self.rack_gpus.sum())

    def site_index(self, name: str) -> int:
        return [c.name for c in self.campuses].index(name)

    def gpu_kw(self, site: int, gpu_type: int) -> tuple[float, float]:
        """Idle and dynamic (max - idle) IT kW per GPU of one (site, GPU type), over its racks."""
        racks = (self.rack_site == site) & (self.pod_gpu_type[self.rack_pod] == gpu_type)
        gpus = self.rack_gpus[racks].sum()
        if gpus == 0:
            return 0.0, 0.0
        idle = self.rack_idle_kw[racks].sum() / gpus
        return float(idle), float(self.rack_max_kw[racks].sum() / gpus - idle)

    def pod_servers(self, pod: int) -> slice:
        return slice(self.pod_first_server_l[pod], self.pod_first_server_l[pod + 1])

    @property
    def pod_pool(self) -> np.ndarray:
        """A key per pod for its (site, GPU type) pool; jobs never span pools."""
        return self.pod_pool_key

    def servers_needed(self, gpus: int) -> np.ndarray:
        """Servers a gang of ``gpus`` GPUs needs in each pod (cached: job sizes repeat)."""
        need = self._need_cache.get(gpus)
        if need is None:
            need = self._need_cache[gpus] = -(-gpus // self.pod_gpus_per_server)
        return need

    def _idle_set(self, servers: np.ndarray | int, delta: int) -> None:
        """Servers become idle (delta 1) or stop being idle (-1): flags and pod/pool counts."""
        self.idle[servers] = delta > 0
        if isinstance(servers, int):
            self._idle_add1(self.server_pod_l[servers], delta)
        else:
            self._idle_add(self.server_pod[servers], delta)

    def _idle_add(self, pods: np.ndarray, delta: int) -> None:
        if pods.size == 0:
            return
        first = int(pods[0])
        if first == pods[-1] and (pods == first).all():
            # Most moves are one job's servers in one pod: two scalar updates, not two bincounts.
            self.pod_idle_servers[first] += delta * pods.size
            self.pool_idle_gpus[self._pod_pool_l[first]] += delta * pods.size * self._pod_gps_l[first]
            return
        per_pod = np.bincount(pods, minlength=self.pod_idle_servers.size)
        self.pod_idle_servers += delta * per_pod
        self.pool_idle_gpus += delta * np.bincount(
            self.pod_pool_key, weights=per_pod * self.pod_gpus_per_server, minlength=self.pool_idle_gpus.size
        ).astype(np.int64)

    def _idle_add1(self, pod: int, delta: int) -> None:
        self.pod_idle_servers[pod] += delta
        self.pool_idle_gpus[self._pod_pool_l[pod]] += delta * self._pod_gps_l[pod]

    def idle_in_pod(self, pod: int, n: int) -> np.ndarray:
        """The first ``n`` idle servers of ``pod`` (fewer if it has fewer)."""
        return first_idle(self.idle, self.pod_first_server_l[pod], self.pod_first_server_l[pod + 1], n)

    # -- counters ------------------------------------------------------------------------------
    # Every move below goes through these, so the per-rack and per-hall counters stay a true
    # recount of the server arrays (tests/test_invariants.py checks that at every sample).
    @property
    def rack_busy_gpus(self) -> np.ndarray:
        self._fold()
        return self._rack_busy

    @property
    def rack_failed_gpus(self) -> np.ndarray:
        self._fold()
        return self._rack_failed

    @property
    def hall_counts(self) -> np.ndarray:
        """Per hall: busy, leased, failed GPUs; dynamic kW per GPU summed over busy GPUs and over
        tenant-busy GPUs; the idle kW share of leased GPUs; the idle kW of failed GPUs (not drawn)."""
        self._fold()
        return self._hall_counts

    def _busy(self, server: int, sign: int) -> None:
        self._busy_moves.append(server if sign > 0 else ~server)

    def _busy_many(self, servers: np.ndarray, sign: int) -> None:
        if servers.size <= SMALL:  # as one-server moves: a list append beats an array's copy
            self._busy_moves.extend(servers.tolist() if sign > 0 else (~servers).tolist())
        else:
            self._busy_arrays.append((servers.copy(), sign))  # callers patch job.servers in place

    def _failed(self, server: int, sign: int) -> None:
        self._failed_moves.append(server if sign > 0 else ~server)

    def _fold(self) -> None:
        """Apply the journalled busy and failed moves to the rack and hall counters."""
        if self._busy_moves or self._busy_arrays:
            # Hall rows: busy GPUs, and their dynamic kW per GPU summed.
            self._apply(
                self._busy_moves, self._busy_arrays, self._rack_busy, 0, 3, self.server_dyn_kw_per_gpu
            )
        if self._failed_moves:
            # A server out of service (repair, outage, powered off in a curtailment) draws nothing:
            # its idle kW is counted, to be taken off the hall's idle draw.
            self._apply(self._failed_moves, [], self._rack_failed, 2, 6, self.server_idle_kw_per_gpu)

    def _apply(self, moves: list[int], arrays: list[tuple[np.ndarray, int]], per_rack: np.ndarray,
               gpus_row: int, kw_row: int, kw_per_gpu: np.ndarray) -> None:  # fmt: skip
        """Empty a journal (coded one-server moves, blocks of servers) into the counters."""
        coded = np.array(moves, dtype=np.int64)
        blocks = np.concatenate([a for a, _ in arrays]) if arrays else _NO_SERVERS
        # np.fromiter: np.cumsum of a short list spends twice as long converting it (a fold every sample).
        ends = np.fromiter(accumulate(a.size for a, _ in arrays), dtype=np.int64, count=len(arrays))
        signs = np.fromiter((sign for _, sign in arrays), dtype=np.int64, count=len(arrays))
        moves.clear()
        arrays.clear()
        fold_moves(coded, blocks, ends, signs, self.server_gpus, self.server_rack, self.server_hall,
                   kw_per_gpu, per_rack, self._hall_counts, gpus_row, kw_row)  # fmt: skip

    def _leased(self, servers: np.ndarray | int, sign: int, util: np.ndarray | float) -> None:
        gpus = self.server_gpus[servers] * sign
        if isinstance(servers, (int, np.integer)):
            self.rack_leased_gpus[self.server_rack[servers]] += gpus
            self.pool_leased_gpus[self._pod_pool_l[self.server_pod_l[servers]]] += gpus
            self.rack_tenant_busy_gpus[self.server_rack[servers]] += gpus * util
            hall = self.server_hall[servers]
            self._hall_counts[1, hall] += gpus
            self._hall_counts[4, hall] += gpus * util * self.server_dyn_kw_per_gpu[servers]
            self._hall_counts[5, hall] += gpus * self.server_idle_kw_per_gpu[servers]
            return
        racks, halls = self.server_rack[servers], self.server_hall[servers]
        np.add.at(self.rack_leased_gpus, racks, gpus)
        np.add.at(self.pool_leased_gpus, self.pod_pool_key[self.server_pod[servers]], gpus)
        np.add.at(self.rack_tenant_busy_gpus, racks, gpus * util)
        n = self._hall_counts.shape[1]
        self._hall_counts[1] += np.bincount(halls, weights=gpus, minlength=n)
        self._hall_counts[4] += np.bincount(
            halls, weights=gpus * util * self.server_dyn_kw_per_gpu[servers], minlength=n
        )
        self._hall_counts[5] += np.bincount(
            halls, weights=gpus * self.server_idle_kw_per_gpu[servers], minlength=n
        )

    # -- moves -----------------------------------------------------------------------------------
    def assign_internal(self, servers: np.ndarray, owner: int) -> None:
        """Give idle servers to internal work (a training job id, or an inference owner); each
        server's ``slot`` becomes its index in ``servers``."""
        assign_servers(servers, owner, self.job, self.slot, self.idle_book)
        self._busy_many(servers, 1)

    def release_internal(self, servers: np.ndarray) -> None:
        """Internal work leaves these servers (healthy ones become idle; down ones stay down)."""
        up = release_servers(servers, self.job, self.down, self.lease, self.idle_book)
        self._busy_many(up, -1)

    def assign_lease(self, servers: np.ndarray, lease: int) -> None:
        """Carve healthy, idle servers out for a lease."""
        self.lease[servers] = lease
        self._leased(servers, 1, self.lease_utilization[lease])
        self._idle_set(servers, -1)

    def release_lease(self, servers: np.ndarray) -> None:
        """Servers leave a lease; healthy ones become idle."""
        if servers.size == 0:
            return
        up = servers[~self.down[servers]]
        self._leased(up, -1, self.lease_utilization[self.lease[up]])
        self.lease[servers] = FREE
        self._idle_set(up, 1)

    def fail(self, server: int, until: float) -> tuple[int, int]:
        """Take a server down; return its (job, lease) at the moment it failed.

        The server keeps its lease (a lease's racks stay the tenant's while repaired) but loses
        its internal job: the caller interrupts that job, which releases the rest.
        """
        server = int(server)
        job, lease, was_up = fail_one(server, until, self.down, self.down_until, self.job, self.lease,
                                      self.idle_book)  # fmt: skip
        if not was_up:
            return FREE, FREE
        self._journal_down(server, lease, job != FREE)
        return job, lease

    def _journal_down(self, server: int, lease: int, was_busy: bool) -> None:
        """Journal a server gone out of service: failed, and no longer leased or busy."""
        self._failed(server, 1)
        if lease != FREE:
            self._leased(server, -1, self.lease_utilization[lease])
        elif was_busy:
            self._busy(server, -1)

    def fail_under_job(self, server: int, until: float, pods: np.ndarray) -> tuple[int, int, int]:
        """:meth:`fail` a server of a running job, then :meth:`stand_in` for it, in one compiled
        call; return the server's lease, the stand-in (-1: none) and the stand-in's slot."""
        lease, spare, slot = fail_under_job(server, until, pods, self.down, self.down_until, self.job, self.lease,
                                            self.slot, self.pod_first_server, self.idle_book)  # fmt: skip
        self._journal_down(server, lease, True)
        if spare >= 0:
            self._busy(spare, 1)
        return lease, spare, slot

    def stand_in(self, lost: int, pods: np.ndarray, owner: int) -> tuple[int, int]:
        """An idle server in ``pods`` (the lost server's own first) takes the lost one's place in
        internal work ``owner``; return it and its slot, or (-1, -1) if there is none."""
        spare, slot = stand_in(lost, pods, owner, self.job, self.slot, self.pod_first_server, self.idle_book)
        if spare >= 0:
            self._busy(spare, 1)
        return spare, slot

    def repair(self, server: int) -> int:
        """Bring a server back; return the lease it belongs to (FREE if none: it is idle)."""
        server = int(server)
        if not self.down[server]:
            return int(self.lease[server])
        self.down[server] = False
        self._failed(server, -1)
        lease = int(self.lease[server])
        if lease != FREE:
            self._leased(server, 1, self.lease_utilization[lease])
        else:
            self._idle_set(server, 1)
        return lease

    def repair_due(self, servers: np.ndarray, start: int, now: float) -> int:
        """Repair servers due ``now`` from ``servers[start]`` on, in order, up to the first one of a
        lease; return its index (``servers.size`` if none)."""
        repaired = np.empty(servers.size - start, dtype=np.int64)
        stop, n = repair_unleased(
            servers, start, now, self.down, self.down_until, self.lease, self.idle_book, repaired
        )
        self._failed_moves.extend((~repaired[:n]).tolist())
        return stop
