"""The servers an internal inference fleet holds, in the order it took them.

An inference fleet follows a daily curve: each hour it takes idle servers (appended) or gives
back the ones it took last. Meanwhile failures, shedding and lease carve-outs take single servers
from it, about every hour on a fleet of ~35k servers. Re-filtering the whole list after each such
loss cost a pass over it; instead a lost server leaves a hole (-1) at its place, found through the
fleet's ``slot`` array, and the list is compacted whenever holes make up over a quarter of it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from twin.fleet import Fleet

HOLE = -1


class HeldServers:
    """One inference fleet's servers (``servers``, with holes) and how many it holds (``count``)."""

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        self._buffer = np.empty(1024, dtype=np.int64)  # grows by doubling: an hour's growth is not a copy
        self.servers = self._buffer[:0]  # in the order taken; HOLE where one was lost
        self.holes = 0

    @property
    def count(self) -> int:
        """Servers held now."""
        return self.servers.size - self.holes

    def alive(self) -> np.ndarray:
        """The servers held now, in the order taken."""
        return self.servers[self.servers != HOLE] if self.holes else self.servers

    def add(self, taken: np.ndarray) -> None:
        """Servers just given to the fleet go to the end; each server's ``slot`` is its place."""
        n = self.servers.size
        if n + taken.size > self._buffer.size:
            grown = np.empty(max(2 * self._buffer.size, n + taken.size), dtype=np.int64)
            grown[:n] = self.servers
            self._buffer = grown
        self._buffer[n : n + taken.size] = taken
        self.servers = self._buffer[: n + taken.size]
        self.fleet.slot[taken] = np.arange(n, n + taken.size)

    def lose(self, servers: list[int]) -> None:
        """Servers the fleet no longer holds (failed, shed, carved out for a lease)."""
        self.servers[self.fleet.slot[servers]] = HOLE
        self.holes += len(servers)
        self._compact_if_holey()

    def _compact_if_holey(self) -> None:
        if self.holes * 4 > self.servers.size:
            alive = self.alive()
            self._buffer[: alive.size] = alive  # alive is a copy: safe to write over the buffer
            self.servers = self._buffer[: alive.size]
            self.fleet.slot[self.servers] = np.arange(self.servers.size)
            self.holes = 0

    def drop_last(self, n: int) -> np.ndarray:
        """Stop holding the last ``n`` servers taken; return them, in order."""
        if n <= 0:
            return self.servers[:0]
        if self.holes == 0:
            cut = self.servers.size - n
        else:  # the last n servers lie within the last n + holes places
            window = self.servers[max(0, self.servers.size - n - self.holes) :]
            alive_from_end = np.cumsum(window[::-1] != HOLE)
            cut = self.servers.size - int(np.searchsorted(alive_from_end, n) + 1)
        tail = self.servers[cut:]
        dropped = tail[tail != HOLE]
        self.holes -= tail.size - dropped.size
        self.servers = self.servers[:cut]
        self._compact_if_holey()
        return dropped
