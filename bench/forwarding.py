"""Inter-VLAN forwarding through the emulated 3550, side by side with a bare veth pair.

Two labs are up at once (both built by labkit):
  fwdcampus  bench/topologies/fwd-campus.yaml: topologies/sw3550.ios unchanged (the
             SVIs on per-VLAN bridges, ACL 102 in on Vlan2 with `established`), pc2
             in VLAN1, acd in VLAN2. The flow is VLAN1 -> VLAN2 TCP, which the ACL
             permits: every ACK acd sends back is matched by line 10 (`established`),
             so the bench pays for the ACL as the seed lab does.
  fwdveth    bench/topologies/fwd-veth.yaml: two hosts on one veth pair.

iperf3 TCP, one stream, the server inside the receiving host (started and stopped by
its PID). The two paths are interleaved over rounds, and which one goes first alternates
from round to round, so machine noise (this VM's cores are shared) hits both. Each round
gives a ratio of two runs made next to each other; the target is the median of those
ratios, printed with its quartiles and range, as are both paths' throughputs.
Last line: JSON with the target (ratio >= 0.5); exit 0 whether it is met or not.
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=4.0)
    args = ap.parse_args()

    campus = Lab.up(HERE / "topologies/fwd-campus.yaml", replace=True)
    veth = None
    try:
        veth = Lab.up(HERE / "topologies/fwd-veth.yaml", replace=True)
        from labkit.lessons.campus import acl_counts
        before = acl_counts(campus)
        runs = interleaved(args.rounds, {"inter": lambda: iperf(campus, "pc2", "acd", args.seconds),
                                         "bare": lambda: iperf(veth, "a", "b", args.seconds)})
        inter, bare = runs["inter"], runs["bare"]
        after = acl_counts(campus)
        est = after[("102", "10")] - before.get(("102", "10"), 0)
    finally:
        campus.down()
        if veth is not None:
            veth.down()
    per_round = ratios(inter, bare)      # each round's two neighbouring runs
    ratio = median(per_round)
    print(f"{args.rounds} interleaved rounds of {args.seconds:g} s:")
    print(f"inter-VLAN (pc2 VLAN1 -> Vlan1 SVI -> Vlan2 SVI -> acd, through ACL 102): {show(inter, '.2f')} Gbit/s")
    print(f"bare veth pair:                                                       {show(bare, '.2f')} Gbit/s")
    print(f"ratio per round:                                                      {show(per_round, '.2f')}")
    print(f"ratio {ratio:.2f} (target >= 0.5); ACL 102 line 10 (established) matched {est} packets")
    finish({"intervlan_vs_veth": target(ratio, 0.5, "higher")},
           spreads={"intervlan_vs_veth": spread(per_round), "intervlan_gbit_s": spread(inter),
                    "veth_gbit_s": spread(bare)},
           rounds=args.rounds, seconds=args.seconds, acl_established_matches=est)


if __name__ == "__main__":
    main()
