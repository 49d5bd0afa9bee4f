"""Write demo_trace.csv: a few hundred synthetic jobs shaped like the public GPU-cluster traces.

Run once from the repository root (``.venv/bin/python sample_sites/traces/make_demo_trace.py``); the
output is committed, so the scenario never depends on this script. Seeded: the same file every time.

Shape (shared/reference/facts.md section 8; Acme Seren/Kalos, Philly, Helios, S/P): small jobs are
the majority, the largest uses ~1,024 GPUs, and a few big jobs carry most GPU-time. GPUs per job are
powers of two from 1 to 1,024 with P(size) ~ size^-0.35, which gives a median of ~4 and a mean of
~50 GPUs (the public traces' median is 1 GPU; the tail is fattened so a small file still holds
several 512-1,024-GPU jobs). Runtimes are log-normal around 3 h (sigma 1.6; the public traces'
medians are minutes, stretched so a 30-day demo has visible load), four times longer at 64 GPUs and
up, capped at 10 days: ~430k GPU-hours, ~15 % of the demo campus over the period. Arrivals are
Poisson at 11 a day over 36 days, so the last rows fall after a 30-day horizon. Times are in
seconds from a Unix epoch (2027-01-01 00:00 UTC) and owners are five made-up teams, to show the
scenario's column mapping at work.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

OUT = Path(__file__).with_name("demo_trace.csv")
EPOCH = 1_798_761_600  # 2027-01-01T00:00:00Z
RATE_PER_DAY = 11.0
DAYS = 36
TEAMS = ["pretrain", "posttrain", "evals", "multimodal", "infra"]


def main() -> None:
    rng = np.random.default_rng(2027)
    sizes = 2 ** np.arange(0, 11)
    p = sizes.astype(float) ** -0.35
    p /= p.sum()
    t = 0.0
    rows = []
    while True:
        t += rng.exponential(86_400.0 / RATE_PER_DAY)
        if t >= DAYS * 86_400.0:
            break
        gpus = int(rng.choice(sizes, p=p))
        hours = 3.0 * np.exp(1.6 * rng.standard_normal()) * (4.0 if gpus >= 64 else 1.0)
        runtime = int(min(hours, 240.0) * 3600) + 60
        team = TEAMS[int(rng.integers(len(TEAMS)))]
        rows.append((f"j{len(rows):04d}", EPOCH + int(t), gpus, runtime, team))
    with OUT.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["job_id", "submitted_at", "num_gpus", "runtime_s", "user"])
        writer.writerows(rows)
    g = np.array([r[2] for r in rows])
    h = np.array([r[3] for r in rows]) / 3600.0
    print(
        f"{len(rows)} jobs -> {OUT.name}: GPUs mean {g.mean():.1f} median {np.median(g):g} max {g.max()}; "
        f"runtime mean {h.mean():.1f} h median {np.median(h):.1f} h; GPU-hours {np.sum(g * h):,.0f}"
    )


if __name__ == "__main__":
    main()
