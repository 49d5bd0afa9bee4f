"""Queueing for hosted models: one step of a model service, computed, never simulated per request.

A replica of a hosted model is a group of GPUs running one copy of the model. It has a prefill
rate (input tokens per second) and a decode rate (output tokens per second, summed over the
sequences it batches), and it serves up to ``concurrency`` requests at once. A request of ``i``
input and ``o`` output tokens therefore costs ``i / prefill + o / decode`` *replica-seconds* of
work: the currency in which demand and capacity are compared here.

A step of ``dt`` seconds is served in two layers:

* **the fluid layer** (conservation): the backlog carried in and the step's arrivals share the
  step's capacity (replica-seconds actually up, failures and start-ups included). Whatever does
  not fit stays queued, except what could not start within the client timeout even after the
  step: that is dropped. Requests and tokens move in proportion, so requested = served +
  dropped + still queued holds exactly, for requests and for both kinds of token.
* **the M/M/c layer** (latency): within the step, arrivals meet ``c = replicas x concurrency``
  slots. Erlang C gives the chance a request waits; its wait is then exponential with rate
  ``c mu - lambda``. With a real-valued ``c`` (replicas up only part of the step) Erlang's
  formula is taken through the incomplete gamma function, its standard continuous extension.
* **the prefill queue** (latency): once in a slot, a request's first token comes at the end of
  its prefill. Servers such as vLLM and TensorRT-LLM schedule prefills ahead of decoding, so a
  new prompt waits for the batch's current decode iteration (``concurrency`` output tokens at
  the decode rate) and for the prompts ahead of it, not for the other requests' answers. Each
  replica's prefills are an M/M/1 queue: with ``rho`` the share of the replica's time spent on
  prefill, a prompt's prefill finishes after an exponential time of mean ``prefill / (1 - rho)``.
  At 40 % prefill load the p95 is five times the bare prefill; taking the bare prefill alone
  gave a p95 TTFT of 25 ms for a 70B model, far below what such services report.

TTFT = backlog wait + one decode iteration (counted whole: ~11 ms for the sample 70B model) + slot
wait + prefill response. The last two are random: the slot wait is 0, or exponential with the
Erlang C probability, and the prefill response is exponential. The share of requests within the
TTFT target and the p95 both come from the exact tail of their sum (the p95 by bisection).

Everything here falls as replicas are added at a fixed demand: the backlog, the chance of waiting
and the wait's tail. So more replicas never raise the p95 TTFT (tests/test_hosted.py checks it).
"""

from __future__ import annotations

import math
from typing import NamedTuple

from scipy.special import gammaincc

P95_TAIL = 0.05
P95_STEPS = 40  # bisection halvings: a minute's bracket to ~1e-10 s
NEGLIGIBLE_WAIT = 1e-9  # a chance of waiting for a slot below which the p95 is the prefill's


def erlang_c(servers: float, offered_erlangs: float) -> float:
    """Probability that an arrival waits in an M/M/c queue (1.0 when it is overloaded)."""
    c, a = servers, offered_erlangs
    if a <= 0:
        return 0.0
    if c <= a:
        return 1.0
    # Erlang B = Poisson pmf(c; a) / cdf(c; a), both through the gamma function (real c allowed).
    log_pmf = c * math.log(a) - a - math.lgamma(c + 1.0)
    cdf = float(gammaincc(c + 1.0, a))
    if cdf <= 0.0:
        return 1.0
    b = math.exp(log_pmf) / cdf
    return min(1.0, c * b / (c - a * (1.0 - b)))


class StepOutcome(NamedTuple):
    served_share: float  # of backlog + arrivals, served this step
    dropped_share: float  # of backlog + arrivals, dropped (would wait past the timeout)
    ttft_p95_s: float  # p95 time to first token of the step's arrivals (timeout if none served)
    within_target_share: float  # of the step's arrivals, answered within the TTFT target


