"""Statistics of pass/fail outcomes: a proportion's Wilson interval and McNemar's exact test
for two variants scored on the same items (benchmark accuracy such as GSM8K).

Both are what a referee expects for accuracy: the Wilson interval keeps its coverage near
0 % and 100 % where the normal (Wald) interval collapses, and McNemar's test uses only the
items on which the two variants disagree, which is the evidence a paired design has.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from scipy import stats as sps

from lem.analysis.stats import CI

__all__ = ["McNemar", "mcnemar_exact", "wilson_interval"]


def wilson_interval(successes: int, n: int, *, level: float = 0.95) -> CI:
    """Wilson score interval of ``successes / n`` (no continuity correction), as
    ``scipy.stats.binomtest(k, n).proportion_ci(method="wilson")`` and statsmodels'
    ``proportion_confint(method="wilson")``. ``n == 0`` gives a NaN interval."""
    if n < 0 or successes < 0 or successes > n:
        raise ValueError(f"need 0 <= successes <= n, got {successes} of {n}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    if n == 0:
        return CI(math.nan, math.nan, level)
    z = float(sps.norm.ppf(0.5 + level / 2.0))
    p = successes / n
    z2n = z * z / n
    centre = (p + z2n / 2.0) / (1.0 + z2n)
    half = z / (1.0 + z2n) * math.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n))
    return CI(max(0.0, centre - half), min(1.0, centre + half), level)


@dataclass(frozen=True)
class McNemar:
    """Paired pass/fail comparison of variant ``a`` with variant ``b`` on the same items.

    ``only_a``: items ``a`` passed and ``b`` failed; ``only_b`` the reverse; ``both`` and
    ``neither`` are the concordant counts; ``p`` the two-sided exact p-value."""

    n: int
    both: int
    only_a: int
    only_b: int
    neither: int
    p: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "both": self.both,
            "only_a": self.only_a,
            "only_b": self.only_b,
            "neither": self.neither,
            "p": round(self.p, 6),
        }


def mcnemar_exact(a: Sequence[bool], b: Sequence[bool]) -> McNemar:
    """McNemar's exact test: under no difference, the ``k = only_a + only_b`` discordant
    items split Binomial(k, 1/2); the two-sided p is ``min(1, 2 P(X <= min(only_a,
    only_b)))`` (statsmodels' ``mcnemar(exact=True)``, scipy's ``binomtest`` on the
    discordant counts). No discordant item gives ``p = 1``."""
    if len(a) != len(b):
        raise ValueError(f"paired outcomes differ in length: {len(a)} vs {len(b)}")
    both = sum(1 for x, y in zip(a, b, strict=True) if x and y)
    only_a = sum(1 for x, y in zip(a, b, strict=True) if x and not y)
    only_b = sum(1 for x, y in zip(a, b, strict=True) if y and not x)
    neither = len(a) - both - only_a - only_b
    k = only_a + only_b
    p = 1.0 if k == 0 else min(1.0, 2.0 * float(sps.binom.cdf(min(only_a, only_b), k, 0.5)))
    return McNemar(len(a), both, only_a, only_b, neither, p)
