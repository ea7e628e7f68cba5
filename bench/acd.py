"""Benchmark of the labkit ACD against sipp, side by side with sipp talking to itself.

1. Signalling: the ACD daemon (python -m labkit.acd.serve, no media) with 100 agents whose
   phones are one sipp UAS (uas_agent.xml: answers the ACD's SUBSCRIBE with dialog-info, answers
   its INVITEs, talks 100 ms, hangs up).  The agents log in through sipp (uac_login.xml, INFO
   DTMF).  A sipp UAC (uac_queue.xml) then calls the queue at rising rates; each call is
   INVITE/200/ACK, the ACD's INVITE to the most-idle agent, the re-INVITE that connects the
   media, the agent's BYE and the ACD's BYE.  The best rate with zero failed calls is reported,
   next to sipp's built-in uac -> uas at the same rates (the "real peer" of the comparison:
   Asterisk is not packaged for this Debian).
2. REST: GET /queues and GET /agents latency while the ACD carries the highest passing load.
3. RTP: how many concurrent PCMU streams ONE scheduler thread paces with p99 lateness <= 5 ms
   (bench/rtp_streams.py: max_streams).
4. Relay: the ACD with media on, 300 agents whose phones let the caller hang up first
   (uas_agent_hold.xml), and callers that will not be re-INVITEd (no Allow, like sipp's
   built-in uac) and send PCMU RTP from a pcap for 500 ms (uac_pcmu.xml): the ACD relays every
   packet.  The best rate with zero failed calls, and how many packets were relayed.

The three are measured in interleaved rounds (bench/stats.py: ACD ramp, sipp uac -> uas
ramp, RTP search once per round, the order reversed every other round, each ramp with a
fresh ACD / sipp UAS), so the shared machine's noise hits all alike. Each figure is the
median over rounds, printed with its IQR and range; ``acd_vs_sipp_uas`` is the median of
the per-round ratios of the two best zero-failure rates.  Everything runs on 127.0.0.x.
Progress goes to stderr; the last line is one JSON object of targets; exit 0 whether they
are met or not.
"""
from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.rtp_streams import max_streams  # noqa: E402
from labkit import paths, procs as proctools  # noqa: E402
from labkit.acd.daemon import AcdDaemon, udp_bound  # noqa: E402
from labkit.procs import OwnProcesses, free_port  # noqa: E402
from stats import finish, interleaved, median, ratios, show, spread, target  # noqa: E402

SIPP_DIR = paths.data("sipp")
N_AGENTS = 100


def wait_udp(host: str, port: int, timeout: float = 10.0) -> None:
    proctools.wait_until(lambda: udp_bound(host, port), timeout, what=f"sipp on {host}:{port}")


NICE = ["nice", "-n", "10", "taskset", "-c", "1"]   # load generators: CPU 1, lower priority


def sipp_run(argv: list[str], cwd: Path, timeout: float) -> dict:
    """Run sipp to completion; count successful and failed calls from its final screen.

    sipp runs at nice 10 on CPU 1 and the ACD on CPU 0: on this 2-core machine a load generator
    that preempts the ACD measures the scheduler, not the ACD."""
    screen = cwd / f"screen-{time.monotonic_ns()}.txt"
    try:
        r = subprocess.run(NICE + argv + ["-nostdin", "-trace_screen", "-screen_file", str(screen),
                                   "-trace_err", "-error_file", str(screen) + ".err"],
                           cwd=cwd, capture_output=True, text=True, timeout=timeout)
        rc = r.returncode
    except subprocess.TimeoutExpired:
        rc = -9
    text = screen.read_text(errors="replace") if screen.exists() else ""
    def counter(name: str) -> int:
        m = re.findall(rf"{name}\s*\|\s*(\d+)\s*\|\s*(\d+)", text)
        return int(m[-1][1]) if m else -1
    return {"rc": rc, "ok": counter("Successful call"), "failed": counter("Failed call")}


def config(path: Path, media: bool, agents: int) -> Path:
    return AcdDaemon.render(path, {
        "ring_timeout": 5, "wrapup": 0, "autopause_after": 0, "login_hangup_delay": 5,
        "media": media, "queues": [{"name": "bench"}],
        "agents": [{"id": str(1000 + i), "memberof": ["bench"]} for i in range(agents)]})


