"""Paraphrase robustness: a kernel effect with the probe family as the unit.

A family is a probe and its rephrasings: the same request in other words. Members of one
family are not independent evidence (a kernel that helps one wording tends to help the
others), so treating every probe as an independent draw overstates how sure we are of an
effect. Given each probe's paired delta (kernel condition − baseline) and its family:

- **family-level effect**: the mean over families of each family's mean delta, so every
  family counts once however many wordings it has; a probe without a family is a family
  of its own;
- **cluster bootstrap CI**: resample families with replacement, each drawn family bringing
  all its members; a resample's statistic is the mean of its families' mean deltas; the
  percentile interval over ``n_boot`` resamples (index matrix and percentile rule of
  :mod:`lem.analysis.stats`, so the seed means what it means everywhere else);
- **probe-level CI**: the naive percentile bootstrap of the mean delta, probes resampled as
  if independent (same seed and resamples), for comparison;
- **design effect**: the bootstrap variance of the family-level effect over that of the
  probe-level mean, both exact (``var(family means) / F`` over ``var(deltas) / n``, population
  variances): how many times larger the variance is once wordings are not counted as
  independent; its square root is roughly how much wider the interval gets;
- **sign consistency** per family: the share of members whose delta has the family's
  majority sign, where a zero delta is a sign of its own (``0``: the kernel made no
  difference to that wording; it agrees with neither direction);
- **flips with wording**: a family with one member above ``+band`` and another below
  ``−band`` (the report's improved/regressed band): the effect's direction depends on how
  the request is worded.

Deltas are rounded to 1e-9 first, as every report delta (:func:`lem.analysis.stats.paired_deltas`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from lem.analysis.stats import (
    CI,
    DELTA_DECIMALS,
    _check_resampling,
    _indices,
    _is_constant,
    _mean,
    _percentile_ci,
    _vector,
)

__all__ = [
    "FamilyAnalysis",
    "FamilyStats",
    "Sign",
    "cluster_bootstrap",
    "cluster_bootstrap_ci",
    "family_analysis",
    "family_means",
    "flips_with_wording",
    "group_families",
    "sign_consistency",
]

FloatArray = npt.NDArray[np.float64]
Sign = Literal["+", "-", "0"]
"""A delta's sign: up, down, or exactly zero (after rounding to 1e-9)."""


@dataclass(frozen=True)
class FamilyStats:
    """One family under one comparison.

    ``family`` is None for a probe without one (a family of its own); ``majority`` is None
    when two signs tie for the most members (``consistency`` is then that shared share)."""

    family: str | None
    probes: tuple[str, ...]
    deltas: tuple[float, ...]
    mean_delta: float
    positive: int
    negative: int
    zero: int
    majority: Sign | None
    consistency: float
    flips: bool

    @property
    def n(self) -> int:
        """Members scored under both conditions."""
        return len(self.deltas)


@dataclass(frozen=True)
class FamilyAnalysis:
    """A comparison's paraphrase-robustness numbers (see the module docstring).

    ``ci`` and ``probe_ci`` are NaN with fewer than two families (or probes): there is no
    spread to resample. ``ci_ratio`` (width of ``ci`` over width of ``probe_ci``),
    ``design_effect`` and ``consistency`` (mean sign consistency over families with two or
    more members) are NaN when undefined."""

    n: int
    n_families: int
    singletons: int
    unlabelled: int
    effect: float
    ci: CI
    probe_mean: float
    probe_ci: CI
    ci_ratio: float
    design_effect: float
    consistency: float
    families: tuple[FamilyStats, ...]
    flipped: tuple[str, ...]
    band: float
    n_boot: int
    seed: int


def _rounded(deltas: Any, families: Sequence[str | None] | None = None) -> FloatArray:
    """``deltas`` as finite floats rounded to 1e-9 (one per entry of ``families``)."""
    out: FloatArray = np.round(_vector(deltas, "deltas"), DELTA_DECIMALS) + 0.0
    if families is not None and len(families) != out.size:
        raise ValueError(f"deltas and families differ in length: {out.size} and {len(families)}")
    return out


def group_families(families: Sequence[str | None]) -> list[list[int]]:
    """The positions of each family's members, families in order of first appearance; a
    None (no family) is a family of its own, never merged with a named one."""
    groups: dict[str, list[int]] = {}
    out: list[list[int]] = []
    for i, fam in enumerate(families):
        if fam is None:
            out.append([i])
        elif fam in groups:
            groups[fam].append(i)
        else:
            groups[fam] = [i]
            out.append(groups[fam])
    return out


def family_means(deltas: Any, groups: Sequence[Sequence[int]]) -> FloatArray:
    """Each family's mean delta (``groups`` from :func:`group_families`)."""
    d = np.asarray(deltas, dtype=np.float64)
    return np.array([_mean(d[list(g)]) for g in groups], dtype=np.float64)


