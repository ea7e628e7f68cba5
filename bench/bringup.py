"""Bring-up and tear-down of the seed topology: labkit side by side with plain Mininet.

Plain Mininet builds the same nodes (one namespace each) and the same links with
the same addresses (Mininet's own Host/Link/setIP, controller=None); labkit builds
the seed lab without services for the like-for-like ratio, then with every service
for `up_s`/`down_s`. Rounds alternate between the two so machine noise hits both.
Last line: JSON with the targets.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

from mininet.log import setLogLevel
from mininet.net import Mininet
from mininet.node import Host

from labkit.lab import Lab, load


def mininet_round(topo) -> tuple[float, float]:
    t0 = time.perf_counter()
    net = Mininet(controller=None, build=False, autoSetMacs=False, waitConnected=False)
    hosts = {name: net.addHost(name, cls=Host, ip=None) for name in topo.nodes}
    for link in topo.links:
        net.addLink(hosts[link.a.node], hosts[link.b.node], intfName1=link.a.intf, intfName2=link.b.intf)
    net.build()
    for name, node in topo.nodes.items():
        for intf in node.interfaces.values():
            for addr in intf.addresses:
                hosts[name].intf(intf.name).setIP(str(addr))
    up = time.perf_counter() - t0
    t1 = time.perf_counter()
    net.stop()
    return up, time.perf_counter() - t1


def labkit_round(services: bool) -> tuple[float, float]:
    t0 = time.perf_counter()
    lab = Lab.up("seed", name="bench", replace=True, services=services)
    up = time.perf_counter() - t0
    t1 = time.perf_counter()
    lab.down()
    return up, time.perf_counter() - t1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    setLogLevel("error")
    topo = load("seed")
    mn_up, mn_down, lk_up, lk_down, full_up, full_down = [], [], [], [], [], []
    for i in range(args.rounds):
        print(f"round {i + 1}/{args.rounds}", file=sys.stderr, flush=True)
        u, d = mininet_round(topo); mn_up.append(u); mn_down.append(d)
        u, d = labkit_round(services=False); lk_up.append(u); lk_down.append(d)
        u, d = labkit_round(services=True); full_up.append(u); full_down.append(d)
    med = statistics.median
    ratio = med(lk_up) / med(mn_up)
    print(f"seed topology: {len(topo.nodes)} nodes, {len(topo.links)} links; median of {args.rounds} rounds")
    print(f"{'':28}{'up s':>8}{'down s':>9}")
    print(f"{'plain Mininet':28}{med(mn_up):8.3f}{med(mn_down):9.3f}")
    print(f"{'labkit, no services':28}{med(lk_up):8.3f}{med(lk_down):9.3f}")
    print(f"{'labkit, all services':28}{med(full_up):8.3f}{med(full_down):9.3f}")
    print(f"labkit/Mininet bring-up ratio: {ratio:.2f}")
    print(json.dumps({
        "targets": {
            "up_vs_mininet": {"value": round(ratio, 3), "target": 1.5, "better": "lower"},
            "up_s": {"value": round(med(full_up), 3), "target": 3.0, "better": "lower"},
            "down_s": {"value": round(med(full_down), 3), "target": 1.0, "better": "lower"},
        },
        "mininet_up_s": round(med(mn_up), 3), "mininet_down_s": round(med(mn_down), 3),
        "labkit_topology_up_s": round(med(lk_up), 3), "labkit_topology_down_s": round(med(lk_down), 3),
        "rounds": args.rounds,
    }))


if __name__ == "__main__":
    main()
