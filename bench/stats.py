"""What every benchmark shares: interleaved rounds, median and spread, the closing JSON line.

Two things compared are measured in the same run, alternating round by round (and
the order inside a round alternating too), so machine noise hits both alike. Each
figure is reported as its median with its spread (the interquartile range and the
min-max of the rounds). The last line a benchmark prints is one JSON object with its
targets; the benchmark exits 0 even when a target is missed.
"""
from __future__ import annotations

import json
import statistics
import sys
from typing import Any, Callable


def interleaved(rounds: int, runners: dict[str, Callable[[], Any]], label: str = "round") -> dict[str, list]:
    """Run every runner once per round, the order reversed on odd rounds; samples by name."""
    names = list(runners)
    out: dict[str, list] = {n: [] for n in names}
    for i in range(rounds):
        print(f"{label} {i + 1}/{rounds}", file=sys.stderr, flush=True)
        for n in (names if i % 2 == 0 else names[::-1]):
            out[n].append(runners[n]())
    return out


def spread(xs: list[float]) -> dict[str, float | None]:
    """Median, quartiles and range of the samples (quartiles need 2+ samples; none: all None, n=0)."""
    if not xs:
        return {"median": None, "p25": None, "p75": None, "min": None, "max": None, "n": 0}
    xs = sorted(xs)
    q = statistics.quantiles(xs, n=4, method="inclusive") if len(xs) > 1 else [xs[0]] * 3
    r = lambda v: round(v, 4)  # noqa: E731
    return {"median": r(statistics.median(xs)), "p25": r(q[0]), "p75": r(q[2]), "min": r(xs[0]),
            "max": r(xs[-1]), "n": len(xs)}


def show(xs: list[float], fmt: str = ".3f") -> str:
    """`median (IQR p25-p75, range min-max, n=N)` for a table cell."""
    s = spread(xs)
    if not s["n"]:
        return "n/a (n=0)"
    return (f"{s['median']:{fmt}} (IQR {s['p25']:{fmt}}-{s['p75']:{fmt}}, "
            f"range {s['min']:{fmt}}-{s['max']:{fmt}}, n={s['n']})")


def ratios(num: list[float], den: list[float]) -> list[float]:
    """Round-by-round num/den (the two runs of a round saw the same noise).

    Rounds where either side has no sample (None) or the denominator is 0 are left out.
    """
    return [a / b for a, b in zip(num, den) if a is not None and b]


def median(xs: list[float], empty: float = 0.0) -> float:
    """Median of the samples, `empty` when there are none."""
    return statistics.median(xs) if xs else empty


def target(value: float, goal: float, better: str) -> dict[str, Any]:
    assert better in ("higher", "lower")
    return {"value": round(value, 4), "target": goal, "better": better}


def finish(targets: dict[str, dict[str, Any]], **figures: Any) -> None:
    """Print the closing JSON line: the targets, then any other figures (spreads included)."""
    print(json.dumps({"targets": targets, **figures}))
