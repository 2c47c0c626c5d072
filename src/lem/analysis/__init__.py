"""Analysis: the statistics lem reports and scorer-agreement commands are built on.

See :mod:`lem.analysis.stats` for the conventions (percentile bootstrap, seeding, NaN rules).
"""

from __future__ import annotations

from lem.analysis.stats import (
    CI,
    Agreement,
    Description,
    PairedComparison,
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
    "paired_comparison",
    "quadratic_weighted_kappa",
    "rank_biserial",
    "round_to_scale",
    "spearman",
    "wilcoxon_signed_rank",
]