class RestProbe(threading.Thread):
    """GET /queues and /agents over one keep-alive connection, 50 times a second."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.lat: list[float] = []
        self.errors = 0
        self.stop_ev = threading.Event()

    def run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        paths = ["/queues", "/agents"]
        i = 0
        while not self.stop_ev.is_set():
            t0 = time.perf_counter()
            try:
                conn.request("GET", paths[i % 2])
                r = conn.getresponse()
                body = r.read()
                if r.status != 200 or not body.startswith(b"{"):
                    self.errors += 1
                self.lat.append((time.perf_counter() - t0) * 1000)
            except (OSError, http.client.HTTPException):
                self.errors += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            i += 1
            self.stop_ev.wait(0.02)
        conn.close()


def pct(vals: list[float], q: float) -> float:
    if not vals:
        return float("nan")
    v = sorted(vals)
    return round(v[min(len(v) - 1, int(q * len(v)))], 2)


#: The two ramps of the ACD: (media on?, agents, the agents' sipp scenario and its arguments,
#: the callers' sipp scenario and its arguments, how long a call talks).
#: - signalling: callers take the re-INVITE (uac_queue.xml), agents talk 100 ms and hang up;
#: - relay: callers that list no Allow (never re-INVITEd, like sipp's built-in uac) and send
#:   PCMU RTP from a pcap for 500 ms (uac_pcmu.xml: 25 packets a call); the ACD relays every
#:   packet to the agents, whose phones (uas_agent_hold.xml) let the caller hang up first;
#:   300 agents, so 600 calls/s of 0.5 s each never wait for a free agent.  (A sipp caller
#:   that refuses the re-INVITE would not do: sipp points its RTP at the SDP of any INVITE it
#:   receives, even one it answered 488, and talks to the agent directly.)
RAMPS = {
    "signalling": (False, N_AGENTS, "uas_agent.xml", ["-d", "{talk}"], "uac_queue.xml", [], 100),
    "relay": (True, 300, "uas_agent_hold.xml", [], "uac_pcmu.xml", ["-d", "{talk}"], 500),
}


def bench_acd(tmp: Path, rates: list[int], seconds: float, kind: str = "signalling") -> dict:
    media, n_agents, agent_sf, agent_args, caller_sf, caller_args, talk_ms = RAMPS[kind]
    fill = lambda args: [a.format(talk=talk_ms) for a in args]  # noqa: E731
    procs = OwnProcesses()
    cfg = config(tmp / "acd.yaml", media, n_agents)
    sip_port, http_port = free_port(socket.SOCK_DGRAM), free_port(socket.SOCK_STREAM)
    daemon = AcdDaemon(cfg, sip=("127.0.0.1", sip_port), http=("127.0.0.1", http_port),
                       media=media, lag_stats=True)
    out: dict = {"steps": [], "kind": kind}
    try:
        prof = ["-m", "cProfile", "-o", os.environ["ACD_PROFILE"]] if os.environ.get("ACD_PROFILE") else []
        acd = procs.spawn(daemon.argv(["taskset", "-c", "0"], prof), tmp / "acd.log", cwd=ROOT)
        uas_port = free_port(socket.SOCK_DGRAM, "127.0.0.3")
        procs.spawn(NICE + ["sipp", "-sf", str(SIPP_DIR / agent_sf), "-i", "127.0.0.3", "-p",
                     str(uas_port), "-mi", "127.0.0.3", *fill(agent_args), "-nostdin",
                     "-max_socket", "5000"], tmp / "uas.log", cwd=tmp)
        daemon.wait_ready(10, alive=lambda: acd.poll() is None)
        wait_udp("127.0.0.3", uas_port)
        csv = tmp / "agents.csv"
        rows = ["SEQUENTIAL"] + [f"{1000 + i};{';'.join(str(1000 + i))};127.0.0.3:{uas_port}"
                                 for i in range(n_agents)]
        csv.write_text("\n".join(rows) + "\n")
        login = sipp_run(["sipp", "-sf", str(SIPP_DIR / "uac_login.xml"), f"127.0.0.1:{sip_port}",
                          "-i", "127.0.0.2", "-p", str(free_port(socket.SOCK_DGRAM, "127.0.0.2")), "-mi", "127.0.0.2",
                          "-inf", str(csv), "-m", str(n_agents), "-r", "100"], tmp, 60)

        def idle_agents() -> list:
            return [a for a in json.loads(_get(http_port, "/agents"))["agents"] if a["state"] == "idle"]

        def settle() -> None:
            """Until every agent is idle again (the last step's calls ended), at most 10 s."""
            try:
                proctools.wait_until(lambda: len(idle_agents()) == n_agents, 10, 0.1, what="agents idle")
            except proctools.WaitTimeout:
                pass   # reported below: how many made it
        settle()
        agents = json.loads(_get(http_port, "/agents"))["agents"]
        out["agents_idle"] = sum(1 for a in agents if a["state"] == "idle")
        out["agents"] = n_agents
        out["login"] = login
        best = 0
        for rate in rates:
            probe = RestProbe(http_port)
            probe.start()
            n = int(rate * seconds)
            res = sipp_run(["sipp", "-sf", str(SIPP_DIR / caller_sf), "-s", "bench",
                            f"127.0.0.1:{sip_port}", "-i", "127.0.0.2",
                            "-p", str(free_port(socket.SOCK_DGRAM, "127.0.0.2")), "-mi", "127.0.0.2",
                            *fill(caller_args), "-r", str(rate), "-m", str(n), "-l", "2000",
                            "-max_socket", "5000"], tmp, seconds + 40)
            probe.stop_ev.set()
            probe.join()
            step = {"rate": rate, "calls": n, **res, "rest_p50_ms": pct(probe.lat, 0.5),
                    "rest_p99_ms": pct(probe.lat, 0.99), "rest_requests": len(probe.lat),
                    "rest_errors": probe.errors}
            out["steps"].append(step)
            print(f"  ACD {kind:10s} {rate:4d} calls/s: ok {res['ok']:5d} failed {res['failed']:3d}  "
                  f"REST p99 {step['rest_p99_ms']} ms", file=sys.stderr, flush=True)
            passed = res["rc"] == 0 and res["failed"] == 0 and res["ok"] == n
            if not passed:
                break
            best = rate
            out["rest_p99_ms_at_best"] = step["rest_p99_ms"]
            settle()
        out["best_rate"] = best
        stats = json.loads(_get(http_port, "/stats"))
        out["acd_sip"] = stats["sip"]
        out["acd_counters"] = stats["counters"]
        out["acd_rtp"] = stats.get("rtp", {})
        out["acd_gc"] = stats.get("gc")
    finally:
        procs.stop()
    m = re.search(r"loop lag ms: .*", (tmp / "acd.log").read_text())
    out["acd_loop_lag"] = m.group(0) if m else ""
    # "under that load": the 300 calls/s of the signalling target (else the best rate reached)
    steps = {st["rate"]: st for st in out["steps"]}
    rest_step = steps[300] if steps.get(300, {}).get("failed", 1) == 0 else steps.get(best, {})
    out["rest_rate"], out["rest_p99_ms"] = rest_step.get("rate"), rest_step.get("rest_p99_ms", float("nan"))
    return out


def bench_sipp_direct(tmp: Path, rates: list[int], seconds: float, talk_ms: int) -> dict:
    """sipp's built-in uac -> uas, the same call counts: the reference peer."""
    procs = OwnProcesses()
    out = {"steps": []}
    try:
        port = free_port(socket.SOCK_DGRAM, "127.0.0.3")
        procs.spawn(NICE + ["sipp", "-sn", "uas", "-i", "127.0.0.3", "-p", str(port), "-nostdin"],
                    tmp / "direct-uas.log", cwd=tmp)
        wait_udp("127.0.0.3", port)
        best = 0
        for rate in rates:
            n = int(rate * seconds)
            res = sipp_run(["sipp", "-sn", "uac", f"127.0.0.3:{port}", "-i", "127.0.0.2",
                            "-p", str(free_port(socket.SOCK_DGRAM, "127.0.0.2")), "-r", str(rate), "-m", str(n),
                            "-d", str(talk_ms)], tmp, seconds + 30)
            out["steps"].append({"rate": rate, **res})
            print(f"  sipp  {rate:4d} calls/s: ok {res['ok']:5d} failed {res['failed']:3d}", file=sys.stderr, flush=True)
            if res["rc"] != 0 or res["failed"] != 0:
                break
            best = rate
        out["best_rate"] = best
    finally:
        procs.stop()
    return out


def _get(port: int, path: str) -> bytes:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", path)
    body = conn.getresponse().read()
    conn.close()
    return body


# (name, goal, better) of every target, in the order printed
TARGETS = [("calls_per_s_zero_failed", 300, "higher"), ("rest_p99_ms", 20, "lower"),
           ("rtp_streams_one_thread", 500, "higher"), ("acd_vs_sipp_uas", 0.8, "higher"),
           ("relay_calls_per_s_zero_failed", 200, "higher")]


def acd_round(base: Path, rates: list[int], seconds: float, kind: str = "signalling") -> dict:
    """One ramp of a fresh ACD (its own directory: logs of every round are kept apart)."""
    tmp = Path(tempfile.mkdtemp(prefix=f"acd-{kind}-", dir=base))
    (tmp / "pcmu.pcap").write_bytes((SIPP_DIR / "pcmu.pcap").read_bytes())
    print(f"  ACD {kind} ramp, {RAMPS[kind][1]} agents (sipp UAS), {seconds:g} s per step",
          file=sys.stderr, flush=True)
    return bench_acd(tmp, rates, seconds, kind)


def direct_round(base: Path, rates: list[int], seconds: float, talk_ms: int) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="sipp-", dir=base))
    print(f"  sipp uac -> uas ramp, {seconds:g} s per step", file=sys.stderr, flush=True)
    return bench_sipp_direct(tmp, rates, seconds, talk_ms)


