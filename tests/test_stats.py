"""Tests for lem.analysis.stats: each statistic against scipy or a hand/brute-force reference."""

from __future__ import annotations

import json
import math
from itertools import pairwise

import numpy as np
import pytest
from numpy.random import PCG64, Generator
from scipy import stats as sps

from lem.analysis import (
    CI,
    Agreement,
    agreement,
    bootstrap_ci,
    bootstrap_mean_ci,
    cohens_dz,
    describe,
    holm,
    kendall_tau_b,
    mde_paired,
    paired_comparison,
    quadratic_weighted_kappa,
    rank_biserial,
    round_to_scale,
    spearman,
    wilcoxon_signed_rank,
)
from lem.analysis import stats as st

SIZES = (1, 2, 5, 12, 13, 14, 30, 50, 51, 120)


def _continuous(n: int, seed: int) -> np.ndarray:
    return Generator(PCG64(seed)).normal(0.3, 1.0, n)


def _tied(n: int, seed: int) -> np.ndarray:
    """Half-point scores like judge deltas: many ties and exact zeros."""
    return np.round(Generator(PCG64(seed)).normal(0.2, 1.2, n) * 2) / 2


def _scores(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two correlated 1-10 judge score columns with decimals (ties after rounding)."""
    rng = Generator(PCG64(seed))
    a = np.clip(rng.normal(6, 2, n), 1, 10)
    b = np.clip(a + rng.normal(0, 1.5, n), 1, 10)
    return np.round(a * 2) / 2, np.round(b, 1)


# ---------------------------------------------------------------- input validation


@pytest.mark.parametrize(
    "call",
    [
        lambda v: describe(v),
        lambda v: bootstrap_mean_ci(v),
        lambda v: bootstrap_ci(np.median, v),
        lambda v: wilcoxon_signed_rank(v),
        lambda v: cohens_dz(v),
        lambda v: rank_biserial(v),
        lambda v: round_to_scale(v, 1, 10),
        lambda v: paired_comparison(v, v),
        lambda v: spearman(v, v),
        lambda v: kendall_tau_b(v, v),
        lambda v: quadratic_weighted_kappa(v, v),
        lambda v: agreement(v, v),
    ],
)
def test_empty_and_nan_inputs_raise(call: object) -> None:
    assert callable(call)
    with pytest.raises(ValueError, match="empty"):
        call([])
    with pytest.raises(ValueError, match="NaN"):
        call([1.0, math.nan, 2.0])


@pytest.mark.parametrize(
    "call",
    [
        lambda a, b: paired_comparison(a, b),
        lambda a, b: spearman(a, b),
        lambda a, b: kendall_tau_b(a, b),
        lambda a, b: quadratic_weighted_kappa(a, b),
        lambda a, b: agreement(a, b),
        lambda a, b: bootstrap_ci(lambda x, y: 0.0, a, b),
    ],
)
def test_length_mismatch_raises(call: object) -> None:
    assert callable(call)
    with pytest.raises(ValueError, match="length"):
        call([1.0, 2.0, 3.0], [1.0, 2.0])


def test_parameter_validation() -> None:
    with pytest.raises(ValueError, match="level"):
        bootstrap_mean_ci([1.0, 2.0], level=1.0)
    with pytest.raises(ValueError, match="n_boot"):
        bootstrap_mean_ci([1.0, 2.0], n_boot=0)
    with pytest.raises(ValueError, match="method"):
        bootstrap_mean_ci([1.0, 2.0], method="basic")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="family_size"):
        paired_comparison([1.0, 2.0], [2.0, 4.0], family_size=0)
    with pytest.raises(ValueError, match="n_sim"):
        st.mde_wilcoxon(1.0, 20, n_sim=10)
    with pytest.raises(ValueError, match="sd_delta"):
        mde_paired(-1.0, 10)
    with pytest.raises(ValueError, match="power"):
        mde_paired(1.0, 10, power=0.01)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        holm([0.1, 1.2])
    with pytest.raises(ValueError, match="integer"):
        quadratic_weighted_kappa([1.5, 2.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="categories"):
        quadratic_weighted_kappa([1, 2, 7], [1, 2, 3], categories=[1, 2, 3])
    with pytest.raises(ValueError, match="lo <= hi"):
        round_to_scale([1.0], 5, 1)
    with pytest.raises(ValueError, match="one value per resample"):
        bootstrap_ci(lambda x: x.mean(), [1.0, 2.0, 3.0], vectorised=True)


# ---------------------------------------------------------------- describe / bootstrap


@pytest.mark.parametrize("n", SIZES)
def test_describe_matches_numpy(n: int) -> None:
    x = _tied(n, n)
    d = describe(x, n_boot=500)
    assert d.n == n
    assert d.mean == pytest.approx(np.mean(x), abs=1e-12)
    assert d.median == np.median(x)
    assert d.sd == (pytest.approx(np.std(x, ddof=1), abs=1e-12) if n > 1 else 0.0)
    assert (d.ci, d.ci_method) == st.mean_ci(x, n_boot=500)
    if n == 1:
        assert math.isnan(d.ci.low) and math.isnan(d.ci.high)  # no interval from one value
    else:
        assert d.ci.low <= d.mean <= d.ci.high


def test_constant_data_is_exact() -> None:
    d = describe([0.1] * 101)
    assert (d.mean, d.sd, d.ci.low, d.ci.high) == (0.1, 0.0, 0.1, 0.1)
    assert describe([0.1] * 5).ci == CI(0.1, 0.1)
    assert math.isnan(describe([4.0]).ci.low)


@pytest.mark.parametrize("n", [2, 5, 30, 101])
@pytest.mark.parametrize("seed", [0, 7])
def test_bootstrap_mean_ci_equals_scipy(n: int, seed: int) -> None:
    x = _continuous(n, seed + 100)
    for method, scipy_method in (("percentile", "percentile"), ("bca", "BCa")):
        ours = bootstrap_mean_ci(x, seed=seed, n_boot=2_000, level=0.9, method=method)  # type: ignore[arg-type]
        ref = sps.bootstrap(
            (x,),
            np.mean,
            n_resamples=2_000,
            confidence_level=0.9,
            method=scipy_method,
            rng=Generator(PCG64(seed)),
            vectorized=True,
        ).confidence_interval
        assert ours.level == 0.9
        assert ours.low == pytest.approx(ref.low, rel=1e-9, abs=1e-12)
        assert ours.high == pytest.approx(ref.high, rel=1e-9, abs=1e-12)


def test_bootstrap_ci_generic_paths_agree_with_scipy() -> None:
    a, b = _continuous(40, 1), _continuous(40, 2) + 0.2
    paired = bootstrap_ci(lambda x, y: np.mean(y - x), a, b, seed=3)
    paired_vec = bootstrap_ci(lambda x, y: (y - x).mean(axis=1), a, b, seed=3, vectorised=True)
    ref = sps.bootstrap(
        (a, b),
        lambda x, y, axis: np.mean(y - x, axis=axis),
        n_resamples=2_000,
        paired=True,
        method="percentile",
        rng=Generator(PCG64(3)),
    ).confidence_interval
    for ci in (paired, paired_vec):
        assert (ci.low, ci.high) == pytest.approx((ref.low, ref.high), rel=1e-12)
    # the mean of the deltas is the same statistic: the mean fast path gives the same interval
    fast = bootstrap_ci(np.mean, b - a, seed=3)
    assert (fast.low, fast.high) == pytest.approx((ref.low, ref.high), rel=1e-12)

    c = _continuous(25, 4)
    unpaired = bootstrap_ci(lambda x, y: np.mean(y) - np.mean(x), a, c, seed=5, paired=False)
    ref = sps.bootstrap(
        (a, c),
        lambda x, y, axis: np.mean(y, axis=axis) - np.mean(x, axis=axis),
        n_resamples=2_000,
        paired=False,
        method="percentile",
        rng=Generator(PCG64(5)),
    ).confidence_interval
    assert (unpaired.low, unpaired.high) == pytest.approx((ref.low, ref.high), rel=1e-12)


def test_bootstrap_ci_drops_nan_resamples() -> None:
    x = np.array([1.0, 1.0, 1.0, 1.0, 2.0])
    ci = bootstrap_ci(lambda v: np.nan if v.min() == v.max() else v.mean(), x, n_boot=1000)
    assert 1.0 < ci.low <= ci.high <= 2.0
    assert math.isnan(bootstrap_ci(lambda v: math.nan, x, n_boot=50).low)


def test_reproducibility() -> None:
    x = _continuous(60, 11)
    first = bootstrap_mean_ci(x, seed=42)
    st._cached_indices.cache_clear()
    assert bootstrap_mean_ci(x, seed=42) == first
    assert bootstrap_mean_ci(list(x), seed=42) == first
    assert bootstrap_mean_ci(x, seed=43) != first
    big = np.tile(x, 400)  # too big for the index cache: drawn fresh, same answer
    assert bootstrap_mean_ci(big, seed=1, n_boot=100) == bootstrap_mean_ci(big, seed=1, n_boot=100)
    a, b = _scores(50, 3)
    assert agreement(a, b, scale=(1, 10), seed=9) == agreement(a, b, scale=(1, 10), seed=9)
    assert agreement(a, b, seed=9).spearman_ci != agreement(a, b, seed=10).spearman_ci


@pytest.mark.parametrize("n", [20, 40])
def test_studentized_bootstrap_covers_at_least_94_percent(n: int) -> None:
    """The report's CI (symmetric bootstrap-t) covers the true mean in >= 94% of 4,000 simulated
    data sets at n = 20 and 40, normal and gamma(4) data, with the report's seed-0 resamples.

    Vectorised: every data set is resampled with the same index matrix, in chunks. Measured over
    20,000 sets the coverage is 95.4-95.5% (normal) and 94.7-94.8% (gamma(4)); the percentile
    interval on the same sets covers 91-93.8%, which is why it is no longer used.
    """
    idx = st._draw_indices(0, n, 1_000)
    rng = Generator(PCG64(42))
    for name, data, true_mean in (
        ("normal", rng.normal(3.0, 2.0, (4_000, n)), 3.0),
        ("gamma(4)", rng.gamma(4.0, 1.0, (4_000, n)), 4.0),
    ):
        low, high = st.studentized_rows(data, idx, 0.95)
        coverage = float(np.mean((low <= true_mean) & (true_mean <= high)))
        assert coverage >= 0.94, f"{name}, n = {n}: coverage {coverage:.4f}"
    # the percentile interval on the same (gamma) sets: resampled means from index counts
    counts = st._row_counts(idx, n)
    p_low, p_high = np.quantile(data @ counts.T / n, [0.025, 0.975], axis=1)
    percentile = float(np.mean((p_low <= true_mean) & (true_mean <= p_high)))
    assert percentile < 0.94, f"the percentile interval covered {percentile:.4f}"
    # the single-sample interval is the same computation
    x = rng.gamma(4.0, 1.0, n)
    low, high = st.studentized_rows(x[None, :], st._draw_indices(3, n, 1_000), 0.95)
    ci = bootstrap_mean_ci(x, seed=3, n_boot=1_000, method="studentized")
    assert (ci.low, ci.high) == pytest.approx((low[0], high[0]), rel=1e-12)
    assert st.mean_ci(x, seed=3, n_boot=1_000) == (ci, "studentized-bootstrap")


def test_studentized_bootstrap_by_definition() -> None:
    x = np.array([1.0, 2.0, 2.5, 4.0, 7.5, 3.0, 2.0, 0.5, 9.0, 4.5, 3.5])
    idx = st._draw_indices(5, x.size, 2_000)
    boot = x[idx]
    t = np.abs(boot.mean(axis=1) - x.mean()) / boot.std(axis=1, ddof=1)
    t[boot.std(axis=1) == 0] = np.inf
    q = np.quantile(t, 0.9)  # t* has no infinities here: none of these resamples is constant
    ci = bootstrap_mean_ci(x, seed=5, n_boot=2_000, level=0.9, method="studentized")
    sd = x.std(ddof=1)
    assert (ci.low, ci.high) == pytest.approx((x.mean() - q * sd, x.mean() + q * sd), rel=1e-12)
    # a resample that is constant counts as an extreme t*, not a dropped one
    mostly = np.array([0.0] * 9 + [5.0])
    assert bootstrap_mean_ci(mostly, n_boot=500, method="studentized").high == math.inf


def test_small_samples_get_the_t_interval() -> None:
    for n in (2, 5, 9):
        x = _continuous(n, n + 40)
        ci, method = st.mean_ci(x)
        half = sps.t.ppf(0.975, n - 1) * x.std(ddof=1) / math.sqrt(n)
        assert method == "t"
        assert (ci.low, ci.high) == pytest.approx((x.mean() - half, x.mean() + half), rel=1e-12)
        assert describe(x).ci_method == "t"
    assert st.mean_ci(_continuous(10, 1))[1] == "studentized-bootstrap"
    one, method = st.mean_ci([3.0])
    assert method == "t" and math.isnan(one.low) and math.isnan(one.high)
    pc = paired_comparison([1.0, 2.0, 3.0], [1.5, 2.1, 3.9])
    assert pc.ci_method == "t" and pc.ci == st.t_interval(pc_deltas := [0.5, 0.1, 0.9])
    assert pc.mean_delta == pytest.approx(np.mean(pc_deltas))


@pytest.mark.parametrize(
    ("name", "draw", "true_mean"),
    [
        ("normal", lambda rng, n: rng.normal(3.0, 2.0, n), 3.0),
        ("gamma(4), skewness 1", lambda rng, n: rng.gamma(4.0, 1.0, n), 4.0),
    ],
)
def test_bootstrap_ci_coverage(name: str, draw: object, true_mean: float) -> None:
    """Percentile 95% CI covers the true mean in 93-97% of 500 simulated data sets.

    n = 100 (a typical probe set). The percentile interval runs slightly short for small or
    skewed samples: measured over 12,000 data sets its coverage is 94.3% (normal) and 94.2%
    (gamma) at n = 100, and 93.7%/93.6% at n = 40 (92.1% for exponential data at n = 40).
    """
    assert callable(draw)
    rng = Generator(PCG64(2024))
    hits = 0
    for i in range(500):
        ci = bootstrap_mean_ci(draw(rng, 100), seed=i, n_boot=1_000)
        hits += ci.low <= true_mean <= ci.high
    assert 0.93 <= hits / 500 <= 0.97, f"{name}: coverage {hits / 500:.3f}"


# ---------------------------------------------------------------- paired tests and effect sizes


def _signflip_bruteforce(d: np.ndarray) -> float:
    """scipy's permutation test for wilcoxon, written out: all 2**n sign flips of d."""
    n = d.size
    ranks = np.zeros(n)
    ranks[d != 0] = sps.rankdata(np.abs(d[d != 0]))
    signs = (np.arange(2**n)[:, None] >> np.arange(n)) & 1
    null = (signs * (d > 0) + (1 - signs) * (d < 0)) @ ranks  # W+ with each sign flipped or not
    observed = ranks[d > 0].sum()
    gamma = abs(observed) * np.finfo(float).eps * 100
    less = np.count_nonzero(null <= observed + gamma) / 2**n
    greater = np.count_nonzero(null >= observed - gamma) / 2**n
    return min(1.0, 2 * min(less, greater))


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("kind", ["continuous", "tied"])
def test_wilcoxon_equals_scipy(n: int, kind: str) -> None:
    d = _continuous(n, n) if kind == "continuous" else _tied(n, n)
    if not d.any():
        assert wilcoxon_signed_rank(d) == 1.0
        return
    if kind == "tied" and n in (12, 13):
        # scipy's exact permutation here makes 2**n slow Python calls: check the same
        # enumeration written out instead (n <= 11 below are checked against scipy itself)
        assert wilcoxon_signed_rank(d) == pytest.approx(_signflip_bruteforce(d), abs=1e-15)
        return
    ref = sps.wilcoxon(d, zero_method="wilcox", correction=False, method="auto").pvalue
    assert wilcoxon_signed_rank(d) == ref


@pytest.mark.parametrize("seed", range(4))
def test_wilcoxon_small_samples_with_ties_and_zeros(seed: int) -> None:
    rng = Generator(PCG64(seed))
    for n in (3, 6, 9):
        d = np.round(rng.normal(0.4, 1.0, n) * 2) / 2
        if not d.any():
            continue
        ref = sps.wilcoxon(d, zero_method="wilcox", correction=False, method="auto").pvalue
        assert wilcoxon_signed_rank(d) == ref
        assert _signflip_bruteforce(d) == pytest.approx(ref, abs=1e-15)


def test_wilcoxon_edge_cases() -> None:
    assert wilcoxon_signed_rank([0.0, 0.0, 0.0]) == 1.0
    assert wilcoxon_signed_rank([0.0]) == 1.0
    assert wilcoxon_signed_rank([2.0]) == 1.0
    assert wilcoxon_signed_rank([1.0] * 10) == pytest.approx(2 / 2**10)


@pytest.mark.parametrize("n", SIZES[1:])
def test_cohens_dz(n: int) -> None:
    d = _tied(n, n + 1) + 0.01
    assert cohens_dz(d) == pytest.approx(np.mean(d) / np.std(d, ddof=1), rel=1e-12)


def test_cohens_dz_degenerate() -> None:
    # zero variance: dz is undefined, not 0 or infinite
    assert math.isnan(cohens_dz([0.0, 0.0, 0.0]))
    assert math.isnan(cohens_dz([0.5, 0.5]))
    assert math.isnan(cohens_dz([-0.1] * 7))
    assert math.isnan(cohens_dz([1.0]))


def _rank_biserial_bruteforce(d: np.ndarray) -> float:
    nz = [v for v in d if v != 0]
    absolute = sorted(abs(v) for v in nz)

    def rank(v: float) -> float:
        positions = [i + 1 for i, w in enumerate(absolute) if w == abs(v)]
        return sum(positions) / len(positions)

    w_plus = sum(rank(v) for v in nz if v > 0)
    w_minus = sum(rank(v) for v in nz if v < 0)
    return (w_plus - w_minus) / (w_plus + w_minus)


@pytest.mark.parametrize("n", SIZES[2:])
@pytest.mark.parametrize("kind", ["continuous", "tied"])
def test_rank_biserial(n: int, kind: str) -> None:
    d = _continuous(n, n) if kind == "continuous" else _tied(n, n)
    r = rank_biserial(d)
    assert r == pytest.approx(_rank_biserial_bruteforce(d), abs=1e-12)
    m = np.count_nonzero(d)
    total = m * (m + 1) / 2
    w_min = total * (1 - abs(r)) / 2
    ref = sps.wilcoxon(d, zero_method="wilcox", correction=False, method="asymptotic")
    assert w_min == pytest.approx(ref.statistic, abs=1e-9)


def test_rank_biserial_edges() -> None:
    assert rank_biserial([0.0, 0.0]) == 0.0
    assert rank_biserial([1.0, 2.0, 0.0]) == 1.0
    assert rank_biserial([-1.0, -2.0]) == -1.0
    # ranks of |d| = 1, 2.5, 2.5: W+ = 1 + 2.5, W- = 2.5
    assert rank_biserial([1.0, 2.0, -2.0]) == pytest.approx((3.5 - 2.5) / 6.0)


# ---------------------------------------------------------------- Holm


@pytest.mark.parametrize(
    ("pvalues", "expected"),
    [
        # sorted 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1=0.04 -> running max 0.06
        ([0.01, 0.04, 0.03, 0.005], [0.03, 0.06, 0.06, 0.02]),
        # 0.3*3=0.9, 0.4*2=0.8 -> 0.9, 0.5*1 -> 0.9
        ([0.5, 0.4, 0.3], [0.9, 0.9, 0.9]),
        # 0.02*3=0.06, 0.6*2=1.2 -> capped 1, 0.7 -> running max 1.2 -> capped 1
        ([0.02, 0.6, 0.7], [0.06, 1.0, 1.0]),
        # ties: 0.01*3=0.03, 0.01*2=0.02 -> 0.03, 0.04*1=0.04
        ([0.01, 0.04, 0.01], [0.03, 0.04, 0.03]),
        ([0.2], [0.2]),
        ([0.0, 1.0], [0.0, 1.0]),
        ([], []),
    ],
)
def test_holm_hand_computed(pvalues: list[float], expected: list[float]) -> None:
    assert holm(pvalues) == pytest.approx(expected, abs=1e-15)


def test_holm_random_against_definition() -> None:
    p = Generator(PCG64(5)).uniform(0, 0.2, 37)
    adjusted = holm(list(p))
    m = p.size
    ordered = sorted(range(m), key=lambda i: p[i])
    for k, i in enumerate(ordered):
        expected = min(1.0, max((m - j) * p[ordered[j]] for j in range(k + 1)))
        assert adjusted[i] == pytest.approx(expected, abs=1e-15)
    assert all(adjusted[i] <= adjusted[j] for i, j in pairwise(ordered))
    assert all(a >= q for a, q in zip(adjusted, p, strict=True))


# ---------------------------------------------------------------- MDE


def _power(effect: float, sd: float, n: int, alpha: float) -> float:
    df = n - 1
    tc = sps.t.ppf(1 - alpha / 2, df)
    nc = effect * math.sqrt(n) / sd
    return float(sps.nct.sf(tc, df, nc) + sps.nct.sf(tc, df, -nc))  # lower tail by symmetry


@pytest.mark.parametrize("n", [2, 3, 5, 10, 30, 101, 1000])
@pytest.mark.parametrize(("alpha", "power"), [(0.05, 0.8), (0.01, 0.9), (0.1, 0.5)])
def test_mde_power_is_exact(n: int, alpha: float, power: float) -> None:
    mde = mde_paired(1.7, n, alpha=alpha, power=power)
    assert _power(mde, 1.7, n, alpha) == pytest.approx(power, abs=1e-6)


def test_mde_against_normal_approximation() -> None:
    z = sps.norm.ppf(0.975) + sps.norm.ppf(0.8)
    assert mde_paired(1.0, 2000) == pytest.approx(z / math.sqrt(2000), rel=2e-3)
    assert mde_paired(1.0, 10) > 1.05 * z / math.sqrt(10)  # t needs more than z at small n
    values = [mde_paired(1.0, n) for n in (2, 3, 5, 10, 50, 200)]
    assert values == sorted(values, reverse=True)
    assert mde_paired(2.0, 40) == pytest.approx(2 * mde_paired(1.0, 40), rel=1e-12)


def test_mde_by_simulation() -> None:
    n, sd = 20, 1.3
    mde = mde_paired(sd, n)
    deltas = Generator(PCG64(8)).normal(mde, sd, (20_000, n))
    t = deltas.mean(axis=1) / (deltas.std(axis=1, ddof=1) / math.sqrt(n))
    rejected = np.abs(t) > sps.t.ppf(0.975, n - 1)
    assert rejected.mean() == pytest.approx(0.8, abs=0.01)


def test_mde_edges() -> None:
    assert mde_paired(1.0, 1) == math.inf
    assert mde_paired(1.0, 0) == math.inf
    assert math.isnan(mde_paired(0.0, 30))
    assert math.isnan(st.mde_wilcoxon(0.0, 30))


@pytest.mark.parametrize(
    ("n", "m"), [(6, 1), (12, 1), (20, 1), (20, 9), (40, 30), (60, 1), (101, 20)]
)
def test_mde_wilcoxon_is_the_power_of_the_test_used(n: int, m: int) -> None:
    """At the MDE, the two-sided Wilcoxon test at Holm's first-step level 0.05/m (scipy's own
    p-values: exact up to n = 50, normal approximation above) rejects 80% of normal data sets."""
    alpha = 0.05 / m
    mde = st.mde_wilcoxon(1.7, n, alpha=alpha)
    data = Generator(PCG64(99)).normal(mde, 1.7, (4_000, n))
    p = sps.wilcoxon(data, axis=1, zero_method="wilcox", correction=False, method="auto").pvalue
    assert float(np.mean(p < alpha)) == pytest.approx(0.8, abs=0.025)
    # the t-test MDE at the unadjusted level, which the report used to print, is smaller
    assert mde > mde_paired(1.7, n)
    assert st.mde_wilcoxon(3.4, n, alpha=alpha) == pytest.approx(2 * mde, rel=1e-12)


def test_mde_wilcoxon_unreachable_and_critical_values() -> None:
    # n = 8: the smallest two-sided p is 2/256 = 0.0078, above 0.05/9
    assert st.mde_wilcoxon(1.0, 8, alpha=0.05 / 9) == math.inf
    assert st.mde_wilcoxon(1.0, 5) == math.inf  # 2/32 > 0.05
    assert math.isfinite(st.mde_wilcoxon(1.0, 6))  # 2/64 < 0.05
    for n in (10, 20, 50, 51, 80):
        c = st._wilcoxon_critical(n, 0.01)
        assert c is not None
        total = n * (n + 1) // 2
        # scipy's p for data with W+ = c and c - 1 (ranks 1..n, the top ones positive)
        for w, below in ((c, True), (c - 1, False)):
            signs = np.ones(n)
            rest = total - w
            for r in range(n, 0, -1):  # make ranks summing to `rest` negative, greedily
                if r <= rest:
                    signs[r - 1] = -1
                    rest -= r
            d = signs * np.arange(1, n + 1)
            p = sps.wilcoxon(d, zero_method="wilcox", correction=False, method="auto").pvalue
            assert bool(p < 0.01) == below, (n, w, p)


# ---------------------------------------------------------------- paired comparison


def test_paired_comparison_fields() -> None:
    a = _tied(101, 1) + 5
    b = a + _tied(101, 2)
    pc = paired_comparison(a, b, seed=4, n_boot=3_000, family_size=6)
    d = st.paired_deltas(a, b)
    assert pc.n == 101
    assert pc.mean_a == pytest.approx(a.mean()) and pc.mean_b == pytest.approx(b.mean())
    assert pc.mean_delta == pytest.approx(d.mean(), abs=1e-12)
    assert pc.ci == bootstrap_mean_ci(d, seed=4, n_boot=3_000, method="studentized")
    assert pc.ci_method == "studentized-bootstrap"
    assert pc.p_wilcoxon == wilcoxon_signed_rank(d)
    assert pc.dz == cohens_dz(d) and pc.rank_biserial == rank_biserial(d)
    assert pc.sd_delta == pytest.approx(np.std(d, ddof=1))
    assert pc.mde_alpha == 0.05 / 6
    assert pc.mde == st.mde_wilcoxon(pc.sd_delta, 101, alpha=0.05 / 6, seed=4)
    assert pc.improved == np.count_nonzero(d > 0.5)
    assert pc.regressed == np.count_nonzero(d < -0.5)
    assert pc.improved + pc.regressed + pc.unchanged == 101


def test_paired_comparison_band_is_strict() -> None:
    pc = paired_comparison([5.0, 5.0, 5.0, 5.0, 5.0], [5.5, 4.5, 5.51, 4.0, 5.0])
    assert (pc.improved, pc.regressed, pc.unchanged) == (1, 1, 3)
    assert paired_comparison([1.0, 2.0], [1.2, 2.2], band=0.1).improved == 2
    # 8.3 - 7.8 is 0.5000000000000009 in floating point: exactly the band, so unchanged
    assert 8.3 - 7.8 > 0.5 and 7.8 - 8.3 < -0.5
    pc = paired_comparison([7.8, 8.3, 1.0], [8.3, 7.8, 1.0])
    assert (pc.improved, pc.regressed, pc.unchanged) == (0, 0, 3)


# one-decimal scores: every delta is a whole number of tenths, but not in floating point
_A = [21.3, 7.8, 1.1, 2.2, 3.3, 4.4, 5.5, 6.6, 0.3, 9.9, 12.1]
_B = [21.5, 8.0, 1.3, 2.0, 3.6, 4.1, 5.7, 6.4, 0.6, 9.6, 12.3]
_TENTHS = [2, 2, 2, -2, 3, -3, 2, -2, 3, -3, 2]


def test_paired_deltas_keep_decimal_ties() -> None:
    assert 21.5 - 21.3 != 8.0 - 7.8  # the float differences split a tie
    exact = np.array(_TENTHS) / 10
    d = st.paired_deltas(_A, _B)
    assert d.tolist() == exact.tolist()
    assert st.paired_deltas([1.0, 0.3], [1.0, 0.1 + 0.2]).tolist() == [0.0, 0.0]
    assert np.signbit(st.paired_deltas([1.0], [1.0])).tolist() == [False]
    pc = paired_comparison(_A, _B)
    # the same p and rank-biserial as the exact decimal deltas: ties kept, so scipy's
    # permutation path (n <= 13 with ties), not the exact no-ties path the float deltas take
    assert pc.p_wilcoxon == wilcoxon_signed_rank(exact)
    assert pc.rank_biserial == rank_biserial(exact)
    floats = np.array(_B) - np.array(_A)
    assert wilcoxon_signed_rank(floats) != pc.p_wilcoxon
    assert rank_biserial(floats) != pc.rank_biserial
    assert pc.dz == pytest.approx(exact.mean() / exact.std(ddof=1), rel=1e-12)


def test_zero_variance_deltas_have_no_dz_or_mde() -> None:
    a = [21.3, 7.8, 1.1, 2.2, 3.3, 4.4, 5.5, 6.6, 0.3, 9.9, 12.1, 14.2]
    b = [x + 0.2 for x in a]  # a constant shift, as decimal scores
    pc = paired_comparison(a, b, family_size=3)
    assert pc.sd_delta == 0.0 and pc.mean_delta == pytest.approx(0.2)
    assert math.isnan(pc.dz) and math.isnan(pc.mde)
    out = pc.as_dict()
    assert out["dz"] is None and out["mde"] is None
    assert out["ci"] == {"low": 0.2, "high": 0.2, "level": 0.95}
    zero = paired_comparison(a, a)
    assert math.isnan(zero.dz) and math.isnan(zero.mde) and zero.p_wilcoxon == 1.0


def test_as_dict_is_json_ready() -> None:
    pc = paired_comparison([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    out = pc.as_dict()
    json.dumps(out, allow_nan=False)
    assert out["dz"] is None and out["ci"] == {"low": 0.0, "high": 0.0, "level": 0.95}
    assert out["ci_method"] == "t" and out["mde"] is None
    assert paired_comparison([1.0, 2.0], [2.0, 3.0]).as_dict()["dz"] is None
    assert CI(1 / 3, math.nan, 0.9).as_dict() == {"low": 0.333333, "high": None, "level": 0.9}
    assert CI(-1e-9, 2.0).as_dict()["low"] == 0.0
    ag = agreement([1.0, 2.0, 3.0], [1.0, 1.0, 1.0]).as_dict()
    json.dumps(ag, allow_nan=False)
    assert ag["spearman"] is None and ag["kappa"] is None and ag["kappa_ci"] is None
    json.dumps(describe([1.0, 2.5]).as_dict(), allow_nan=False)


# ---------------------------------------------------------------- correlations


@pytest.mark.parametrize("n", SIZES[1:])
@pytest.mark.parametrize("seed", [0, 1])
def test_correlations_equal_scipy(n: int, seed: int) -> None:
    a, b = _scores(n, seed + n)
    for x, y in ((a, b), (np.round(a), np.round(b)), (_continuous(n, 1), _continuous(n, 2))):
        if x.min() == x.max() or y.min() == y.max():
            continue
        ref_rho = sps.spearmanr(x, y).statistic
        ref_tau = sps.kendalltau(x, y, variant="b").statistic
        assert spearman(x, y) == pytest.approx(ref_rho, abs=1e-12)
        assert kendall_tau_b(x, y) == pytest.approx(ref_tau, abs=1e-12)


def test_correlations_of_constant_input_are_nan() -> None:
    with np.errstate(all="raise"):
        assert math.isnan(spearman([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]))
        assert math.isnan(kendall_tau_b([1.0, 2.0, 3.0], [2.0, 2.0, 2.0]))
        assert math.isnan(spearman([3.0], [4.0]))


# ---------------------------------------------------------------- QWK and rounding


def _qwk_bruteforce(a: list[int], b: list[int], labels: list[int]) -> float:
    """sklearn's cohen_kappa_score(weights="quadratic", labels=labels), written out."""
    k, n = len(labels), len(a)
    pos = {c: i for i, c in enumerate(labels)}
    observed = [[0.0] * k for _ in range(k)]
    for x, y in zip(a, b, strict=True):
        observed[pos[x]][pos[y]] += 1
    rows = [sum(observed[i]) for i in range(k)]
    cols = [sum(observed[i][j] for i in range(k)) for j in range(k)]
    num = sum((i - j) ** 2 * observed[i][j] for i in range(k) for j in range(k))
    den = sum((i - j) ** 2 * rows[i] * cols[j] / n for i in range(k) for j in range(k))
    return 1 - num / den


def test_qwk_hand_computed() -> None:
    # O has (0,0), (1,2), (2,2): sum W*O = 1. Margins a = [1,1,1], b = [1,0,2]; E[i,j] = b_j/3,
    # sum W*E = 8/3 + 1 + 4/3 = 5, so kappa = 1 - 1/5.
    assert quadratic_weighted_kappa([0, 1, 2], [0, 2, 2]) == pytest.approx(0.8)
    assert quadratic_weighted_kappa([1, 2, 3, 4], [1, 2, 3, 4]) == 1.0
    # perfect reversal on two categories: O = [[0,1],[1,0]], E = [[.5,.5],[.5,.5]] -> -1
    assert quadratic_weighted_kappa([1, 2], [2, 1]) == pytest.approx(-1.0)
    # default categories span min..max: 1 vs 3 is two steps apart even though 2 is unused;
    # with categories [1, 3] (sklearn's default labels) the same data are one step apart
    a, b = [1, 1, 3, 3, 1], [1, 3, 3, 3, 1]
    assert quadratic_weighted_kappa(a, b) == pytest.approx(_qwk_bruteforce(a, b, [1, 2, 3]))
    assert quadratic_weighted_kappa(a, b, categories=[1, 3]) == pytest.approx(
        _qwk_bruteforce(a, b, [1, 3])
    )
    assert math.isnan(quadratic_weighted_kappa([2, 2], [2, 2]))
    assert math.isnan(quadratic_weighted_kappa([2, 2], [2, 2], categories=[1, 2, 3]))


@pytest.mark.parametrize("n", SIZES[1:])
def test_qwk_bruteforce_and_moment_identity(n: int) -> None:
    rng = Generator(PCG64(n))
    a = rng.integers(1, 6, n)
    b = np.clip(a + rng.integers(-1, 2, n), 1, 5)
    if len(set(a) | set(b)) < 2:
        return
    kappa = quadratic_weighted_kappa(a, b, categories=[1, 2, 3, 4, 5])
    expected = _qwk_bruteforce(list(a), list(b), [1, 2, 3, 4, 5])
    assert kappa == pytest.approx(expected, abs=1e-12)
    # quadratic kappa = 2 cov / (var a + var b + (mean a - mean b)^2), population moments
    cov = np.mean((a - a.mean()) * (b - b.mean()))
    assert kappa == pytest.approx(2 * cov / (a.var() + b.var() + (a.mean() - b.mean()) ** 2))


def test_round_to_scale() -> None:
    values = [2.5, 2.49, 3.5, -0.5, 0.49999999999999994, 7.2, 11.0, 0.2, 9.5]
    assert round_to_scale(values, 0, 10) == [3, 2, 4, 0, 0, 7, 10, 0, 10]
    assert round_to_scale(values, 1, 9) == [3, 2, 4, 1, 1, 7, 9, 1, 9]
    assert round_to_scale([-2.5], -5, 5) == [-2]


# ---------------------------------------------------------------- agreement


def _reference_rows(a: np.ndarray, b: np.ndarray, idx: np.ndarray) -> dict[str, np.ndarray]:
    rows: dict[str, list[float]] = {"spearman": [], "kendall": []}
    for row in idx:
        x, y = a[row], b[row]
        constant = x.min() == x.max() or y.min() == y.max()
        rows["spearman"].append(math.nan if constant else sps.spearmanr(x, y).statistic)
        rows["kendall"].append(math.nan if constant else sps.kendalltau(x, y).statistic)
    return {k: np.array(v) for k, v in rows.items()}


@pytest.mark.parametrize("n", [3, 8, 40, 101])
def test_vectorised_resample_statistics_equal_scipy(n: int) -> None:
    a, b = _scores(n, n)
    idx = Generator(PCG64(6)).integers(0, n, size=(200, n))
    ref = _reference_rows(a, b, idx)
    np.testing.assert_allclose(st._spearman_rows(a, b, idx), ref["spearman"], atol=1e-12)
    np.testing.assert_allclose(st._kendall_rows(a, b, idx), ref["kendall"], atol=1e-12)
    ra = np.array(round_to_scale(a, 1, 10))
    rb = np.array(round_to_scale(b, 1, 10))
    ia, ib = ra - 1, rb - 1
    kappas = st._qwk_rows(ia, ib, 10, idx)
    for row, kappa in zip(idx, kappas, strict=True):
        x, y = list(ra[row]), list(rb[row])
        if len(set(x) | set(y)) < 2:
            assert math.isnan(kappa)
        else:
            assert kappa == pytest.approx(_qwk_bruteforce(x, y, list(range(1, 11))), abs=1e-12)


def test_kendall_fallback_matches_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = _scores(30, 2)
    idx = Generator(PCG64(1)).integers(0, 30, size=(50, 30))
    kernel = st._kendall_rows(a, b, idx)
    monkeypatch.setattr(st, "_KENDALL_KERNEL_MAX_DISTINCT", 5)
    np.testing.assert_allclose(st._kendall_rows(a, b, idx), kernel, atol=1e-12)


def test_agreement() -> None:
    a, b = _scores(60, 5)
    ag = agreement(a, b, scale=(1, 10), seed=2, n_boot=400)
    assert isinstance(ag, Agreement) and ag.n == 60
    assert ag.spearman == spearman(a, b) and ag.kendall == kendall_tau_b(a, b)
    ra, rb = round_to_scale(a, 1, 10), round_to_scale(b, 1, 10)
    assert ag.kappa == quadratic_weighted_kappa(ra, rb, categories=range(1, 11))
    idx = Generator(PCG64(2)).integers(0, 60, size=(400, 60))
    ref = _reference_rows(a, b, idx)
    for ci, rows in ((ag.spearman_ci, ref["spearman"]), (ag.kendall_ci, ref["kendall"])):
        low, high = np.quantile(rows[~np.isnan(rows)], [0.025, 0.975])
        assert (ci.low, ci.high) == pytest.approx((low, high), abs=1e-12)
    assert ag.kappa_ci is not None and ag.kappa is not None
    assert ag.kappa_ci.low <= ag.kappa <= ag.kappa_ci.high
    assert ag.spearman_ci.low <= ag.spearman <= ag.spearman_ci.high
    plain = agreement(a, b, seed=2, n_boot=400)
    assert plain.kappa is None and plain.kappa_ci is None
    assert plain.spearman_ci == ag.spearman_ci


def test_agreement_drops_undefined_resamples() -> None:
    a = [1.0, 1.0, 1.0, 1.0, 1.0, 2.0]
    b = [3.0, 3.0, 3.0, 3.0, 4.0, 5.0]
    ag = agreement(a, b, seed=0, n_boot=500)
    assert not math.isnan(ag.spearman_ci.low) and ag.spearman_ci.high <= 1.0
