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
import statistics
import subprocess
import sys
from pathlib import Path

from labkit.lab import Lab
from labkit.procs import wait_until

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
        inter, bare, ratios = [], [], []
        paths = [("inter", lambda: iperf(campus, "pc2", "acd", args.seconds)),
                 ("bare", lambda: iperf(veth, "a", "b", args.seconds))]
        for r in range(args.rounds):
            got = {name: measure() for name, measure in (paths if r % 2 == 0 else paths[::-1])}
            inter.append(got["inter"])
            bare.append(got["bare"])
            ratios.append(got["inter"] / got["bare"] if got["bare"] else 0.0)
            print(f"round {r + 1}: VLAN1->VLAN2 via the 3550 {inter[-1]:.2f} Gbit/s, "
                  f"bare veth {bare[-1]:.2f} Gbit/s, ratio {ratios[-1]:.2f}", file=sys.stderr)
        after = acl_counts(campus)
        est = after[("102", "10")] - before.get(("102", "10"), 0)
    finally:
        campus.down()
        if veth is not None:
            veth.down()
    si, sv, sr = spread(inter), spread(bare), spread(ratios)
    ratio = sr["median"]
    print(f"{args.rounds} interleaved rounds of {args.seconds:g} s; median [quartiles] (range):")
    print(f"inter-VLAN (pc2 VLAN1 -> Vlan1 SVI -> Vlan2 SVI -> acd, through ACL 102): {fmt(si)} Gbit/s")
    print(f"bare veth pair:                                                       {fmt(sv)} Gbit/s")
    print(f"ratio per round:                                                      {fmt(sr)}")
    print(f"ratio {ratio:.2f} (target >= 0.5); ACL 102 line 10 (established) matched {est} packets")
    print(json.dumps({
        "targets": {"intervlan_vs_veth": {"value": round(ratio, 3), "target": 0.5, "better": "higher",
                                          "spread": rounded(sr)}},
        "intervlan_gbit_s": rounded(si), "veth_gbit_s": rounded(sv),
        "rounds": args.rounds, "seconds": args.seconds,
        "intervlan_runs": [round(x, 3) for x in inter], "veth_runs": [round(x, 3) for x in bare],
        "acl_established_matches": est,
    }))


def spread(xs: list[float]) -> dict:
    """Median, quartiles and range (the figures a bench reports, never a lone mean)."""
    q1, med, q3 = statistics.quantiles(xs, n=4, method="inclusive") if len(xs) > 1 else (xs[0],) * 3
    return {"median": med, "q1": q1, "q3": q3, "min": min(xs), "max": max(xs), "n": len(xs)}


def fmt(s: dict) -> str:
    return f"{s['median']:.2f} [{s['q1']:.2f}-{s['q3']:.2f}] ({s['min']:.2f}-{s['max']:.2f})"


def rounded(s: dict) -> dict:
    return {k: (v if k == "n" else round(v, 3)) for k, v in s.items()}

if __name__ == "__main__":
    main()
