"""Bring-up and tear-down of the seed topology: labkit side by side with plain Mininet.

Plain Mininet builds the same nodes (one namespace each) and the same links with
the same addresses (Mininet's own Host/Link/setIP, controller=None); labkit builds
the seed lab without services for the like-for-like ratio, then with every service
for `up_s`/`down_s`. Rounds interleave the three (bench/stats.py), so machine noise hits all alike.
Last line: JSON with the targets.
"""
from __future__ import annotations

import argparse
import statistics
import time

from mininet.log import setLogLevel
from mininet.net import Mininet
from mininet.node import Host

from labkit.lab import Lab, load
from stats import finish, interleaved, ratios, show, spread, target


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
    runs = interleaved(args.rounds, {"mininet": lambda: mininet_round(topo),
                                     "labkit": lambda: labkit_round(services=False),
                                     "full": lambda: labkit_round(services=True)})
    up = {k: [u for u, _ in v] for k, v in runs.items()}
    down = {k: [d for _, d in v] for k, v in runs.items()}
    per_round = ratios(up["labkit"], up["mininet"])
    med = statistics.median
    print(f"seed topology: {len(topo.nodes)} nodes, {len(topo.links)} links; {args.rounds} interleaved rounds")
    for name, label in (("mininet", "plain Mininet"), ("labkit", "labkit, no services"),
                        ("full", "labkit, all services")):
        print(f"{label:22} up {show(up[name])} s   down {show(down[name])} s")
    print(f"labkit/Mininet bring-up ratio per round: {show(per_round, '.2f')}")
    finish({"up_vs_mininet": target(med(per_round), 1.5, "lower"),
            "up_s": target(med(up["full"]), 3.0, "lower"),
            "down_s": target(med(down["full"]), 1.0, "lower")},
           spreads={"up_vs_mininet": spread(per_round), "up_s": spread(up["full"]),
                    "down_s": spread(down["full"]), "mininet_up_s": spread(up["mininet"]),
                    "labkit_topology_up_s": spread(up["labkit"])},
           rounds=args.rounds)


if __name__ == "__main__":
    main()
