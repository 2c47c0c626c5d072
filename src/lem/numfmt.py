"""How lem prints numbers: one rounding rule for every output.

Every mean, delta, p-value and rate that lem prints (``report.md``, the HTML viewer, the
plots' annotations, ``lem report`` and ``lem ab`` in the terminal) goes through this
module, so the same number always reads the same everywhere.

**The rule.** A number is rounded once, from full precision, *half away from zero on its
shortest decimal representation* (Python's ``repr``, which JavaScript's ``String(x)``
matches digit for digit): ``1.085`` → ``1.09``, ``-0.275`` → ``-0.28``, ``2.675`` →
``2.68``. This is the rounding people do by hand on the number as it is written down. It
differs from ``f"{x:.2f}"``, which rounds the binary value (``1.085`` is stored as
``1.08499999999999996…``, so ``f"{1.085:.2f}"`` gives ``1.08``), and it is never applied
to an already-rounded value (``1.0849`` → ``1.08``, not ``1.085`` → ``1.09``). A result
that rounds to zero prints without a minus sign. Undefined values (None, NaN) print as
``—``; infinities as ``∞`` and ``-∞``.

The viewer's script carries the same rule in JavaScript (``lem.report.html``); a browser
test checks both agree on awkward values.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Context, Decimal

__all__ = [
    "DASH",
    "fmt_delta",
    "fmt_fixed",
    "fmt_mean",
    "fmt_p",
    "fmt_percent",
    "fmt_sig",
    "round_half_away",
]

DASH = "—"
"""What an undefined number prints as."""


def round_half_away(x: float, places: int) -> Decimal:
    """``x`` rounded to ``places`` decimals, half away from zero, from ``repr(x)``."""
    return _quantize(Decimal(repr(float(x))), places)


def _quantize(exact: Decimal, places: int) -> Decimal:
    digits = max(exact.adjusted(), 0) + places + 2
    ctx = Context(prec=max(28, digits), rounding=ROUND_HALF_UP)
    out = exact.quantize(Decimal(1).scaleb(-places), context=ctx)
    return out if out != 0 else abs(out)


def _special(x: float | None) -> str | None:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return DASH
    if isinstance(x, float) and math.isinf(x):
        return "∞" if x > 0 else "-∞"
    return None


def fmt_fixed(x: float | None, places: int = 2, *, signed: bool = False) -> str:
    """``x`` with ``places`` decimals by the rule above; ``signed`` adds ``+`` to a
    non-negative result (``+0.00`` for zero)."""
    special = _special(x)
    if special is not None:
        return "+" + special if signed and special == "∞" else special
    value = float(x)  # type: ignore[arg-type]
    text = _fast(value, places)
    if text is None:
        text = f"{round_half_away(value, places):f}"
    if signed and not text.startswith("-"):
        text = "+" + text
    return text


def _fast(value: float, places: int) -> str | None:
    """``f"{value:.{places}f}"`` where it provably equals the rule, else None.

    ``format`` rounds the binary value half to even; the rule rounds the shortest decimal
    form half away from zero. They can only differ when that form is a tie (its last digit
    a 5 right after ``places`` decimals), or when doubles are too sparse for the argument
    (a tie strictly between the decimal form and the binary value would itself be a
    shorter or closer decimal form, which ``repr`` would have chosen): values below 1e9
    with at most 3 decimals are far from that."""
    if places > 3 or not -1e9 < value < 1e9:
        return None
    r = repr(value)
    if "e" in r:
        return None
    dot = r.find(".")
    if len(r) - dot - 1 == places + 1 and r[-1] == "5":
        return None
    text = f"{value:.{places}f}"
    if text[0] == "-" and not text.strip("-0."):
        text = text[1:]
    return text


def fmt_mean(x: float | None) -> str:
    """A mean or a score: two decimals (``1.09``, ``—`` when undefined)."""
    return fmt_fixed(x, 2)


def fmt_delta(x: float | None) -> str:
    """A signed difference: two decimals with a sign (``+0.96``, ``-1.20``, ``+0.00``)."""
    return fmt_fixed(x, 2, signed=True)


def fmt_p(p: float | None) -> str:
    """A p-value: three decimals, ``<0.001`` below 0.001."""
    if p is None or math.isnan(p):
        return DASH
    return "<0.001" if p < 0.001 else fmt_fixed(p, 3)


def fmt_percent(rate: float | None, places: int = 0) -> str:
    """A share as a percentage: ``0.125`` → ``13%`` (the percentage is rounded once)."""
    if rate is None or math.isnan(rate):
        return DASH
    return f"{_quantize(Decimal(repr(float(rate))) * 100, places):f}%"


def fmt_sig(x: float | None, digits: int = 3) -> str:
    """``x`` to ``digits`` significant digits by the same rule, trailing zeros dropped
    (``0.05 / 3`` → ``0.0167``, ``0.05`` → ``0.05``)."""
    special = _special(x)
    if special is not None:
        return special
    exact = Decimal(repr(float(x)))  # type: ignore[arg-type]
    if exact == 0:
        return "0"
    value = _quantize(exact, max(digits - 1 - exact.adjusted(), 0))
    if value.adjusted() > exact.adjusted() and digits - 1 - value.adjusted() >= 0:
        value = _quantize(value, digits - 1 - value.adjusted())
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