def serve_step(
    backlog_work_s: float,
    arrivals: float,
    arrival_work_s: float,
    capacity_replica_s: float,
    replicas_at_end: float,
    step_s: float,
    concurrency: int,
    prefill_s: float,
    timeout_s: float,
    target_s: float,
    decode_step_s: float = 0.0,
) -> StepOutcome:
    """Serve one step; works in replica-seconds (see the module docstring).

    ``prefill_s`` is a mean prompt's prefill on an otherwise idle replica; ``decode_step_s`` one
    decode iteration of a full batch.
    """
    total = backlog_work_s + arrival_work_s
    served = 1.0 if total <= 0 else min(1.0, capacity_replica_s / total)
    left = (1.0 - served) * total
    # What is still queued must start within the timeout on the replicas that are up.
    keep_limit = max(0.0, replicas_at_end) * timeout_s
    drop_of_left = 0.0 if left <= keep_limit else (left - keep_limit) / left
    dropped = (1.0 - served) * drop_of_left
    kept = left * (1.0 - drop_of_left)
    mean_replicas = capacity_replica_s / step_s
    if mean_replicas <= 0 or arrivals <= 0:
        return StepOutcome(served, dropped, timeout_s if arrivals > 0 else 0.0, 0.0)
    # The worst backlog of the step, cleared at the step's rate: what a request may queue behind.
    backlog_wait = max(backlog_work_s, kept) / mean_replicas
    rate = arrivals / step_s  # requests per second
    work = arrival_work_s / arrivals  # replica-seconds per request
    slots = mean_replicas * concurrency
    offered = rate * work * concurrency  # Erlangs, with a slot serving at 1 / (work x concurrency)
    p_wait = erlang_c(slots, offered)
    decay = mean_replicas / work - rate  # c mu - lambda, per second
    prefill_load = rate / mean_replicas * prefill_s  # rho of each replica's prefill queue
    if prefill_s <= 0:
        prefill_rate, prefill95 = math.inf, 0.0
    elif prefill_load < 1.0:
        prefill_rate = (1.0 - prefill_load) / prefill_s  # the prefill response is Exp(this)
        prefill95 = math.log(1.0 / P95_TAIL) / prefill_rate
    else:
        prefill_rate, prefill95 = 0.0, timeout_s
    if p_wait >= 1.0 or decay <= 0:
        p_wait = 0.0  # overloaded: the fluid backlog above is the wait, not the slots'
    tail = _ttft_tail(p_wait, decay, prefill_rate)
    slack = target_s - backlog_wait - decode_step_s  # for the slot wait and the prefill together
    late_beyond = 1.0 if slack < 0 else tail(slack)
    fixed = backlog_wait + decode_step_s
    ttft95 = min(timeout_s, fixed + _p95(tail, max(0.0, timeout_s - fixed), p_wait, decay, prefill95))
    within = max(0.0, 1.0 - late_beyond) * served
    return StepOutcome(served, dropped, ttft95, within)


def _ttft_tail(p_wait: float, decay: float, prefill_rate: float):
    """P(slot wait + prefill response > t), as a function of t."""
    if p_wait <= 0.0:
        return lambda t: _exp_tail(prefill_rate, t)
    return lambda t: (1.0 - p_wait) * _exp_tail(prefill_rate, t) + p_wait * _sum_tail(decay, prefill_rate, t)


def _p95(tail, cap: float, p_wait: float, decay: float, prefill95: float) -> float:
    """The t at which ``tail`` falls to 5 %, at most ``cap``.

    Closed forms where one of the two is absent; else bisection (both terms fall as t grows), in a
    bracket where each of them is already under 2.5 %.
    """
    if p_wait < NEGLIGIBLE_WAIT:  # moves the p95 by under ~1e-8 of itself, and never up
        return min(cap, prefill95)
    if prefill95 == 0.0:  # no prefill: the slot wait alone
        return min(cap, max(0.0, math.log(p_wait / P95_TAIL) / decay))
    if tail(0.0) <= P95_TAIL:
        return 0.0
    hi = min(cap, 2.0 * math.log(2.0 / P95_TAIL) * max(1.0 / decay, prefill95 / math.log(1.0 / P95_TAIL)))
    if tail(hi) > P95_TAIL:
        return hi
    lo = 0.0
    for _ in range(P95_STEPS):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if tail(mid) > P95_TAIL else (lo, mid)
    return hi


def _exp_tail(rate: float, x: float) -> float:
    """P(X > x) for X ~ Exp(rate) (rate inf: X is 0; rate 0: X never ends)."""
    return 0.0 if math.isinf(rate) else math.exp(-rate * x)


def _sum_tail(a: float, b: float, x: float) -> float:
    """P(X + Y > x) for independent X ~ Exp(a) and Y ~ Exp(b), ``a`` finite and positive."""
    if math.isinf(b):
        return math.exp(-a * x)
    if b <= 0:
        return 1.0
    if math.isclose(a, b, rel_tol=1e-9):
        return (1.0 + a * x) * math.exp(-a * x)
    return (a * math.exp(-b * x) - b * math.exp(-a * x)) / (a - b)
