"""Inter-VLAN forwarding through the emulated 3550, side by side with a bare veth pair.

Two labs are up at once (both built by labkit):
  fwdcampus  bench/topologies/fwd-campus.yaml: topologies/sw3550.ios unchanged (the
             SVIs on per-VLAN bridges, ACL 102 in on Vlan2 with `established`), pc2
             in VLAN1, acd in VLAN2. The flow is VLAN1 -> VLAN2 TCP, which the ACL
             permits: every ACK acd sends back is matched by line 10 (`established`),
             so the bench pays for the ACL as the seed lab does.
  fwdveth    bench/topologies/fwd-veth.yaml: two hosts on one veth pair.

iperf3 TCP, one stream, the server inside the receiving host (started and stopped by
its PID), rounds alternating between the two paths so machine noise hits both; the
median of the rounds counts. Last line: JSON with the target (ratio >= 0.5).
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from labkit.lab import Lab

HERE = Path(__file__).resolve().parent
PORT = 5201


def iperf(lab: Lab, client: str, server: str, seconds: float) -> float:
    """Gbit/s of one iperf3 TCP run from `client` to `server` (a server process per run)."""
    addr = lab.node(server).ip()
    srv = lab.node(server).popen(["iperf3", "-s", "-1", "-p", str(PORT)], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        for _ in range(50):   # wait until the server listens inside its namespace
            if f":{PORT} " in lab.node(server).cmd(f"ss -Hltn sport = :{PORT}"):
                break
            time.sleep(0.05)
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
        from labkit.probes.campus import acl_counts
        before = acl_counts(campus)
        inter, bare = [], []
        for r in range(args.rounds):
            inter.append(iperf(campus, "pc2", "acd", args.seconds))
            bare.append(iperf(veth, "a", "b", args.seconds))
            print(f"round {r + 1}: VLAN1->VLAN2 via the 3550 {inter[-1]:.2f} Gbit/s, "
                  f"bare veth {bare[-1]:.2f} Gbit/s", file=sys.stderr)
        after = acl_counts(campus)
        est = after[("102", "10")] - before.get(("102", "10"), 0)
    finally:
        campus.down()
        if veth is not None:
            veth.down()
    gi, gv = statistics.median(inter), statistics.median(bare)
    ratio = gi / gv if gv else 0.0
    print(f"inter-VLAN (pc2 VLAN1 -> Vlan1 SVI -> Vlan2 SVI -> acd, through ACL 102): {gi:.2f} Gbit/s")
    print(f"bare veth pair:                                                       {gv:.2f} Gbit/s")
    print(f"ratio {ratio:.2f} (target >= 0.5); ACL 102 line 10 (established) matched {est} packets")
    print(json.dumps({
        "targets": {"intervlan_vs_veth": {"value": round(ratio, 3), "target": 0.5, "better": "higher"}},
        "intervlan_gbit_s": round(gi, 3), "veth_gbit_s": round(gv, 3),
        "rounds": args.rounds, "seconds": args.seconds,
        "intervlan_runs": [round(x, 3) for x in inter], "veth_runs": [round(x, 3) for x in bare],
        "acl_established_matches": est,
    }))


if __name__ == "__main__":
    main()
