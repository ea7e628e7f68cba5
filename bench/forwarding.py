"""Inter-VLAN forwarding through the emulated 3550, side by side with a bare veth pair.

Three labs are up at once (all built by labkit):
  fwdcampus    bench/topologies/fwd-campus.yaml: topologies/sw3550.ios unchanged (the
               SVIs on per-VLAN Linux bridges, ACL 102 in on Vlan2 with `established`),
               pc2 in VLAN1, acd in VLAN2. The flow is VLAN1 -> VLAN2 TCP, which the ACL
               permits: every ACK acd sends back is matched by line 10 (`established`),
               so the bench pays for the ACL as the seed lab does.
  campustrunk  topologies/campus-trunk.yaml: pc2 (VLAN 1) and phone2 (VLAN 2) sit on the
               access switch; the flow crosses the 802.1Q trunk up to the 3550 (both
               switches are private Open vSwitches, userspace datapath), is routed there
               (through ACL 102 as above) and crosses the trunk again down to phone2.
  fwdveth      bench/topologies/fwd-veth.yaml: two hosts on one veth pair.

iperf3 TCP, one stream, the server inside the receiving host (started and stopped by
its PID). The paths are interleaved over rounds, and their order alternates from round
to round, so machine noise (this VM's cores are shared) hits all. Each round gives
ratios of runs made next to each other; a target is the median of those ratios, printed
with its quartiles and range, as are the paths' throughputs.

Failover: once per round, the access switch's forwarding uplink is pulled and the time
until pc2 reaches pc1 again over the blocked one is taken (a figure, not a target).

Bring-up: the campus-trunk topology is brought up and down once per round, next to the
seed (Linux bridges only), under other instance names; `trunk_lab_up_s` is the median
of Lab.up's own up_s (namespaces, links, OVS, spanning tree settled, services ready).
Last line: JSON with the targets; exit 0 whether they are met or not.
"""
from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

from labkit.lab import Lab
from labkit.procs import wait_until
from stats import finish, interleaved, median, ratios, show, spread, target

HERE = Path(__file__).resolve().parent
TOPOLOGIES = HERE.parent / "topologies"
PORT = 5201


def iperf(lab: Lab, client: str, server: str, seconds: float) -> float:
    """Gbit/s of one iperf3 TCP run from `client` to `server` (a server process per run)."""
    addr = lab.node(server).ip()
    srv = lab.node(server).popen(["iperf3", "-s", "-1", "-p", str(PORT)], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        wait_until(lambda: f":{PORT} " in lab.node(server).cmd(f"ss -Hltn sport = :{PORT}"), 10.0, 0.05,
                   what=f"iperf3 listening in {server}")
        p = lab.node(client).run(["iperf3", "-c", addr, "-p", str(PORT), "-t", str(seconds), "-J"],
                                 timeout=seconds + 30)
        data = json.loads(p.stdout)
        if "error" in data:
            raise RuntimeError(f"iperf3 {client} -> {server}: {data['error']}")
        return data["end"]["sum_received"]["bits_per_second"] / 1e9
    finally:
        if srv.poll() is None:
            srv.kill()
        srv.wait(5)


def failover(lab: Lab) -> float:
    """Seconds from pulling the access switch's forwarding uplink until pc2 reaches pc1 over
    the other one (RSTP: the alternate port takes over); the link is put back after."""
    from labkit.lessons import trunks

    try:
        return trunks.pull_link(lab, "sw2950", "fa0-1", "pc2", "pc1")
    finally:
        trunks.restore_link(lab, "sw2950", "fa0-1")


def up_seconds(topology: Path, name: str) -> float:
    """Lab.up's own figure for one bring-up (under another instance name), then down."""
    lab = Lab.up(topology, name=name, replace=True)
    try:
        return lab.timings["up_s"]
    finally:
        lab.down()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=4.0)
    args = ap.parse_args()

    labs: list[Lab] = []
    try:
        for topo in (HERE / "topologies/fwd-campus.yaml", TOPOLOGIES / "campus-trunk.yaml",
                     HERE / "topologies/fwd-veth.yaml"):
            labs.append(Lab.up(topo, replace=True))
        campus, trunk, veth = labs
        from labkit.lessons.campus import acl_counts
        before = acl_counts(campus)
        runs = interleaved(args.rounds, {"inter": lambda: iperf(campus, "pc2", "acd", args.seconds),
                                         "trunk": lambda: iperf(trunk, "pc2", "phone2", args.seconds),
                                         "bare": lambda: iperf(veth, "a", "b", args.seconds)})
        inter, over_trunk, bare = runs["inter"], runs["trunk"], runs["bare"]
        failovers = [failover(trunk) for _ in range(args.rounds)]
        after = acl_counts(campus)
        est = after[("102", "10")] - before.get(("102", "10"), 0)
    finally:
        for lab in labs:
            lab.down()
    ups = interleaved(args.rounds, {"trunk_up": lambda: up_seconds(TOPOLOGIES / "campus-trunk.yaml", "fwdtrunkup"),
                                    "seed_up": lambda: up_seconds(TOPOLOGIES / "seed.yaml", "fwdseedup")},
                      label="bring-up round")
    per_round = ratios(inter, bare)      # each round's neighbouring runs
    trunk_round = ratios(over_trunk, bare)
    ratio, trunk_ratio, trunk_up = median(per_round), median(trunk_round), median(ups["trunk_up"])
    print(f"{args.rounds} interleaved rounds of {args.seconds:g} s:")
    print(f"inter-VLAN, Linux bridges (pc2 VLAN1 -> Vlan1 SVI -> Vlan2 SVI -> acd, ACL 102): {show(inter, '.2f')} Gbit/s")
    print(f"inter-VLAN over the trunk (pc2 -> sw2950 -> trunk -> 3550 -> trunk -> phone2):   {show(over_trunk, '.2f')} Gbit/s")
    print(f"bare veth pair:                                                                {show(bare, '.2f')} Gbit/s")
    print(f"ratio per round, bridges/veth:                                                 {show(per_round, '.2f')}")
    print(f"ratio per round, trunk/veth:                                                   {show(trunk_round, '.2f')}")
    print(f"RSTP failover (forwarding uplink pulled -> pc2 reaches pc1 again): {show(failovers, '.3f')} s")
    print(f"bring-up campus-trunk (OVS, RSTP settled): {show(ups['trunk_up'], '.2f')} s; "
          f"seed (Linux bridges): {show(ups['seed_up'], '.2f')} s")
    print(f"intervlan_vs_veth {ratio:.2f} (target >= 0.5); trunk_intervlan_vs_veth {trunk_ratio:.2f} "
          f"(target >= 0.3); trunk_lab_up_s {trunk_up:.2f} (target <= 3.0); "
          f"ACL 102 line 10 (established) matched {est} packets")
    finish({"intervlan_vs_veth": target(ratio, 0.5, "higher"),
            "trunk_intervlan_vs_veth": target(trunk_ratio, 0.3, "higher"),
            "trunk_lab_up_s": target(trunk_up, 3.0, "lower")},
           spreads={"intervlan_vs_veth": spread(per_round), "trunk_intervlan_vs_veth": spread(trunk_round),
                    "trunk_lab_up_s": spread(ups["trunk_up"]), "seed_up_s": spread(ups["seed_up"]),
                    "intervlan_gbit_s": spread(inter), "trunk_gbit_s": spread(over_trunk),
                    "veth_gbit_s": spread(bare), "stp_failover_s": spread(failovers)},
           rounds=args.rounds, seconds=args.seconds, acl_established_matches=est)


if __name__ == "__main__":
    main()
