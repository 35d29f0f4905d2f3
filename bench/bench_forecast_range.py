"""Time of the time-aware forecast's range simulation (dealgate.analytics.simulation.simulate).

    python bench/bench_forecast_range.py --deals 100000 --simulations 2000 --runs 9

Numbers only, no database: 14 open stages x 8 age buckets (stage Beliefs with age-bucket children,
as timing_table builds them), lognormal amounts, every deal in some cell. Prints median and p95
wall time of one simulation run, and the load average. The old method (every deal drawn
independently, one uniform per deal and simulation) is timed beside it for reference.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dealgate.settings")

import django  # noqa: E402

django.setup()  # no database is touched; the module also holds the period-spread query

from dealgate.analytics.simulation import Belief, simulate  # noqa: E402


def cells(rng: np.random.Generator, stages: int = 14, buckets: int = 8) -> list[Belief]:
    result = [Belief.certain(0.0)]
    for s in range(stages):
        n0 = int(rng.integers(50, 2000))
        q0 = float(rng.uniform(0.0, 0.6))
        stage = Belief.smoothed(int(n0 * q0), n0, 0.3, 10.0)
        for b in range(buckets):
            n = n0 >> b
            result.append(Belief.smoothed(int(n * q0), n, stage, 10.0))
    return result


def old_independent(q: np.ndarray, amounts: np.ndarray, simulations: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    totals = np.zeros(simulations)
    chunk = max(1, 4_000_000 // simulations)
    for start in range(0, len(q), chunk):
        draws = rng.random((simulations, len(q[start:start + chunk]))) < q[start:start + chunk]
        totals += draws @ amounts[start:start + chunk]
    return totals


def timed(fn, runs: int) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--simulations", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--old", action="store_true", help="also time the old independent draws")
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    beliefs = cells(rng)
    cell = rng.integers(1, len(beliefs), args.deals)
    amounts = np.round(rng.lognormal(np.log(20_000), 0.8, args.deals), 2)
    median, p95 = timed(lambda: simulate(beliefs, cell, amounts, simulations=args.simulations, seed=7,
                                         period_spread=0.1), args.runs)
    load = os.getloadavg()[0]
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"numpy {np.__version__}, load {load:.1f}")
    print(f"simulate: {args.deals:,} deals x {args.simulations:,} simulations, {len(beliefs)} cells: "
          f"median {median * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms over {args.runs} runs")
    if args.old:
        q = np.array([b.q for b in beliefs])[cell]
        median, p95 = timed(lambda: old_independent(q, amounts, args.simulations, 7), max(3, args.runs // 3))
        print(f"old independent draws: median {median * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms")


if __name__ == "__main__":
    main()