def rtp_round(seconds: float) -> dict:
    print("  RTP: concurrent PCMU streams in one scheduler thread at p99 lateness <= 5 ms",
          file=sys.stderr, flush=True)
    rtp = max_streams(5.0, seconds=seconds, start=250)
    print(f"  RTP: {rtp['max_streams']} streams {rtp.get('note', '')}", file=sys.stderr, flush=True)
    return {k: v for k, v in rtp.items() if k != "runs"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--rates", default="100,300,600,800,1000")
    ap.add_argument("--relay-rates", default="100,200,300,400,600")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--rtp-seconds", type=float, default=1.5)
    args = ap.parse_args()
    if shutil.which("sipp") is None:
        print("sipp not installed (apt-get install sip-tester)", file=sys.stderr)
        finish({name: target(0.0, goal, better) for name, goal, better in TARGETS}, error="sipp missing")
        return
    rates = [int(r) for r in args.rates.split(",")]
    relay_rates = [int(r) for r in args.relay_rates.split(",")]
    with tempfile.TemporaryDirectory(prefix="labkit-acd-bench-") as d:
        d = os.environ.get("ACD_BENCH_KEEP", d)   # keep sipp logs for a post-mortem
        tmp = Path(d)
        tmp.mkdir(parents=True, exist_ok=True)
        (tmp / "pcmu.pcap").write_bytes((SIPP_DIR / "pcmu.pcap").read_bytes())
        runs = interleaved(args.rounds, {
            "acd": lambda: acd_round(tmp, rates, args.seconds),
            "sipp": lambda: direct_round(tmp, rates, args.seconds, RAMPS["signalling"][-1]),
            "relay": lambda: acd_round(tmp, relay_rates, args.seconds, "relay"),
            "rtp": lambda: rtp_round(args.rtp_seconds)})
    acd_best = [r["best_rate"] for r in runs["acd"]]
    sipp_best = [r["best_rate"] for r in runs["sipp"]]
    vs_sipp = ratios(acd_best, sipp_best)                   # per round: same noise
    rest_p99 = [r["rest_p99_ms"] for r in runs["acd"] if not math.isnan(r["rest_p99_ms"])]
    rest_rates = sorted({r["rest_rate"] for r in runs["acd"] if r["rest_rate"] is not None})
    streams = [r["max_streams"] for r in runs["rtp"]]
    relay_best = [r["best_rate"] for r in runs["relay"]]
    print(f"{args.rounds} interleaved rounds; rates {args.rates} calls/s, {args.seconds:g} s per step")
    print(f"ACD zero-failure rate:          {show(acd_best, '.0f')} calls/s (target >= 300)")
    print(f"sipp uac->uas zero-failure rate: {show(sipp_best, '.0f')} calls/s "
          f"(sipp's limit here is the top rate tried)")
    print(f"ACD / sipp uac->uas per round:  {show(vs_sipp, '.2f')} (target >= 0.8)")
    print(f"agents logged in and idle before each ramp: {[r.get('agents_idle') for r in runs['acd']]}/{N_AGENTS}")
    print(f"REST p99 at {rest_rates} calls/s (the target load): {show(rest_p99, '.2f')} ms (target <= 20)")
    relayed = [r.get("acd_rtp", {}).get("relayed", 0) for r in runs["relay"]]
    print(f"ACD relay zero-failure rate:    {show(relay_best, '.0f')} calls/s (target >= 200; callers "
          f"never re-INVITEd talk PCMU 500 ms; packets relayed per round: {relayed})")
    print(f"RTP streams in one thread:      {show(streams, '.0f')} (target >= 500; "
          f"design guide reference: 600 streams at p99 6 ms)")
    for i, r in enumerate(runs["acd"]):
        print(f"round {i + 1} ACD {r.get('acd_loop_lag')}")
    print(f"load average (other work on this machine counts): {open('/proc/loadavg').read().split()[:3]}")
    values = {"calls_per_s_zero_failed": median(acd_best), "rest_p99_ms": median(rest_p99, float("nan")),
              "rtp_streams_one_thread": median(streams), "acd_vs_sipp_uas": median(vs_sipp),
              "relay_calls_per_s_zero_failed": median(relay_best)}
    finish({name: target(values[name], goal, better) for name, goal, better in TARGETS},
           spreads={"calls_per_s_zero_failed": spread(acd_best), "rest_p99_ms": spread(rest_p99),
                    "rtp_streams_one_thread": spread(streams), "acd_vs_sipp_uas": spread(vs_sipp),
                    "relay_calls_per_s_zero_failed": spread(relay_best),
                    "sipp_uas_calls_per_s_zero_failed": spread(sipp_best)},
           rounds=args.rounds, acd=runs["acd"], sipp_direct=runs["sipp"], relay=runs["relay"],
           rtp=runs["rtp"])


if __name__ == "__main__":
    main()
