"""A class on one server: N seed labs side by side, for rising N, every check on every lab.

For each N of --steps (default 1 10 20 30 40) labs are added until N are up (`c01`, `c02`,
...: each a seed lab of its own, brought up by this process as `Lab.up` would for a
student), then every lab's checks run (`Lab.check`, the checks `labkit check` runs), one lab
after the other, and lab c01's check is timed --rounds times more. The run stops at the
first N where a lab fails to come up or a check fails, and tears every lab down at the end,
however it ends (a kill -9 leaves labs whose owner is dead: `labkit clean` removes them).

The peer is the same lab alone: c01's check time with one lab up against its time at N,
the rounds of the two measured in the same run (the N=1 step is always run first).

    labs_all_checks_green   the largest N at which every check of every lab passed; target >= 40
    mem_mb_per_lab          MemAvailable's drop from before the first lab to that N, per lab; <= 200
    class_up_s_per_lab      wall time of every bring-up up to that N, per lab; <= 3
    check_slowdown_at_max   c01's median check time at that N / its median with one lab up; <= 3

Progress goes to stderr; the last line is one JSON object; exit 0 whether targets are met or not.

    .venv/bin/python bench/class.py [--steps 1 10 20 30 40] [--rounds 3]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from stats import finish, median, show, target  # noqa: E402

from labkit.lab import Lab  # noqa: E402


def mem_available_mb() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("/proc/meminfo has no MemAvailable")


def timed_check(lab: Lab) -> tuple[float, bool, list[str]]:
    t0 = time.perf_counter()
    report = lab.check()
    return time.perf_counter() - t0, report.ok, [f"{r.check.describe()}: {r.detail}" for r in report.results if not r.ok]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, nargs="+", default=[1, 10, 20, 30, 40])
    ap.add_argument("--rounds", type=int, default=3, help="timed checks of lab c01 at each step")
    args = ap.parse_args()
    steps = sorted(set([1] + args.steps))
    labs: list[Lab] = []
    up_s = 0.0
    base_mb = mem_available_mb()
    rows, check_at = [], {}
    best = {"n": 0, "mem_mb_per_lab": None, "up_s_per_lab": None}
    try:
        for n in steps:
            while len(labs) < n:
                name = f"c{len(labs) + 1:02d}"
                t0 = time.perf_counter()
                try:
                    labs.append(Lab.up("seed", name=name, replace=True))
                except Exception as e:       # the machine's limit: report where it was reached
                    print(f"N={n}: {name} did not come up: {type(e).__name__}: {e}", file=sys.stderr)
                    raise StopIteration from None
                up_s += time.perf_counter() - t0
                print(f"N={n}: {name} up ({len(labs)}/{n}, {up_s:.1f} s of bring-up so far)", file=sys.stderr, flush=True)
            mem_mb = (base_mb - mem_available_mb()) / n
            failed = []
            for lab in labs:
                _, ok, bad = timed_check(lab)
                if not ok:
                    failed.append(f"{lab.instance}: {'; '.join(bad)}")
            timed = [timed_check(labs[0]) for _ in range(args.rounds)]
            check_at[n] = [t for t, _, _ in timed]
            failed += [f"{labs[0].instance} (timed round): {'; '.join(bad)}" for _, ok, bad in timed if not ok]
            rows.append((n, mem_mb, up_s / n, check_at[n], len(failed)))
            print(f"N={n}: {mem_mb:.0f} MB per lab, checks {'all green' if not failed else f'{len(failed)} labs failed'}; "
                  f"c01's check {show(check_at[n], '.2f')} s", file=sys.stderr, flush=True)
            if failed:
                print("\n".join(failed[:5]), file=sys.stderr)
                break
            best = {"n": n, "mem_mb_per_lab": mem_mb, "up_s_per_lab": up_s / n}
    except StopIteration:
        pass
    finally:
        for lab in reversed(labs):
            lab.down()
    print(f"{'N':>4} {'MB/lab':>8} {'up s/lab':>9} {'failed':>7}  c01's check s")
    for n, mem_mb, per_lab, checks, failed in rows:
        print(f"{n:>4} {mem_mb:>8.0f} {per_lab:>9.2f} {failed:>7}  {show(checks, '.2f')}")
    n = best["n"]
    slowdown = median(check_at.get(n, [])) / median(check_at[1]) if n and check_at.get(1) else 0.0
    finish({"labs_all_checks_green": target(n, 40, "higher"),
            "mem_mb_per_lab": target(best["mem_mb_per_lab"] or 0.0, 200, "lower"),
            "class_up_s_per_lab": target(best["up_s_per_lab"] or 0.0, 3, "lower"),
            "check_slowdown_at_max": target(slowdown, 3, "lower")},
           steps=[{"n": r[0], "mem_mb_per_lab": round(r[1], 1), "up_s_per_lab": round(r[2], 3),
                   "check_s": r[3], "labs_failed": r[4]} for r in rows])


if __name__ == "__main__":
    main()
