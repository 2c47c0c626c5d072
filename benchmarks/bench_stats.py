"""Time lem.analysis.stats on a report-sized workload.

100 paired comparisons of 101 probe pairs with 10,000 bootstrap resamples each (the shape of a
``lem report``), once as a report runs them (one seed, so the index matrix is drawn once) and
once with a different seed per comparison (every index matrix drawn afresh). Also times the
scorer-agreement statistics on the same pairs.

    python benchmarks/bench_stats.py [--comparisons 100] [--n 101] [--n-boot 10000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from numpy.random import PCG64, Generator

from lem.analysis import agreement, holm, paired_comparison
from lem.analysis import stats as st


def _data(comparisons: int, n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = Generator(PCG64(0))
    out = []
    for _ in range(comparisons):
        a = np.round(rng.normal(6.0, 2.0, n) * 2) / 2
        b = a + np.round(rng.normal(0.3, 1.0, n) * 2) / 2
        out.append((a, b))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--comparisons", type=int, default=100)
    ap.add_argument("--n", type=int, default=101)
    ap.add_argument("--n-boot", type=int, default=10_000)
    args = ap.parse_args()
    data = _data(args.comparisons, args.n)

    st._cached_indices.cache_clear()
    t0 = time.perf_counter()
    results = [paired_comparison(a, b, seed=0, n_boot=args.n_boot) for a, b in data]
    holm([r.p_wilcoxon for r in results])
    report_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    for i, (a, b) in enumerate(data):
        paired_comparison(a, b, seed=1_000 + i, n_boot=args.n_boot)
    fresh_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    for a, b in data[:10]:
        agreement(a, b, scale=(1, 10), seed=0)
    agreement_s = time.perf_counter() - t0

    shape = f"{args.comparisons} paired comparisons x {args.n} pairs x {args.n_boot} resamples"
    print(f"{shape}, one seed (as a report runs): {report_s:.3f} s")
    print(f"{shape}, a fresh seed each:              {fresh_s:.3f} s")
    print(f"10 agreements (rho, tau-b, QWK; 2,000 resamples), {args.n} pairs: {agreement_s:.3f} s")


if __name__ == "__main__":
    main()
