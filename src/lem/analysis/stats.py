"""Statistics behind every lem report and scorer-agreement command.

Everything here is a pure function over one-dimensional sequences of finite floats. Empty input,
NaN/infinite values and length mismatches raise :class:`ValueError` with a message naming the
problem, so a bad column fails loudly instead of producing a quietly wrong table.

Reproducibility: every resampling statistic takes a ``seed`` and draws its bootstrap indices
from ``numpy.random.Generator(PCG64(seed))`` as a single ``(n_boot, n)`` matrix, exactly the
draw ``scipy.stats.bootstrap`` makes with the same generator, so the percentile and BCa
intervals here equal scipy's for the same seed. The same ``(seed, n, n_boot)`` always gives the
same index matrix; small matrices are cached (read-only), which is what keeps a report with a
hundred comparisons of the same size well under a second.

Conventions worth knowing when reading a report:

* the CI of a mean in :func:`describe` and :func:`paired_comparison` comes from
  :func:`mean_ci`: the symmetric studentized bootstrap (bootstrap-t) from ``n = 10`` probes,
  the t interval below that (``ci_method`` says which); :func:`bootstrap_mean_ci` and
  :func:`bootstrap_ci` also offer percentile and BCa intervals (``numpy.quantile``, linear
  interpolation);
* paired differences are rounded to 9 decimals (:func:`paired_deltas`) before anything is
  ranked, tested or compared with the band, so ties that exist in decimal scores stay ties;
* sample standard deviations use ``ddof=1`` and are exactly 0.0 for constant data or ``n < 2``;
  with zero variance, dz and the MDE are undefined (NaN, ``None`` in ``as_dict``);
* correlations of constant input are NaN (undefined), reported as ``None`` by ``as_dict``.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from numpy.random import PCG64, Generator
from scipy import optimize, special
from scipy import stats as sps

__all__ = [
    "CI",
    "Agreement",
    "Description",
    "PairedComparison",
    "agreement",
    "bootstrap_ci",
    "bootstrap_mean_ci",
    "cohens_dz",
    "describe",
    "holm",
    "kendall_tau_b",
    "mde_paired",
    "mde_wilcoxon",
    "mean_ci",
    "paired_comparison",
    "paired_deltas",
    "quadratic_weighted_kappa",
    "rank_biserial",
    "round_to_scale",
    "spearman",
    "studentized_rows",
    "t_interval",
    "wilcoxon_signed_rank",
]

Values = Sequence[float] | npt.NDArray[Any]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

_CACHE_MAX_ELEMENTS = 2_000_000
_KENDALL_KERNEL_MAX_DISTINCT = 1_000
PERMUTATION_MAX_N = 13
"""Wilcoxon with ties or zeros: exact sign-flip permutation up to this n (as scipy's auto)."""
EXACT_MAX_N = 50
"""Wilcoxon without ties or zeros: exact null distribution up to this n, normal above."""
SMALL_N = 10
"""Below this many values a mean's CI is the t interval, not the bootstrap."""
DELTA_DECIMALS = 9
"""Paired differences are rounded to this many decimals before ranking and the band."""
MDE_SIMULATIONS = 4_000
"""Simulated data sets behind a Wilcoxon MDE (``n <= 50``; larger ``n`` is analytic)."""
_MEAN_STATISTICS: tuple[Callable[..., Any], ...] = (np.mean, statistics.mean, statistics.fmean)


def _json_value(value: object) -> Any:
    if isinstance(value, CI):
        return value.as_dict()
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        if not math.isfinite(number):
            return None
        return round(number, 6) + 0.0
    return value


def _as_dict(obj: Any) -> dict[str, Any]:
    return {f.name: _json_value(getattr(obj, f.name)) for f in fields(obj)}


@dataclass(frozen=True)
class CI:
    """A two-sided confidence interval ``[low, high]`` at confidence ``level``.

    ``low``/``high`` are NaN when no resample gave a defined statistic.
    """

    low: float
    high: float
    level: float = 0.95

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict: floats rounded to 6 decimals, NaN/inf as ``None``."""
        return _as_dict(self)


@dataclass(frozen=True)
class Description:
    """Summary of one sample: size, centre, spread and a bootstrap CI of the mean."""

    n: int
    mean: float
    median: float
    sd: float
    ci: CI
    ci_method: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict: floats rounded to 6 decimals, NaN/inf as ``None``."""
        return _as_dict(self)


@dataclass(frozen=True)
class PairedComparison:
    """Baseline ``a`` versus condition ``b`` on the same probes (``delta = b - a``).

    ``ci_method`` names the interval (:func:`mean_ci`); ``mde`` is the Wilcoxon MDE at
    ``mde_alpha`` (:func:`mde_wilcoxon`): NaN when the deltas have no variance, ``inf`` when
    no outcome at this ``n`` can reach ``mde_alpha``.
    """

    n: int
    mean_a: float
    mean_b: float
    mean_delta: float
    ci: CI
    ci_method: str
    p_wilcoxon: float
    dz: float
    rank_biserial: float
    improved: int
    regressed: int
    unchanged: int
    mde: float
    mde_alpha: float
    sd_delta: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict: floats rounded to 6 decimals, NaN/inf as ``None``."""
        return _as_dict(self)


@dataclass(frozen=True)
class Agreement:
    """Rank agreement (and optionally QWK) between two scorers over the same items."""

    n: int
    spearman: float
    spearman_ci: CI
    kendall: float
    kendall_ci: CI
    kappa: float | None
    kappa_ci: CI | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict: floats rounded to 6 decimals, NaN/inf as ``None``."""
        return _as_dict(self)


def _vector(values: Values, name: str = "values") -> FloatArray:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a sequence of numbers: {exc}") from exc
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty; need at least one value")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values; inputs must be finite")
    return arr


