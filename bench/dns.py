"""BIND vs labkit's embedded authoritative server: dnsperf against both, one run.

Both serve the seed's named.conf + zone on loopback (BIND on 127.0.0.1, embedded on
127.0.0.2). Rounds alternate BIND / embedded so that load from other processes hits both
alike; the medians are compared. Prints qps and lost queries per server, the ratio, and
ends with one JSON line (target: embedded_vs_bind_qps >= 0.25).

    .venv/bin/python bench/dns.py [--rounds 3] [--seconds 6] [--workers 2]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from labkit import paths  # noqa: E402
from labkit.dns.testing import bind_server, embedded_server  # noqa: E402

QUERIES = paths.data("dns", "bench.queries")


def dnsperf(addr: str, port: int, seconds: int) -> dict:
    # -c 2 -T 2 -q 500 gave BIND its best numbers on these 2 cores (tried 1..8 clients).
    out = subprocess.run(["dnsperf", "-s", addr, "-p", str(port), "-d", str(QUERIES), "-l", str(seconds),
                          "-c", "2", "-T", "2", "-q", "500"], capture_output=True, text=True).stdout
    qps = float(re.search(r"Queries per second:\s+([\d.]+)", out).group(1))
    sent = int(re.search(r"Queries sent:\s+(\d+)", out).group(1))
    lost = int(re.search(r"Queries lost:\s+(\d+)", out).group(1))
    return {"qps": qps, "sent": sent, "lost": lost}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2, help="embedded server processes (SO_REUSEPORT)")
    a = ap.parse_args()
    if not shutil.which("dnsperf") or not shutil.which("named"):
        print("bench/dns.py: needs dnsperf and named (apt-get install dnsperf bind9)")
        print(json.dumps({"targets": {"embedded_vs_bind_qps": {"value": 0.0, "target": 0.25, "better": "higher"}},
                          "error": "dnsperf or named missing"}))
        return 0
    res = {"bind": [], "embedded": [], "uncached": []}
    with tempfile.TemporaryDirectory(prefix="lk-bench-dns-") as d, \
            bind_server(Path(d)) as (ba, bp), embedded_server(workers=a.workers) as (ea, ep), \
            embedded_server(workers=a.workers, addr="127.0.0.3", extra=["--cache-size", "0"]) as (ua, up):
        for r in range(a.rounds):
            for name, addr, port in (("bind", ba, bp), ("embedded", ea, ep), ("uncached", ua, up)):
                m = dnsperf(addr, port, a.seconds)
                res[name].append(m)
                print(f"round {r + 1} {name:9s} {m['qps']:10.0f} qps  sent {m['sent']:8d}  lost {m['lost']:5d}",
                      flush=True)
    med = {k: statistics.median(x["qps"] for x in v) for k, v in res.items()}
    lost = {k: sum(x["lost"] for x in v) for k, v in res.items()}
    sent = {k: sum(x["sent"] for x in v) for k, v in res.items()}
    ratio = med["embedded"] / med["bind"] if med["bind"] else 0.0
    print()
    print(f"BIND 9.18 (named, default threads)   median {med['bind']:9.0f} qps   lost {lost['bind']} of {sent['bind']}")
    print(f"embedded ({a.workers} worker(s), cached)   median {med['embedded']:9.0f} qps   "
          f"lost {lost['embedded']} of {sent['embedded']}")
    print(f"embedded without answer cache       median {med['uncached']:9.0f} qps   "
          f"lost {lost['uncached']} of {sent['uncached']}   (ratio {med['uncached'] / med['bind']:.2f}, info only)")
    print(f"ratio embedded/BIND = {ratio:.2f}   (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    print(json.dumps({
        "targets": {"embedded_vs_bind_qps": {"value": round(ratio, 3), "target": 0.25, "better": "higher"}},
        "bind_qps": round(med["bind"]), "embedded_qps": round(med["embedded"]),
        "bind_lost": lost["bind"], "embedded_lost": lost["embedded"],
        "bind_sent": sent["bind"], "embedded_sent": sent["embedded"],
        "uncached_qps": round(med["uncached"]), "uncached_lost": lost["uncached"],
        "workers": a.workers, "loadavg": round(os.getloadavg()[0], 2),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