def cluster_bootstrap(
    deltas: Any,
    families: Sequence[str | None],
    *,
    seed: int = 0,
    n_boot: int = 10_000,
) -> FloatArray:
    """The cluster bootstrap distribution of the family-level effect: ``n_boot`` resamples
    of the families (with replacement, each with all its members), each resample's mean of
    its families' mean deltas. Resample ``r`` draws family indices from row ``r`` of the
    seeded ``(n_boot, F)`` index matrix that every lem bootstrap uses."""
    d = _rounded(deltas, families)
    _check_resampling(n_boot, 0.95)
    means = family_means(d, group_families(families))
    idx = _indices(seed, means.size, n_boot)
    boot: FloatArray = means[idx].mean(axis=1)
    return boot


def cluster_bootstrap_ci(
    deltas: Any,
    families: Sequence[str | None],
    *,
    seed: int = 0,
    n_boot: int = 10_000,
    level: float = 0.95,
) -> CI:
    """Percentile CI of the family-level effect from :func:`cluster_bootstrap`: NaN with
    fewer than two families, ``[x, x]`` when every family has the same mean delta."""
    d = _rounded(deltas, families)
    _check_resampling(n_boot, level)
    means = family_means(d, group_families(families))
    if means.size < 2:
        return CI(math.nan, math.nan, level)
    if _is_constant(means):
        return CI(float(means[0]), float(means[0]), level)
    return _percentile_ci(cluster_bootstrap(d, families, seed=seed, n_boot=n_boot), level)


def sign_consistency(deltas: Any) -> tuple[Sign | None, float, tuple[int, int, int]]:
    """The majority sign of ``deltas`` (None on a tie for the most members), the share of
    deltas with it, and the counts ``(positive, negative, zero)``. Zero is a sign of its
    own: a wording the kernel did not move agrees with neither direction."""
    d = _rounded(deltas)
    counts = (int(np.count_nonzero(d > 0)), int(np.count_nonzero(d < 0)))
    pos, neg = counts
    zero = int(d.size) - pos - neg
    by_sign: dict[Sign, int] = {"+": pos, "-": neg, "0": zero}
    top = max(by_sign.values())
    leaders = [s for s, c in by_sign.items() if c == top]
    majority = leaders[0] if len(leaders) == 1 else None
    return majority, top / d.size, (pos, neg, zero)


def flips_with_wording(deltas: Any, band: float = 0.5) -> bool:
    """True when one member's delta is above ``+band`` and another's below ``−band``
    (strictly, as the report's improved/regressed counts)."""
    d = _rounded(deltas)
    return bool((d > band).any() and (d < -band).any())


def _width(ci: CI) -> float:
    return ci.high - ci.low


def family_analysis(
    deltas: Any,
    families: Sequence[str | None],
    *,
    probes: Sequence[str] | None = None,
    band: float = 0.5,
    seed: int = 0,
    n_boot: int = 10_000,
    level: float = 0.95,
) -> FamilyAnalysis:
    """Every paraphrase-robustness number of one comparison: ``deltas[i]`` is probe ``i``'s
    paired delta, ``families[i]`` its family (None: its own), ``probes[i]`` its id (default
    its position)."""
    d = _rounded(deltas, families)
    ids = [str(i) for i in range(d.size)] if probes is None else [str(p) for p in probes]
    if len(ids) != d.size:
        raise ValueError(f"deltas and probes differ in length: {d.size} and {len(ids)}")
    _check_resampling(n_boot, level)
    groups = group_families(families)
    means = family_means(d, groups)
    rows: list[FamilyStats] = []
    for g, mean in zip(groups, means.tolist(), strict=True):
        member = d[g]
        majority, share, (pos, neg, zero) = sign_consistency(member)
        rows.append(
            FamilyStats(
                family=families[g[0]],
                probes=tuple(ids[i] for i in g),
                deltas=tuple(member.tolist()),
                mean_delta=mean,
                positive=pos,
                negative=neg,
                zero=zero,
                majority=majority,
                consistency=share,
                flips=flips_with_wording(member, band),
            )
        )
    ci = cluster_bootstrap_ci(d, families, seed=seed, n_boot=n_boot, level=level)
    if d.size < 2:
        probe_ci = CI(math.nan, math.nan, level)
    elif _is_constant(d):
        probe_ci = CI(float(d[0]), float(d[0]), level)
    else:
        probe_ci = _percentile_ci(d[_indices(seed, d.size, n_boot)].mean(axis=1), level)
    probe_var = float(d.var()) / d.size
    family_var = float(means.var()) / means.size
    ratio = math.nan
    if math.isfinite(_width(ci)) and _width(probe_ci) > 0:
        ratio = _width(ci) / _width(probe_ci)
    multi = [r.consistency for r in rows if r.n > 1]
    return FamilyAnalysis(
        n=int(d.size),
        n_families=len(groups),
        singletons=sum(1 for g in groups if len(g) == 1),
        unlabelled=sum(1 for f in families if f is None),
        effect=_mean(means),
        ci=ci,
        probe_mean=_mean(d),
        probe_ci=probe_ci,
        ci_ratio=ratio,
        design_effect=family_var / probe_var if probe_var > 0 else math.nan,
        consistency=float(np.mean(multi)) if multi else math.nan,
        families=tuple(rows),
        flipped=tuple(str(r.family) for r in rows if r.flips),
        band=float(band),
        n_boot=int(n_boot),
        seed=int(seed),
    )