def _pair(a: Values, b: Values) -> tuple[FloatArray, FloatArray]:
    x, y = _vector(a, "a"), _vector(b, "b")
    if x.size != y.size:
        raise ValueError(f"a and b must have the same length, got {x.size} and {y.size}")
    return x, y


def _check_resampling(n_boot: int, level: float) -> None:
    if int(n_boot) != n_boot or n_boot < 1:
        raise ValueError(f"n_boot must be a positive integer, got {n_boot!r}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be strictly between 0 and 1, got {level!r}")


def _is_constant(x: FloatArray) -> bool:
    return bool(x.min() == x.max())


def _mean(x: FloatArray) -> float:
    return float(x[0]) if _is_constant(x) else float(x.mean())


def _sd(x: FloatArray) -> float:
    if x.size < 2 or _is_constant(x):
        return 0.0
    return float(x.std(ddof=1))


def _draw_indices(seed: int, n: int, n_boot: int) -> IntArray:
    idx: IntArray = Generator(PCG64(seed)).integers(0, n, size=(n_boot, n))
    idx.setflags(write=False)
    return idx


_cached_indices = lru_cache(maxsize=8)(_draw_indices)


def _indices(seed: int, n: int, n_boot: int) -> IntArray:
    """The ``(n_boot, n)`` bootstrap index matrix for ``seed`` (cached when small)."""
    if n * n_boot <= _CACHE_MAX_ELEMENTS:
        return _cached_indices(int(seed), int(n), int(n_boot))
    return _draw_indices(seed, n, n_boot)


def _percentile_ci(boot: FloatArray, level: float) -> CI:
    kept = boot[~np.isnan(boot)]
    if kept.size == 0:
        return CI(math.nan, math.nan, level)
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(kept, [tail, 1.0 - tail])
    return CI(float(low), float(high), level)


def _bca_ci(x: FloatArray, boot: FloatArray, level: float) -> CI:
    n = x.size
    theta = x.mean()
    share_below = (np.count_nonzero(boot < theta) + np.count_nonzero(boot <= theta)) / (
        2 * boot.size
    )
    z0 = special.ndtri(share_below)
    jack = (x.sum() - x) / (n - 1)
    u = (n - 1) * (jack.mean() - jack)
    accel = (np.sum(u**3) / n**3) / np.sum(u**2 / n**2) ** 1.5 / 6.0
    z_tail = special.ndtri((1.0 - level) / 2.0)
    probs = []
    for z in (z_tail, -z_tail):
        num = z0 + z
        probs.append(special.ndtr(z0 + num / (1.0 - accel * num)))
    if not np.isfinite(probs).all():
        return _percentile_ci(boot, level)
    low, high = np.quantile(boot, probs)
    return CI(float(low), float(high), level)


_STUDENTIZED_CHUNK = 4_000_000


