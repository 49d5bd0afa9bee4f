"""An inference fleet's held servers: losses leave holes, yet the fleet gives back what it took last.

The list must behave exactly like the plain list it replaced (filter out lost servers, append
what is taken, give back the tail), whatever mix of moves and losses comes (hypothesis).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from twin.held import HeldServers

MOVES = st.lists(
    st.tuples(st.sampled_from(["add", "lose", "drop"]), st.integers(min_value=0, max_value=40)),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(MOVES, st.integers(min_value=0, max_value=2**32 - 1))
def test_held_servers_behave_as_a_filtered_list(moves: list[tuple[str, int]], seed: int) -> None:
    rng = np.random.default_rng(seed)
    fleet = SimpleNamespace(slot=np.full(500, -7, dtype=np.int64))
    held, plain = HeldServers(fleet), []
    free = list(rng.permutation(500))
    for move, k in moves:
        if move == "add":
            taken = np.array([free.pop() for _ in range(min(k, len(free)))], dtype=np.int64)
            held.add(taken)
            plain.extend(taken.tolist())
        elif move == "lose" and plain:
            lost = rng.choice(plain, size=min(k, len(plain)), replace=False).tolist()
            held.lose(lost)
            plain = [s for s in plain if s not in set(lost)]
            free.extend(lost)
        elif move == "drop":
            n = min(k, len(plain))
            dropped = held.drop_last(n)
            assert dropped.tolist() == (plain[len(plain) - n :] if n else [])
            plain = plain[: len(plain) - n]
            free.extend(dropped.tolist())
        assert held.alive().tolist() == plain and held.count == len(plain)
        assert held.holes * 4 <= held.servers.size  # compacted once holes reach a quarter
        places = np.flatnonzero(held.servers != -1)
        assert (fleet.slot[held.servers[places]] == places).all()  # each server knows its place
