"""``python -m labkit.dns.serve --zone ORIGIN=FILE ... --listen ADDR[:PORT]``

Runs the embedded authoritative server in the foreground (the PID you start is the
server). ``--named-conf FILE`` serves the zones of a named.conf (the seed's), reading the
zone files relative to it, so the BIND and embedded backends serve the same input.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .authority import Authority
from .namedconf import NamedConfError, load_zones
from .server import run_workers
from .zone import ZoneError, load_zone


def zones_from_args(zone_args: list[str], named_confs: list[str]):
    zones = []
    for z in zone_args:
        origin, sep, path = z.partition("=")
        if not sep:
            raise SystemExit(f"--zone {z!r}: write ORIGIN=FILE, e.g. exampledomain.ca=topologies/ec2/exampledomain.ca")
        zones.append(load_zone(path, origin))
    for nc in named_confs:
        for st in load_zones(nc):
            if st.type not in ("master", "primary") or not st.file:
                continue
            zones.append(load_zone(Path(nc).parent / st.file, st.name))
    return zones


def parse_listen(items: list[str], default_port: int) -> list[tuple[str, int]]:
    out = []
    for item in items:
        host, _, port = item.partition(":")
        out.append((host, int(port) if port else default_port))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m labkit.dns.serve", description=__doc__)
    ap.add_argument("--zone", action="append", default=[], help="ORIGIN=FILE (repeatable)")
    ap.add_argument("--named-conf", action="append", default=[], help="serve the master zones of this named.conf")
    ap.add_argument("--listen", action="append", default=[], help="ADDR[:PORT] (repeatable; default 0.0.0.0)")
    ap.add_argument("--port", type=int, default=53)
    ap.add_argument("--workers", type=int, default=1, help="processes sharing the port (SO_REUSEPORT)")
    ap.add_argument("--cache-size", type=int, default=50_000,
                    help="answers cached by query bytes (0: compute every answer; for benchmarks)")
    ap.add_argument("--udp-mode", choices=("drain", "protocol"), default="drain",
                    help="drain: reader callback that empties the socket (fast); protocol: asyncio DatagramProtocol")
    a = ap.parse_args(argv)
    try:
        zones = zones_from_args(a.zone, a.named_conf)
    except (ZoneError, NamedConfError) as e:
        print(f"labkit.dns.serve: {e}", file=sys.stderr)
        return 2
    if not zones:
        print("labkit.dns.serve: no zones given (use --zone ORIGIN=FILE or --named-conf FILE)", file=sys.stderr)
        return 2
    listen = parse_listen(a.listen or ["0.0.0.0"], a.port)
    print(f"labkit.dns.serve: {len(zones)} zone(s) on {listen}", file=sys.stderr, flush=True)
    run_workers(lambda: Authority(zones), listen, a.workers, a.cache_size, a.udp_mode == "drain")
    return 0


if __name__ == "__main__":
    sys.exit(main())
