"""BIND vs labkit's embedded authoritative server: dnsperf against both, one run.

Both serve the seed's named.conf + zone on loopback (BIND on 127.0.0.1, embedded on
127.0.0.2, the embedded server without its answer cache on 127.0.0.3, for information).
The servers are measured in interleaved rounds (bench/stats.py: every server once per
round, the order reversed every other round), so load from other processes hits all alike.
The target is the median of the per-round ratios embedded/BIND (the two runs of a round saw
the same noise); every figure is printed as its median with IQR and range. Progress goes to
stderr; the last line is one JSON object (target: embedded_vs_bind_qps >= 0.25); exit 0
whether it is met or not.

    .venv/bin/python bench/dns.py [--rounds 3] [--seconds 5] [--workers 2]
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from labkit import paths  # noqa: E402
from labkit.dns.testing import bind_server, embedded_server  # noqa: E402
from stats import finish, interleaved, median, ratios, show, spread, target  # noqa: E402

QUERIES = paths.data("dns", "bench.queries")
GOAL = 0.25


def dnsperf(name: str, addr: str, port: int, seconds: int) -> dict:
    # -c 2 -T 2 -q 500 gave BIND its best numbers on these 2 cores (tried 1..8 clients).
    out = subprocess.run(["dnsperf", "-s", addr, "-p", str(port), "-d", str(QUERIES), "-l", str(seconds),
                          "-c", "2", "-T", "2", "-q", "500"], capture_output=True, text=True).stdout
    qps = float(re.search(r"Queries per second:\s+([\d.]+)", out).group(1))
    sent = int(re.search(r"Queries sent:\s+(\d+)", out).group(1))
    lost = int(re.search(r"Queries lost:\s+(\d+)", out).group(1))
    print(f"  {name:9s} {qps:10.0f} qps  sent {sent:8d}  lost {lost:5d}", file=sys.stderr, flush=True)
    return {"qps": qps, "sent": sent, "lost": lost}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2, help="embedded server processes (SO_REUSEPORT)")
    a = ap.parse_args()
    if not shutil.which("dnsperf") or not shutil.which("named"):
        print("bench/dns.py: needs dnsperf and named (apt-get install dnsperf bind9)", file=sys.stderr)
        finish({"embedded_vs_bind_qps": target(0.0, GOAL, "higher")}, error="dnsperf or named missing")
        return 0
    with tempfile.TemporaryDirectory(prefix="lk-bench-dns-") as d, \
            bind_server(Path(d)) as (ba, bp), embedded_server(workers=a.workers) as (ea, ep), \
            embedded_server(workers=a.workers, addr="127.0.0.3", extra=["--cache-size", "0"]) as (ua, up):
        res = interleaved(a.rounds, {"bind": lambda: dnsperf("bind", ba, bp, a.seconds),
                                     "embedded": lambda: dnsperf("embedded", ea, ep, a.seconds),
                                     "uncached": lambda: dnsperf("uncached", ua, up, a.seconds)})
    qps = {k: [x["qps"] for x in v] for k, v in res.items()}
    lost = {k: sum(x["lost"] for x in v) for k, v in res.items()}
    sent = {k: sum(x["sent"] for x in v) for k, v in res.items()}
    ratio = ratios(qps["embedded"], qps["bind"])           # per round: same noise
    uncached_ratio = ratios(qps["uncached"], qps["bind"])
    load = os.getloadavg()[0]
    print(f"{a.rounds} interleaved rounds of {a.seconds} s (load average {load:.1f} on {os.cpu_count()} cores):")
    print(f"BIND 9.18 (named, default threads)  {show(qps['bind'], '.0f')} qps   "
          f"lost {lost['bind']} of {sent['bind']}")
    print(f"embedded ({a.workers} worker(s), cached)  {show(qps['embedded'], '.0f')} qps   "
          f"lost {lost['embedded']} of {sent['embedded']}")
    print(f"embedded without answer cache      {show(qps['uncached'], '.0f')} qps   "
          f"lost {lost['uncached']} of {sent['uncached']}")
    print(f"ratio embedded/BIND per round:     {show(ratio, '.2f')}   (target >= {GOAL})")
    print(f"ratio uncached/BIND per round:     {show(uncached_ratio, '.2f')}   (info only)")
    finish({"embedded_vs_bind_qps": target(median(ratio), GOAL, "higher")},
           spreads={"embedded_vs_bind_qps": spread(ratio),
                    "uncached_vs_bind_qps": spread(uncached_ratio),
                    **{f"{k}_qps": spread(v) for k, v in qps.items()}},
           bind_qps=round(median(qps["bind"])), embedded_qps=round(median(qps["embedded"])),
           uncached_qps=round(median(qps["uncached"])),
           bind_lost=lost["bind"], embedded_lost=lost["embedded"], uncached_lost=lost["uncached"],
           bind_sent=sent["bind"], embedded_sent=sent["embedded"], uncached_sent=sent["uncached"],
           rounds=a.rounds, seconds=a.seconds, workers=a.workers, loadavg=round(load, 2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
