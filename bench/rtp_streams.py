"""Measuring the one-thread RTP pacer (labkit.rtp.RtpScheduler) on loopback.

bench/acd.py calls ``max_streams`` for its ``rtp_streams_one_thread`` figure, between its
sipp rounds. Run on its own, this file repeats that search over rounds and ends as every
benchmark does: the median and spread, and one JSON line with the target the README gives
the figure (``rtp_streams_one_thread`` >= 500: streams one thread paces with p99 lateness
<= 5 ms). The sink is bench/rtp_sink.py in a child process.

    .venv/bin/python bench/rtp_streams.py [--rounds 3] [--seconds 3] [--realtime]
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from labkit.rtp import FRAME_SECONDS, Playlist, RtpScheduler, load_prompt

SINK = Path(__file__).resolve().with_name("rtp_sink.py")



def _raise_nofile(need: int) -> None:
    try:
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < need:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, need), hard))
    except (ImportError, ValueError, OSError):  # pragma: no cover
        pass


def measure_streams(n_streams: int, seconds: float = 5.0, warmup: float = 1.0,
                    phases: int = 10, playlist: Playlist | None = None,
                    realtime: bool = False) -> dict:
    """Pace ``n_streams`` PCMU streams for ``seconds`` to a UDP sink on 127.0.0.1 (a child
    process, so receiving does not steal the scheduler's CPU or GIL) and report lateness
    percentiles, packets sent/received and the scheduler thread's CPU%.

    Each stream has its own socket, as each call of the ACD does. Only loopback is used."""
    _raise_nofile(n_streams + 256)
    sink = subprocess.Popen([sys.executable, str(SINK)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        port = int(sink.stdout.readline())
        music = load_prompt("music") if playlist is None else None
        sched = RtpScheduler(phases=phases, realtime=realtime).start()
        try:
            for i in range(n_streams):
                pl = playlist or Playlist(music=music)
                sched.add_stream(("127.0.0.1", 0), ("127.0.0.1", port), pl)
            time.sleep(warmup)
            sched.reset_stats()
            time.sleep(seconds)
            st = sched.stats()
        finally:
            sched.stop()
        time.sleep(0.2)                  # let the last packets land
        out, _ = sink.communicate("stop\n", timeout=10)
        sink_report = json.loads(out.strip().splitlines()[-1])
    finally:
        if sink.poll() is None:
            sink.kill()                  # our own child, by its Popen handle
            sink.wait()
    expected = int(n_streams * st.wall_seconds / FRAME_SECONDS)
    return {
        "streams": n_streams,
        "realtime": sched.realtime,
        "seconds": round(st.wall_seconds, 3),
        "packets_sent": st.packets_sent,
        "packets_expected": expected,
        "packets_received_total": sink_report["received"],   # warm-up included
        "send_errors": st.send_errors,
        "frames_skipped": st.frames_skipped,
        "lateness_p50_ms": st.lateness_p50_ms,
        "lateness_p99_ms": st.lateness_p99_ms,
        "lateness_max_ms": st.lateness_max_ms,
        "wake_p50_ms": st.wake_p50_ms,
        "wake_p99_ms": st.wake_p99_ms,
        "cpu_percent": round(st.cpu_percent, 2),
        "wakeups_per_s": round(st.wakeups / st.wall_seconds, 1) if st.wall_seconds else 0,
    }


def max_streams(p99_limit_ms: float = 5.0, seconds: float = 3.0, start: int = 100,
                limit: int = 6400, log=None, realtime: bool = False) -> dict:
    """Largest stream count whose p99 lateness stays within ``p99_limit_ms`` (and that
    sends at least 99% of the packets it owes): doubling from ``start`` until a run fails,
    then bisecting to within ~10%. A failed run is repeated once, since one noisy second on
    a shared machine can fail it. A one-stream baseline comes first: if even one stream
    misses the limit, the machine (not the stream count) is the limit, and the result says
    so in ``"note"``. Returns ``max_streams``, the best run, the baseline and all runs."""
    runs = []

    def run(n: int) -> dict:
        m = measure_streams(n, seconds, realtime=realtime)
        m["ok"] = (m["lateness_p99_ms"] <= p99_limit_ms
                   and m["packets_sent"] >= 0.99 * m["packets_expected"])
        runs.append(m)
        if log:
            log(m)
        return m

    def good(n: int) -> bool:
        return run(n)["ok"] or run(n)["ok"]

    baseline = run(1)
    result = {"p99_limit_ms": p99_limit_ms, "baseline": baseline, "runs": runs}
    if not baseline["ok"] and not run(1)["ok"]:
        return {**result, "max_streams": 0, "best": None,
                "note": f"one stream already has p99 lateness "
                        f"{runs[-1]['lateness_p99_ms']} ms (wake-up p99 "
                        f"{runs[-1]['wake_p99_ms']} ms): the machine is too busy to measure"}
    lo, hi = 1, None
    n = start
    while n <= limit:
        if good(n):
            lo = n
            n *= 2
        else:
            hi = n
            break
    if hi is not None:
        while hi - lo > max(10, lo // 10):
            mid = (lo + hi) // 2
            if good(mid):
                lo = mid
            else:
                hi = mid
    best = max((r for r in runs if r["streams"] == lo and r["ok"]),
               key=lambda r: -r["lateness_p99_ms"], default=None)
    return {**result, "max_streams": lo, "best": best,
            "note": "reached the search limit" if hi is None else ""}


def main() -> int:
    import argparse

    from stats import finish, median, show, spread, target   # bench/ is on the path when run as a script

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=3.0, help="seconds per measured run (default 3)")
    ap.add_argument("--realtime", action="store_true", help="ask for SCHED_FIFO for the pacer thread")
    a = ap.parse_args()
    results = []
    for i in range(a.rounds):
        print(f"round {i + 1}/{a.rounds}", file=sys.stderr, flush=True)
        r = max_streams(5.0, seconds=a.seconds, start=250, realtime=a.realtime,
                        log=lambda m: print(f"  {m['streams']:5d} streams: p99 {m['lateness_p99_ms']} ms, "
                                            f"cpu {m['cpu_percent']} %, sent {m['packets_sent']}/"
                                            f"{m['packets_expected']}", file=sys.stderr, flush=True))
        print(f"  round {i + 1}: {r['max_streams']} streams {r.get('note', '')}", file=sys.stderr, flush=True)
        results.append(r)
    streams = [r["max_streams"] for r in results]
    best_p99 = [r["best"]["lateness_p99_ms"] for r in results if r["best"]]
    print(f"one pacer thread, p99 lateness <= 5 ms, {a.rounds} rounds (realtime {a.realtime}):")
    print(f"  streams   {show(streams, '.0f')}")
    print(f"  p99 ms at the best passing count   {show(best_p99, '.2f')}")
    finish({"rtp_streams_one_thread": target(median(streams), 500, "higher")},
           spreads={"rtp_streams_one_thread": spread(streams), "p99_ms_at_max": spread(best_p99)},
           notes=[r["note"] for r in results if r.get("note")], rounds=a.rounds, seconds=a.seconds,
           realtime=a.realtime)
    return 0


if __name__ == "__main__":
    sys.exit(main())
