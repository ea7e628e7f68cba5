#!/usr/bin/env python3
"""CAS-lock contention on this machine's cores, side by side with the OS's locks.

What runs (all in one process, one run):
  * cache-line ping-pong between cpu 0 and cpu 1: the physical floor of any handoff;
  * pthreads in the compiled kernel (labkit/cas/kernel.c) fighting over one lock:
    the seed's unsafe lock, the seed's lock cmpxchg lock (TTAS), with pause, with backoff,
    plain test-and-set with and without pause, and the glibc futex mutex;
    throughput and contended-handoff latency as contenders grow past the core count;
  * Python processes: multiprocessing.Lock against the same CAS lock and the unsafe lock
    through ctypes, on a counter in shared memory (lost updates counted).

Progress goes to stderr; tables to stdout; the last line is the JSON the CI reads:
  handoff_vs_pingpong  seed CAS lock's median contended handoff (2 threads, 2 cores)
                       / median ping-pong round trip        target 3, lower is better
  cas_vs_oslock_2      pthread mutex / seed CAS lock time per acquisition, 2 pinned threads on
                       a fair handoff workload (a thread that released waits until the other
                       has owned the lock), CS = one counter increment;
                       target 1.0, higher is better

Every figure is the median of rounds that interleave the things compared (bench/stats.py: the
order alternates from round to round), printed with its IQR and range. Why the fair handoff:
with plain "acquire, increment, release" loops glibc's mutex lets its owner take the lock
again at once while the waiter sleeps in the kernel, so the mutex runs long same-thread
batches and its throughput measures how long the waiter sleeps (the old figure read 0.24,
0.71 and 1.65 on different runs). That raw throughput ratio is still printed, with its spread.
Each time per acquisition is itself the median over batches of 64 acquisitions, so a batch in
which the shared machine preempted a thread does not set it.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # labkit, when run without PYTHONPATH

from labkit.cas import contend  # noqa: E402
from stats import finish, interleaved, ratios, show, spread, target  # noqa: E402


def table(title: str, contenders: list[int], kinds: list[str], cell) -> str:
    head = ["N"] + kinds
    rows = [[str(n)] + [cell(k, n) for k in kinds] for n in contenders]
    w = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    fmt = lambda r: "  ".join(x.rjust(wi) for x, wi in zip(r, w))  # noqa: E731
    return "\n".join([title, fmt(head), *map(fmt, rows)])

# (key in targets(), label) in the order printed
TARGET_LINES = [
    ("pingpong_ns", "ping-pong round trip, ns"),
    ("cas_handoff_ns", "seed cas contended handoff p50, ns"),
    ("handoff_vs_pingpong", "handoff / ping-pong (per round)"),
    ("cas_fair_ns", "seed cas, ns per acquisition, fair handoff"),
    ("mutex_fair_ns", "mutex, ns per acquisition, fair handoff"),
    ("cas_backoff_fair_ns", "cas_backoff, ns per acquisition, fair handoff"),
    ("cas_vs_oslock_2", "mutex / cas time, fair handoff (per round)"),
    ("cas_backoff_vs_oslock_2", "mutex / cas_backoff time, fair (per round)"),
    ("raw_cas_vs_oslock_2", "raw loop cas / mutex throughput (per round)"),
]


def _measured(run, enough) -> float | None:
    """Run up to three times (longer each time) until the run says `enough`; its figure, or
    None when this shared machine never let both threads run together long enough."""
    for attempt in range(1, 4):
        value = enough(run(attempt))
        if value:
            return value
    return None


def targets(rounds: int, seconds: float) -> dict[str, list[float]]:
    """The target figures' samples, one per round, from rounds that interleave what is compared.

    In a round every measurement runs once, in an order reversed every other round
    (stats.interleaved), and each ratio is taken within its round: both sides saw the same
    moment of this shared machine. A round in which a run got no usable sample (its threads
    preempted in turn for the whole run, even when retried longer) is left out of the figures
    it would feed.
    """
    def fair(kind: str):
        return lambda: _measured(lambda a: contend.run(kind, 2, seconds=seconds * a, fair=True),
                                 lambda r: r.acquire_p50_ns if r.batches >= 16 else None)

    def raw(kind: str):
        return lambda: contend.run(kind, 2, seconds=seconds).throughput

    r = interleaved(rounds, {
        "cas_fair_ns": fair("cas"), "mutex_fair_ns": fair("mutex"), "cas_backoff_fair_ns": fair("cas_backoff"),
        "raw_cas": raw("cas"), "raw_mutex": raw("mutex"),
        "pingpong_ns": lambda: contend.pingpong_ns(100_000)[0],
        "cas_handoff_ns": lambda: _measured(lambda a: contend.run("cas", 2, seconds=seconds * a, timed=True),
                                            lambda x: x.handoff_p50_ns if x.samples >= 100 else None),
    }, label="targets: round")

    def per_round(num: str, den: str) -> list[float]:
        return ratios(r[num], r[den])

    out = {"pingpong_ns": r["pingpong_ns"], "cas_handoff_ns": [x for x in r["cas_handoff_ns"] if x],
           "handoff_vs_pingpong": per_round("cas_handoff_ns", "pingpong_ns"),
           "cas_fair_ns": [x for x in r["cas_fair_ns"] if x], "mutex_fair_ns": [x for x in r["mutex_fair_ns"] if x],
           "cas_backoff_fair_ns": [x for x in r["cas_backoff_fair_ns"] if x],
           "cas_vs_oslock_2": per_round("mutex_fair_ns", "cas_fair_ns"),
           "cas_backoff_vs_oslock_2": per_round("mutex_fair_ns", "cas_backoff_fair_ns"),
           "raw_cas_vs_oslock_2": per_round("raw_cas", "raw_mutex")}
    return out


def _show(xs: list[float], rounds: int) -> str:
    if not xs:
        return "no round gave a usable sample"
    left_out = f"; {rounds - len(xs)} round(s) without a usable sample" if len(xs) < rounds else ""
    return show(xs, ".2f") + left_out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=0.15, help="length of one run (default 0.15)")
    ap.add_argument("--repeats", type=int, default=3, help="runs per point, median kept (default 3)")
    ap.add_argument("--rounds", type=int, default=9, help="interleaved rounds for the targets (default 9)")
    ap.add_argument("--quick", action="store_true", help="fewer points, for a smoke test")
    args = ap.parse_args()
    say = contend.progress
    t_start = time.time()
    ncpu = contend.cpus()
    kinds = list(contend.KINDS)
    contenders = [1, 2, 3, 4, 8] if args.quick else [1, 2, 3, 4, 6, 8]
    if args.quick:
        args.repeats, args.seconds = 1, min(args.seconds, 0.08)
    load = os.getloadavg()
    say(f"cas bench: load average {load[0]:.2f} before start (other work on these cores skews timings)")
    say(f"cas bench: {ncpu} cores, TSC {contend.lib().cas_tsc_per_ns():.3f} ticks/ns, "
        f"{len(kinds)} lock kinds x {len(contenders)} contender counts")

    pp = [contend.pingpong_ns(200_000) for _ in range(5)]
    pp_med = statistics.median(m for m, _ in pp)
    say(f"ping-pong cpu0<->cpu1: median round trip {pp_med:.1f} ns "
        f"(runs: {', '.join(f'{m:.0f}' for m, _ in pp)}; means incl. preemption: "
        f"{', '.join(f'{a:.0f}' for _, a in pp)})")

    cv = contend.curves(kinds, contenders, seconds=args.seconds, repeats=args.repeats)
    thr, hof = cv["throughput"], cv["handoff"]

    print(f"# CAS-lock contention, {ncpu} cores; CS = one non-atomic counter increment; "
          f"load average at start {load[0]:.2f}, at end of curves {os.getloadavg()[0]:.2f}")
    print(f"ping-pong round trip (cpu0<->cpu1): median {pp_med:.1f} ns "
          f"(range {min(m for m, _ in pp):.1f}-{max(m for m, _ in pp):.1f} over {len(pp)} runs)\n")
    sp = {key: spread(xs) for key, xs in cv["samples"].items()}
    print(table(f"throughput, million acquisitions/s: median (range) of {args.repeats} runs", contenders, kinds,
                lambda k, n: f"{thr[(k, n)].throughput / 1e6:.1f} ({sp[('throughput', k, n)]['min'] / 1e6:.1f}-"
                             f"{sp[('throughput', k, n)]['max'] / 1e6:.1f})"))
    print()
    print(table("lock changes hands, thousand/s", contenders, kinds,
                lambda k, n: f"{thr[(k, n)].handoffs / thr[(k, n)].elapsed_s / 1e3:.0f}"))
    print()
    print(table("contended handoff latency p50 / p99, ns (release -> waiting core owns it); p50 range",
                contenders[1:], kinds,
                lambda k, n: f"{hof[(k, n)].handoff_p50_ns:.0f}/{hof[(k, n)].handoff_p99_ns:.0f} "
                             f"({sp[('handoff', k, n)]['min']:.0f}-{sp[('handoff', k, n)]['max']:.0f})"))
    print()
    print(table("lost updates (acquisitions - counter), throughput runs", contenders, kinds,
                lambda k, n: str(thr[(k, n)].lost_updates)))
    print()
    print(table("CAS lock / pthread mutex throughput", contenders, ["cas", "cas_pause", "tas", "cas_backoff"],
                lambda k, n: f"{thr[(k, n)].throughput / thr[('mutex', n)].throughput:.2f}"))
    print()

    procs = [1, 2, 4]
    iters = 20_000 if args.quick else 100_000
    pkinds = ["mp.Lock", "cas", "unsafe"]
    pruns: dict = {(k, n): [] for k in pkinds for n in procs}
    for rep in range(args.repeats):           # the kinds interleave, repeat after repeat
        for n in procs:
            for kind in pkinds if rep % 2 == 0 else pkinds[::-1]:
                r = contend.run_processes(kind, n, iters)
                pruns[(kind, n)].append(r)
                say(f"processes: {kind:8s} P={n} {r.throughput / 1e6:.3f} M/s lost {r.lost_updates}")
    pres = {key: spread([r.throughput for r in rs]) | {"lost": [r.lost_updates for r in rs]}
            for key, rs in pruns.items()}
    print(table(f"Python processes, {iters} locked increments each: M/s median (range)  [lost updates]",
                procs, pkinds,
                lambda k, n: f"{pres[(k, n)]['median'] / 1e6:.3f} ({pres[(k, n)]['min'] / 1e6:.3f}-"
                             f"{pres[(k, n)]['max'] / 1e6:.3f}) {pres[(k, n)]['lost']}"))
    print()

    rounds = 3 if args.quick else args.rounds
    tg = targets(rounds, seconds=0.1 if args.quick else 0.2)
    print(f"targets ({rounds} interleaved rounds; median (IQR, range)):")
    for name, label in TARGET_LINES:
        print(f"  {label:<46} {_show(tg[name], rounds)}")
    med = {k: spread(v)["median"] if v else float("nan") for k, v in tg.items()}
    h, t = med["handoff_vs_pingpong"], med["cas_vs_oslock_2"]
    print(f"  handoff_vs_pingpong = {h:.2f}  (target <= 3)")
    print(f"  cas_vs_oslock_2     = {t:.2f}  (target >= 1.0; seed's lock cmpxchg listing vs glibc mutex, "
          "fair handoff)")
    say(f"done in {time.time() - t_start:.0f} s")
    finish({"handoff_vs_pingpong": target(h, 3, "lower"), "cas_vs_oslock_2": target(t, 1.0, "higher")},
           spreads={k: spread(v) for k, v in tg.items() if v},
           cores=ncpu, loadavg_start=round(load[0], 2), rounds=rounds,
           curves={
               "contenders": contenders,
               "throughput_per_s": {k: [round(thr[(k, n)].throughput) for n in contenders] for k in kinds},
               "throughput_range_per_s": {k: [[round(sp[("throughput", k, n)][e]) for e in ("min", "max")]
                                              for n in contenders] for k in kinds},
               "handoff_p50_ns": {k: [round(hof[(k, n)].handoff_p50_ns, 1) for n in contenders] for k in kinds},
               "handoff_p50_range_ns": {k: [[round(sp[("handoff", k, n)][e], 1) for e in ("min", "max")]
                                            for n in contenders] for k in kinds},
               "handoff_p99_ns": {k: [round(hof[(k, n)].handoff_p99_ns, 1) for n in contenders] for k in kinds},
               "lost_updates": {k: [thr[(k, n)].lost_updates for n in contenders] for k in kinds},
               "processes": {k: {str(n): {"per_s": round(pres[(k, n)]["median"]),
                                          "per_s_range": [round(pres[(k, n)]["min"]), round(pres[(k, n)]["max"])],
                                          "lost": pres[(k, n)]["lost"]} for n in procs}
                             for k in pkinds},
           })
    return 0


if __name__ == "__main__":
    sys.exit(main())