def studentized_rows(x: FloatArray, idx: IntArray, level: float) -> tuple[FloatArray, FloatArray]:
    """Symmetric studentized bootstrap (bootstrap-t) CIs of the mean of each row of ``x``.

    ``x`` has shape ``(sets, n)``; every row is resampled with the same ``(n_boot, n)`` index
    matrix ``idx``. Per resample ``t* = |mean* - mean| / sd*`` (``ddof=1``); with ``q`` the
    ``level`` quantile of ``t*`` (linear interpolation) the interval is ``mean ± q * sd``. A
    constant resample has no sd: its ``t*`` is 0 when its value is the mean and ``+inf``
    otherwise (an extreme resample, not a dropped one), so a sample where such resamples pass
    ``1 - level`` gets an unbounded interval. Rows are processed in chunks of bounded memory,
    so one call covers thousands of simulated data sets (the coverage test).
    """
    sets, n = x.shape
    n_boot = idx.shape[0]
    low = np.empty(sets)
    high = np.empty(sets)
    step = max(1, _STUDENTIZED_CHUNK // (n_boot * n))
    for start in range(0, sets, step):
        block = x[start : start + step]
        mean = block.mean(axis=1)
        centred = block - mean[:, None]
        sd = np.sqrt(np.einsum("ij,ij->i", centred, centred) / (n - 1))
        resampled = np.take(centred, idx, axis=1)
        mb = resampled.mean(axis=2)
        squares = np.einsum("ijk,ijk->ij", resampled, resampled)
        var = np.maximum(squares - n * mb * mb, 0.0) / (n - 1)
        # a constant resample's variance is rounding noise (~1e-16 of the scale squared);
        # resamples this flat would have an astronomically large t* anyway
        scale = np.abs(centred).max(axis=1)[:, None]
        flat = var <= 1e-12 * scale * scale
        at_mean = np.abs(mb) <= 1e-9 * scale
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(flat, np.where(at_mean, 0.0, np.inf), np.abs(mb) / np.sqrt(var))
        with np.errstate(invalid="ignore"):  # interpolating between two infinities
            q = np.quantile(t, level, axis=1)
        q[np.isnan(q)] = np.inf
        with np.errstate(invalid="ignore"):
            half = np.where(sd == 0, 0.0, q * sd)
        low[start : start + step] = mean - half
        high[start : start + step] = mean + half
    return low, high


def t_interval(values: Values, *, level: float = 0.95) -> CI:
    """The t interval ``mean ± t_{n-1} * sd / sqrt(n)``; NaN bounds for a single value."""
    x = _vector(values)
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be strictly between 0 and 1, got {level!r}")
    if x.size < 2:
        return CI(math.nan, math.nan, level)
    mean, sd = _mean(x), _sd(x)
    if sd == 0:
        return CI(mean, mean, level)
    half = float(sps.t.ppf(0.5 + level / 2.0, x.size - 1)) * sd / math.sqrt(x.size)
    return CI(mean - half, mean + half, level)


def bootstrap_mean_ci(
    values: Values,
    *,
    seed: int = 0,
    n_boot: int = 10_000,
    level: float = 0.95,
    method: Literal["percentile", "bca", "studentized"] = "percentile",
) -> CI:
    """Bootstrap CI of the mean of ``values``.

    ``method="percentile"`` (default) takes the ``(1-level)/2`` and ``1-(1-level)/2`` quantiles
    of ``n_boot`` resampled means; ``"bca"`` applies Efron's bias correction and jackknife
    acceleration (falling back to percentile if the correction is undefined, which needs the
    whole bootstrap distribution on one side of the estimate). Both equal
    ``scipy.stats.bootstrap`` run with ``rng=Generator(PCG64(seed))``. ``"studentized"`` is the
    symmetric bootstrap-t (:func:`studentized_rows`) on the same resamples. Constant data
    (including ``n == 1``) give the degenerate interval ``[x, x]``.

    Percentile and BCa intervals run short in small or skewed samples: simulated coverage of a
    nominal 95% interval is 91-93% at n = 20 and 93-93.5% at n = 40 (normal, gamma(4) data);
    BCa does not do better for a mean. The symmetric bootstrap-t covers 94.7-95.5% there (and
    96.5% for t(3) data); see ``tests/test_stats.py``.
    """
    x = _vector(values)
    _check_resampling(n_boot, level)
    if method not in ("percentile", "bca", "studentized"):
        raise ValueError(f"method must be 'percentile', 'bca' or 'studentized', got {method!r}")
    if _is_constant(x):
        return CI(float(x[0]), float(x[0]), level)
    idx = _indices(seed, x.size, n_boot)
    if method == "studentized":
        low, high = studentized_rows(x[None, :], idx, level)
        return CI(float(low[0]), float(high[0]), level)
    boot = x[idx].mean(axis=1)
    if method == "bca":
        return _bca_ci(x, boot, level)
    return _percentile_ci(boot, level)


def mean_ci(
    values: Values, *, seed: int = 0, n_boot: int = 10_000, level: float = 0.95
) -> tuple[CI, str]:
    """The CI of a mean that lem reports, and its ``ci_method``.

    From ``n = 10`` values: the symmetric studentized bootstrap (``"studentized-bootstrap"``,
    :func:`bootstrap_mean_ci`), which keeps nominal coverage at n = 20-40 where percentile
    and BCa intervals fall to 92-93%. Below 10 values a bootstrap distribution has too few
    distinct resamples to trust: the t interval (``"t"``, :func:`t_interval`; NaN for one
    value). Constant data give ``[x, x]`` either way.
    """
    x = _vector(values)
    _check_resampling(n_boot, level)
    if x.size < SMALL_N:
        return t_interval(x, level=level), "t"
    ci = bootstrap_mean_ci(x, seed=seed, n_boot=n_boot, level=level, method="studentized")
    return ci, "studentized-bootstrap"


def bootstrap_ci(
    statistic: Callable[..., Any],
    *arrays: Values,
    seed: int = 0,
    n_boot: int = 2_000,
    level: float = 0.95,
    paired: bool = True,
    vectorised: bool = False,
) -> CI:
    """Percentile bootstrap CI of ``statistic(*arrays)``.

    ``paired=True`` resamples the same row indices in every array (arrays must have equal
    length: they describe the same items); ``paired=False`` resamples each array independently,
    in order, from one generator. With ``vectorised=True`` the statistic is called once with 2-D
    arrays of shape ``(n_boot, len)`` (one resample per row) and must return ``n_boot`` values;
    otherwise it is called once per resample with 1-D arrays. Resamples where the statistic is
    NaN are dropped. ``statistic`` being ``np.mean``/``statistics.mean``/``statistics.fmean`` on
    a single array takes the :func:`bootstrap_mean_ci` fast path (same indices, same interval).
    """
    if not arrays:
        raise ValueError("bootstrap_ci needs at least one array")
    xs = [_vector(arr, f"arrays[{i}]") for i, arr in enumerate(arrays)]
    _check_resampling(n_boot, level)
    if statistic in _MEAN_STATISTICS and len(xs) == 1:
        return bootstrap_mean_ci(xs[0], seed=seed, n_boot=n_boot, level=level)
    if paired:
        sizes = {x.size for x in xs}
        if len(sizes) != 1:
            raise ValueError(
                f"paired bootstrap needs arrays of equal length, got {[x.size for x in xs]}"
            )
        idx = _indices(seed, xs[0].size, n_boot)
        resampled = [x[idx] for x in xs]
    else:
        rng = Generator(PCG64(seed))
        resampled = [x[rng.integers(0, x.size, size=(n_boot, x.size))] for x in xs]
    if vectorised:
        boot = np.asarray(statistic(*resampled), dtype=np.float64)
        if boot.shape != (n_boot,):
            raise ValueError(
                f"a vectorised statistic must return one value per resample, shape ({n_boot},);"
                f" got {boot.shape}"
            )
    else:
        boot = np.fromiter(
            (statistic(*(r[i] for r in resampled)) for i in range(n_boot)),
            dtype=np.float64,
            count=n_boot,
        )
    return _percentile_ci(boot, level)


def describe(
    values: Values, *, seed: int = 0, n_boot: int = 10_000, level: float = 0.95
) -> Description:
    """Size, mean, median, sample SD (``ddof=1``; 0.0 if ``n < 2``) and the CI of the mean
    from :func:`mean_ci` (``ci_method`` names it)."""
    x = _vector(values)
    ci, method = mean_ci(x, seed=seed, n_boot=n_boot, level=level)
    return Description(
        n=int(x.size),
        mean=_mean(x),
        median=float(np.median(x)),
        sd=_sd(x),
        ci=ci,
        ci_method=method,
    )


def _signflip_pvalue(d: FloatArray) -> float:
    """Two-sided p from the exact sign-flip distribution of W+ (ties averaged, zeros dropped).

    This is the permutation test scipy's ``method="auto"`` runs for ``n <= 13`` with ties or
    zeros, computed by convolution over doubled (integer) ranks instead of 2**n statistic calls.
    """
    nonzero = d[d != 0]
    twice = np.rint(2.0 * sps.rankdata(np.abs(nonzero))).astype(np.int64)
    observed = int(twice[nonzero > 0].sum())
    counts = np.zeros(int(twice.sum()) + 1, dtype=np.int64)
    counts[0] = 1
    for r in twice:
        counts[r:] = counts[r:] + counts[:-r]
    total = float(2**nonzero.size)
    below = float(counts[: observed + 1].sum()) / total
    above = float(counts[observed:].sum()) / total
    return min(1.0, 2.0 * min(below, above))


def wilcoxon_signed_rank(deltas: Values) -> float:
    """Two-sided p of the Wilcoxon signed-rank test on paired differences.

    Equals ``scipy.stats.wilcoxon(deltas, zero_method="wilcox", correction=False,
    method="auto").pvalue`` (``method`` is what older scipy called ``mode``): zero differences
    dropped; the exact null distribution without ties or zeros for ``n <= 50``; the exact
    sign-flip permutation distribution with ties or zeros for ``n <= 13`` (computed here
    directly, as scipy's version makes 2**n Python calls, seconds per comparison); the normal
    approximation otherwise. All-zero differences carry no evidence of a shift: ``p = 1.0``.
    """
    d = _vector(deltas, "deltas")
    if not d.any():
        return 1.0
    if d.size <= PERMUTATION_MAX_N:
        nonzero = d[d != 0]
        if nonzero.size < d.size or np.unique(np.abs(nonzero)).size < nonzero.size:
            return _signflip_pvalue(d)
    result = sps.wilcoxon(d, zero_method="wilcox", correction=False, method="auto")
    return float(result.pvalue)


def cohens_dz(deltas: Values) -> float:
    """Cohen's d_z: mean difference over its sample SD (``ddof=1``).

    Undefined (NaN) when the SD is 0 (every difference equal, all zero included) and for a
    single difference. Pass differences rounded by :func:`paired_deltas`: a constant shift of
    decimal scores computed in floating point has an SD of 1e-16, not 0.
    """
    d = _vector(deltas, "deltas")
    if d.size < 2 or _is_constant(d):
        return math.nan
    return float(d.mean() / d.std(ddof=1))


def rank_biserial(deltas: Values) -> float:
    """Matched-pairs rank-biserial correlation ``(W+ - W-) / (W+ + W-)``.

    Ranks are of ``|delta|`` over the non-zero differences, ties given their average rank (the
    same ranks the Wilcoxon test uses). All-zero differences give 0.0.
    """
    d = _vector(deltas, "deltas")
    nonzero = d[d != 0]
    if nonzero.size == 0:
        return 0.0
    ranks = sps.rankdata(np.abs(nonzero))
    w_plus = float(ranks[nonzero > 0].sum())
    w_minus = float(ranks[nonzero < 0].sum())
    return (w_plus - w_minus) / (w_plus + w_minus)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in input order.

    The k-th smallest of m p-values is multiplied by ``m - k + 1``, made monotone with a running
    maximum and capped at 1 (as statsmodels' ``multipletests(method="holm")``). An empty family
    gives an empty list.
    """
    p = np.asarray(pvalues, dtype=np.float64)
    if p.ndim != 1:
        raise ValueError(f"pvalues must be one-dimensional, got shape {p.shape}")
    if p.size == 0:
        return []
    if np.isnan(p).any() or (p < 0).any() or (p > 1).any():
        raise ValueError("pvalues must all lie in [0, 1] (no NaN)")
    m = p.size
    order = np.argsort(p, kind="stable")
    adjusted = np.minimum(np.maximum.accumulate(p[order] * np.arange(m, 0, -1)), 1.0)
    out = np.empty(m)
    out[order] = adjusted
    return [float(v) for v in out]


def _two_sided_power(nc: float, df: int, t_crit: float) -> float:
    # P(T < -t) under nc is P(T > t) under -nc; scipy's nct.cdf is NaN deep in the left tail
    return float(sps.nct.sf(t_crit, df, nc) + sps.nct.sf(t_crit, df, -nc))


@lru_cache(maxsize=4096)
def _standardised_mde(n: int, alpha: float, power: float) -> float:
    df = n - 1
    t_crit = float(sps.t.ppf(1.0 - alpha / 2.0, df))
    root_n = math.sqrt(n)

    def gap(effect: float) -> float:
        return _two_sided_power(effect * root_n, df, t_crit) - power

    high = (special.ndtri(1.0 - alpha / 2.0) + special.ndtri(power)) / root_n
    while gap(high) < 0:
        high *= 2.0
    return float(optimize.brentq(gap, 0.0, high, xtol=1e-14, rtol=1e-15, maxiter=500))


def mde_paired(sd_delta: float, n: int, *, alpha: float = 0.05, power: float = 0.8) -> float:
    """Smallest true mean difference a two-sided paired t-test detects with ``power``.

    Solves ``P(|T| > t_{1-alpha/2, n-1}) = power`` exactly, with ``T`` noncentral t on ``n-1``
    df and noncentrality ``mde * sqrt(n) / sd_delta`` (both tails counted), by Brent's method.
    ``n < 2`` gives ``inf`` (no test possible); ``sd_delta == 0`` gives NaN (undefined).
    """
    if not math.isfinite(sd_delta) or sd_delta < 0:
        raise ValueError(f"sd_delta must be finite and >= 0, got {sd_delta!r}")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be strictly between 0 and 1, got {alpha!r}")
    if not alpha < power < 1.0:
        raise ValueError(f"power must lie strictly between alpha ({alpha}) and 1, got {power!r}")
    if n < 2:
        return math.inf
    if sd_delta == 0:
        return math.nan
    return sd_delta * _standardised_mde(int(n), float(alpha), float(power))


@lru_cache(maxsize=512)
def _wilcoxon_critical(n: int, alpha: float) -> int | None:
    """Smallest ``W+`` whose two-sided Wilcoxon p (no ties, no zeros) is below ``alpha``.

    The p-values are those :func:`wilcoxon_signed_rank` gives continuous data: the exact null
    distribution for ``n <= 50``, the normal approximation without continuity correction
    above. By symmetry ``W+ <= n(n+1)/2 - c`` is the lower rejection region. None when no
    outcome reaches ``alpha`` (e.g. n = 5 at 0.05: the smallest p is 2/32).
    """
    total = n * (n + 1) // 2
    w = np.arange(total + 1)
    if n <= EXACT_MAX_N:
        counts = np.zeros(total + 1)
        counts[0] = 1.0
        for r in range(1, n + 1):
            counts[r:] = counts[r:] + counts[:-r]
        upper = np.cumsum(counts[::-1])[::-1] / 2.0**n
        p = np.minimum(1.0, 2.0 * upper)
    else:
        se = math.sqrt(n * (n + 1) * (2 * n + 1) / 24.0)
        p = 2.0 * special.ndtr(-(w - total / 2.0) / se)
    hits = np.flatnonzero((2 * w > total) & (p < alpha))
    return int(hits[0]) if hits.size else None


def _bivariate_upper(h: float, k: float, rho: float) -> float:
    """``P(Z1 <= h, Z2 <= k)`` for standard normals with correlation ``rho``; ``h, k > 0``."""
    root = math.sqrt(1.0 - rho * rho)
    return float(
        0.5 * (special.ndtr(h) + special.ndtr(k))
        - special.owens_t(h, (k - rho * h) / (h * root))
        - special.owens_t(k, (h - rho * k) / (k * root))
    )


def _wilcoxon_power_normal(shift: float, n: int, critical: int) -> float:
    """Power of the two-sided Wilcoxon test for N(shift, 1) differences, by Lehmann's normal
    approximation of ``W+`` under the alternative (exact mean and variance)."""
    p1 = float(special.ndtr(shift))
    p2 = float(special.ndtr(math.sqrt(2.0) * shift))
    p3 = _bivariate_upper(shift, math.sqrt(2.0) * shift, 1.0 / math.sqrt(2.0))
    p4 = _bivariate_upper(math.sqrt(2.0) * shift, math.sqrt(2.0) * shift, 0.5)
    pairs = n * (n - 1) / 2.0
    mean = n * p1 + pairs * p2
    var = (
        n * p1 * (1.0 - p1)
        + pairs * p2 * (1.0 - p2)
        + n * (n - 1) * (n - 2) * (p4 - p2 * p2)
        + 2.0 * n * (n - 1) * (p3 - p1 * p2)
    )
    sd = math.sqrt(max(var, 1e-300))
    total = n * (n + 1) / 2.0
    upper = special.ndtr((mean - (critical - 0.5)) / sd)
    lower = special.ndtr((total - critical + 0.5 - mean) / sd)
    return float(upper + lower)


@lru_cache(maxsize=256)
def _standardised_wilcoxon_mde(n: int, alpha: float, power: float, seed: int, n_sim: int) -> float:
    """Wilcoxon MDE in units of the SD of normal differences (``inf`` when unreachable).

    ``n <= 50`` (the exact test): simulated. For a data set ``z`` and shift ``s``, ``W+`` of
    ``z + s`` is the number of Walsh sums ``z_i + z_j`` (``i <= j``) above ``-2s``, so each
    simulated set rejects for every shift above one order statistic of its Walsh sums; the
    MDE is the smallest shift where the share of rejecting sets reaches ``power``. ``n > 50``
    (the normal-approximation test): Lehmann's normal approximation of the power, solved by
    Brent's method.
    """
    critical = _wilcoxon_critical(n, alpha)
    if critical is None:
        return math.inf
    total = n * (n + 1) // 2
    if n > EXACT_MAX_N:

        def gap(shift: float) -> float:
            return _wilcoxon_power_normal(shift, n, critical) - power

        high = 4.0 / math.sqrt(n)
        while gap(high) < 0:
            high *= 2.0
        return float(optimize.brentq(gap, 1e-9, high, xtol=1e-12, maxiter=500))
    # one column per simulated set: gathering rows of the (n, n_sim) matrix is contiguous
    z = np.ascontiguousarray(Generator(PCG64(seed)).standard_normal((n_sim, n)).T)
    first, second = np.triu_indices(n)
    hi_at = np.empty(n_sim)
    lo_at = np.empty(n_sim)
    step = max(1, 2_000_000 // total)
    for start in range(0, n_sim, step):
        block = z[:, start : start + step]
        walsh = np.ascontiguousarray((block[first] + block[second]).T)
        walsh.partition((total - critical, critical - 1), axis=1)
        hi_at[start : start + step] = -walsh[:, total - critical] / 2.0
        lo_at[start : start + step] = -walsh[:, critical - 1] / 2.0
    hi_at.sort()
    lo_at.sort()
    above = np.arange(1, n_sim + 1) / n_sim
    below = (n_sim - np.searchsorted(lo_at, hi_at, side="right")) / n_sim
    reached = np.flatnonzero((hi_at >= 0) & (above + below >= power))
    return float(hi_at[reached[0]])


def mde_wilcoxon(
    sd_delta: float,
    n: int,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    seed: int = 0,
    n_sim: int = MDE_SIMULATIONS,
) -> float:
    """Smallest true mean shift the two-sided Wilcoxon signed-rank test at ``alpha`` detects
    with ``power``, for normally distributed differences with SD ``sd_delta``.

    This is the test :func:`paired_comparison` reports; pass Holm's first-step level
    ``alpha / m`` for a family of ``m`` comparisons (what one real effect among nulls must
    reach). ``n <= 50``: simulated over ``n_sim`` data sets drawn with ``seed`` (the exact
    test); ``n > 50``: Lehmann's normal approximation (the test's own normal approximation).
    ``inf`` when no outcome at this ``n`` reaches ``alpha``; NaN when ``sd_delta == 0``.
    """
    if not math.isfinite(sd_delta) or sd_delta < 0:
        raise ValueError(f"sd_delta must be finite and >= 0, got {sd_delta!r}")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be strictly between 0 and 1, got {alpha!r}")
    if not alpha < power < 1.0:
        raise ValueError(f"power must lie strictly between alpha ({alpha}) and 1, got {power!r}")
    if int(n_sim) != n_sim or n_sim < 100:
        raise ValueError(f"n_sim must be an integer >= 100, got {n_sim!r}")
    if sd_delta == 0:
        return math.nan
    if n < 1:
        return math.inf
    standardised = _standardised_wilcoxon_mde(
        int(n), float(alpha), float(power), int(seed), int(n_sim)
    )
    return sd_delta * standardised


def paired_deltas(a: Values, b: Values, *, decimals: int = DELTA_DECIMALS) -> FloatArray:
    """``b - a`` rounded to ``decimals`` places (``-0.0`` made ``0.0``).

    Scores with one or two decimals are not exact in binary: ``21.5 - 21.3`` and ``8.0 - 7.8``
    differ in the 16th digit, which would split a tie the data have and move the Wilcoxon
    test between its exact and approximate paths. Rounding to 1e-9 restores the decimal
    differences and leaves any real precision alone.
    """
    x, y = _pair(a, b)
    out: FloatArray = np.round(y - x, decimals) + 0.0
    return out


def paired_comparison(
    a: Values,
    b: Values,
    *,
    band: float = 0.5,
    seed: int = 0,
    n_boot: int = 10_000,
    level: float = 0.95,
    alpha: float = 0.05,
    power: float = 0.8,
    family_size: int = 1,
    mde_sims: int = MDE_SIMULATIONS,
) -> PairedComparison:
    """Compare baseline scores ``a`` with condition scores ``b`` on the same probes.

    ``delta = b - a`` rounded to 1e-9 (:func:`paired_deltas`) before anything else. A probe
    improved if ``delta > band``, regressed if ``delta < -band`` (strict, on the rounded
    delta: ``3.7 - 3.2`` is exactly 0.5, unchanged at band 0.5). The CI of the mean delta comes
    from :func:`mean_ci` (pairs resampled together); ``p_wilcoxon`` from
    :func:`wilcoxon_signed_rank`; ``mde`` is :func:`mde_wilcoxon` at ``alpha / family_size``
    (Holm's first step for a family of that many comparisons), simulated with ``seed``.
    """
    if not math.isfinite(band) or band < 0:
        raise ValueError(f"band must be finite and >= 0, got {band!r}")
    if int(family_size) != family_size or family_size < 1:
        raise ValueError(f"family_size must be a positive integer, got {family_size!r}")
    x, y = _pair(a, b)
    d = paired_deltas(x, y)
    n = int(d.size)
    sd_delta = _sd(d)
    improved = int(np.count_nonzero(d > band))
    regressed = int(np.count_nonzero(d < -band))
    ci, ci_method = mean_ci(d, seed=seed, n_boot=n_boot, level=level)
    mde_alpha = alpha / int(family_size)
    return PairedComparison(
        n=n,
        mean_a=_mean(x),
        mean_b=_mean(y),
        mean_delta=_mean(d),
        ci=ci,
        ci_method=ci_method,
        p_wilcoxon=wilcoxon_signed_rank(d),
        dz=cohens_dz(d),
        rank_biserial=rank_biserial(d),
        improved=improved,
        regressed=regressed,
        unchanged=n - improved - regressed,
        mde=mde_wilcoxon(sd_delta, n, alpha=mde_alpha, power=power, seed=seed, n_sim=mde_sims),
        mde_alpha=mde_alpha,
        sd_delta=sd_delta,
    )


def spearman(a: Values, b: Values) -> float:
    """Spearman's rho (``scipy.stats.spearmanr``); NaN if either input is constant."""
    x, y = _pair(a, b)
    if _is_constant(x) or _is_constant(y):
        return math.nan
    return float(sps.spearmanr(x, y).statistic)


def kendall_tau_b(a: Values, b: Values) -> float:
    """Kendall's tau-b (``scipy.stats.kendalltau(variant="b")``); NaN if either is constant."""
    x, y = _pair(a, b)
    if _is_constant(x) or _is_constant(y):
        return math.nan
    return float(sps.kendalltau(x, y, variant="b").statistic)


def _integer_codes(x: FloatArray, name: str) -> npt.NDArray[np.int64]:
    if not (x == np.round(x)).all():
        raise ValueError(
            f"{name} must hold integer categories; round decimal scores with round_to_scale first"
        )
    return x.astype(np.int64)


def _row_counts(codes: IntArray, k: int) -> FloatArray:
    """Per-row occurrence counts of codes ``0..k-1`` in a ``(rows, n)`` code matrix."""
    rows = codes.shape[0]
    flat = (codes + (np.arange(rows) * k)[:, None]).ravel()
    return np.bincount(flat, minlength=rows * k).reshape(rows, k).astype(np.float64)


def _qwk_rows(ia: IntArray, ib: IntArray, k: int, idx: IntArray) -> FloatArray:
    """Quadratic-weighted kappa for each resample (row of ``idx``) of the coded pairs."""
    grid = np.arange(k, dtype=np.float64)
    weights = (grid[:, None] - grid[None, :]) ** 2
    observed = weights[ia, ib][idx].sum(axis=1)
    rows_a = _row_counts(ia[idx], k)
    rows_b = _row_counts(ib[idx], k)
    expected = ((rows_a @ weights) * rows_b).sum(axis=1) / idx.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa = 1.0 - observed / expected
    kappa[expected == 0] = math.nan
    return kappa


def _category_positions(
    x: FloatArray, y: FloatArray, categories: Sequence[int] | None
) -> tuple[IntArray, IntArray, int]:
    ai, bi = _integer_codes(x, "a"), _integer_codes(y, "b")
    if categories is None:
        lo = min(int(ai.min()), int(bi.min()))
        hi = max(int(ai.max()), int(bi.max()))
        cats = np.arange(lo, hi + 1, dtype=np.int64)
    else:
        cats = np.asarray(categories)
        if cats.ndim != 1 or cats.size == 0:
            raise ValueError("categories must be a non-empty sequence of integers")
        if not np.issubdtype(cats.dtype, np.integer):
            raise ValueError(f"categories must be integers, got dtype {cats.dtype}")
        if np.unique(cats).size != cats.size:
            raise ValueError("categories must not repeat")
        cats = cats.astype(np.int64)
        unknown = np.setdiff1d(np.concatenate([ai, bi]), cats)
        if unknown.size:
            raise ValueError(f"values {unknown.tolist()} are not among categories")
    sorter = np.argsort(cats)
    ia = sorter[np.searchsorted(cats, ai, sorter=sorter)]
    ib = sorter[np.searchsorted(cats, bi, sorter=sorter)]
    return ia, ib, int(cats.size)


def quadratic_weighted_kappa(
    a: Values, b: Values, *, categories: Sequence[int] | None = None
) -> float:
    """Cohen's kappa with quadratic weights between two integer ratings of the same items.

    Weights are ``(i - j)**2`` for categories at positions ``i``, ``j`` of ``categories`` (in
    the order given, as sklearn's ``labels``); the default is every integer from the smallest to
    the largest value seen, so distances follow the scale even when some points are unused.
    Equals ``sklearn.metrics.cohen_kappa_score(a, b, labels=categories, weights="quadratic")``
    (sklearn's own default uses only the observed labels, which differs when values skip scale
    points). NaN when undefined (both raters constant on one category). Values must be integers.
    """
    x, y = _pair(a, b)
    ia, ib, k = _category_positions(x, y, categories)
    if k < 2:
        return math.nan
    return float(_qwk_rows(ia, ib, k, np.arange(x.size)[None, :])[0])


def round_to_scale(values: Values, lo: int, hi: int) -> list[int]:
    """Round decimal judge scores to the nearest integer scale point, clipped to ``[lo, hi]``.

    Halves round up, towards +inf (2.5 -> 3, -2.5 -> -2), not to even as Python's ``round``.
    """
    x = _vector(values)
    if int(lo) != lo or int(hi) != hi or lo > hi:
        raise ValueError(f"need integers lo <= hi, got lo={lo!r}, hi={hi!r}")
    floor = np.floor(x)
    rounded = floor + (x - floor >= 0.5)
    return [int(v) for v in np.clip(rounded, lo, hi)]


def _spearman_rows(x: FloatArray, y: FloatArray, idx: IntArray) -> FloatArray:
    """Spearman's rho of each resample (row of ``idx``), ties given average ranks."""

    def ranks(v: FloatArray) -> FloatArray:
        distinct, inverse = np.unique(v, return_inverse=True)
        codes = inverse.reshape(-1)[idx]
        counts = _row_counts(codes, distinct.size)
        average = np.cumsum(counts, axis=1) - counts / 2.0 + 0.5
        ranked: FloatArray = np.take_along_axis(average, codes, axis=1)
        return ranked - ranked.mean(axis=1, keepdims=True)

    ra, rb = ranks(x), ranks(y)
    den = np.sqrt((ra * ra).sum(axis=1) * (rb * rb).sum(axis=1))
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = (ra * rb).sum(axis=1) / den
    rho[den == 0] = math.nan
    return np.clip(rho, -1.0, 1.0)


def _kendall_rows(x: FloatArray, y: FloatArray, idx: IntArray) -> FloatArray:
    """Kendall's tau-b of each resample (row of ``idx``).

    With ``c`` a resample's multiplicities of the distinct ``(x, y)`` pairs and ``S`` the
    pairwise sign matrices, tau-b is ``c'(Sx*Sy)c / sqrt(c'|Sx|c * c'|Sy|c)`` (tied pairs drop
    out of numerator and denominators), so all resamples reduce to three matrix products.
    Too many distinct pairs makes the matrices large; then scipy is called per resample.
    """
    ux, ix = np.unique(x, return_inverse=True)
    uy, iy = np.unique(y, return_inverse=True)
    joint, code = np.unique(ix.reshape(-1) * uy.size + iy.reshape(-1), return_inverse=True)
    if joint.size > _KENDALL_KERNEL_MAX_DISTINCT:
        out = np.empty(idx.shape[0])
        for r, row in enumerate(idx):
            xr, yr = x[row], y[row]
            out[r] = kendall_tau_b(xr, yr)
        return out
    px, py = ux[joint // uy.size], uy[joint % uy.size]
    sx = np.sign(px[:, None] - px[None, :])
    sy = np.sign(py[:, None] - py[None, :])
    counts = _row_counts(code.reshape(-1)[idx], joint.size)

    def form(matrix: FloatArray) -> FloatArray:
        result: FloatArray = ((counts @ matrix) * counts).sum(axis=1)
        return result

    den = np.sqrt(form(np.abs(sx)) * form(np.abs(sy)))
    with np.errstate(divide="ignore", invalid="ignore"):
        tau = form(sx * sy) / den
    tau[den == 0] = math.nan
    return np.clip(tau, -1.0, 1.0)


def agreement(
    a: Values,
    b: Values,
    *,
    scale: tuple[int, int] | None = None,
    seed: int = 0,
    n_boot: int = 2_000,
    level: float = 0.95,
) -> Agreement:
    """How well two scorers agree on the same items.

    Spearman's rho and Kendall's tau-b always; quadratic-weighted kappa only when ``scale =
    (lo, hi)`` is given, after rounding both with :func:`round_to_scale` over categories
    ``lo..hi``. CIs are percentile bootstrap intervals over resampled item pairs, all three
    statistics sharing the same resamples; resamples where a statistic is undefined (NaN, e.g.
    a resample where one scorer is constant) are dropped before taking quantiles.
    """
    x, y = _pair(a, b)
    _check_resampling(n_boot, level)
    idx = _indices(seed, x.size, n_boot)
    kappa: float | None = None
    kappa_ci: CI | None = None
    if scale is not None:
        lo, hi = scale
        cats = list(range(int(lo), int(hi) + 1))
        xr = np.asarray(round_to_scale(x, lo, hi), dtype=np.float64)
        yr = np.asarray(round_to_scale(y, lo, hi), dtype=np.float64)
        kappa = quadratic_weighted_kappa(xr, yr, categories=cats)
        ia, ib, k = _category_positions(xr, yr, cats)
        if k < 2:
            kappa_ci = CI(math.nan, math.nan, level)
        else:
            kappa_ci = _percentile_ci(_qwk_rows(ia, ib, k, idx), level)
    return Agreement(
        n=int(x.size),
        spearman=spearman(x, y),
        spearman_ci=_percentile_ci(_spearman_rows(x, y, idx), level),
        kendall=kendall_tau_b(x, y),
        kendall_ci=_percentile_ci(_kendall_rows(x, y, idx), level),
        kappa=kappa,
        kappa_ci=kappa_ci,
    )
