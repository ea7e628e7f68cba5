"""Benchmark of the labkit ACD behind a real PBX (Kamailio), side by side with sipp behind it.

The PBX is labkit's own: bench/pbx/sip.conf and bench/pbx/extensions.conf (Asterisk syntax,
checked by labkit.pbx.dialplan) rendered by labkit.pbx.kamailio into a kamailio.cfg and its
SQLite files, dry-run with ``kamailio -c``, then ``kamailio -DD -E -m SHM`` in the foreground on
127.0.0.5:5060 (its workers in its process group), ready once it answers an OPTIONS; a fresh
PBX for every ramp.  Everything runs on 127.0.0.x loopback addresses:

- 127.0.0.2: the sipp callers, the static peer ``gateway`` (known by address, no digest);
  its context sends ``_queue.`` to the AOR the ACD registers and ``_uas.`` to the peer ``uas``;
- 127.0.0.3:5060: ``sipp -sn uas``, the static peer ``uas``;
- 127.0.0.4:5060: one sipp UAS answering for every agent's phone (bench/pbx/uas_agent.xml), the
  static peer ``agents``: the ACD's context sends ``_1XXX`` (agents 1000...) there, so the
  phones need not register; the agents' logins come from this address too;
- 127.0.0.10: the labkit ACD in PBX mode (``--pbx 127.0.0.5:5060``, ``pbx_user: acdserver`` and
  its secret from sip.conf), on CPU 0 as in bench/acd.py, no media.  It registers acdserver,
  queue1, acdlogin and acdlogout with digest, SUBSCRIBEs to each agent's device at the PBX
  (Kamailio's presence server answers, through the ``acdpresence`` hint) and offers calls to
  ``sip:1000@PBX``, which the PBX challenges (407) and routes to the phones.

Two ramps, each the highest rate with zero failed calls (every step ``--seconds`` of calls at a
fixed rate, the ramp stops at the first step with a failed, missing or timed-out call):

1. uas: sipp -sn uac -> PBX -> sipp -sn uas, both sipp's built-in scenarios (INVITE, ACK and
   BYE to the PBX with no Route, talk 100 ms). The PBX runs one SIP worker, so a 180 never
   overtakes its 200 (with two it did, 1 call in 300, and the built-in uac counts that as a
   failed call).
2. ACD: 100 agents log in, then bench/pbx/uac_queue.xml -> PBX -> ACD queue1 -> PBX -> agent.
   A call is bench/acd.py's signalling call (data/sipp/uac_queue.xml, uas_agent.xml) made
   through the PBX: INVITE/200/ACK, the ACD's INVITE to the most idle agent through the PBX,
   the re-INVITE that connects caller and agent, the agent's BYE after 100 ms, the ACD's BYE.
   The bench's scenarios are those of data/sipp written as UAs behind a record-routing proxy
   (Route headers from Record-Route): data/sipp's send their in-dialog requests with no Route,
   sipp sends every message to the PBX, and Kamailio answers such a request for another host
   404 (or drops the ACK), so not one call would complete.

Agents log in THROUGH the PBX (bench/pbx/uac_login.xml from 127.0.0.4: ``*44``, the seed's
login extension, routed to the ACD's acdlogin; agent ID as INFO DTMF; hang up), not directly to
the ACD as in bench/acd.py.  Why: in PBX mode the ACD takes the agent's device from the login's
From user at the PBX (labkit.acd.pbx_client), so the path a login takes is part of what PBX mode
is; logging in through the PBX checks that path before every ramp and costs no digest (the
agents are a static peer).  The ramp starts once every agent is idle (bounded wait; the count is
reported).

Kamailio's shared memory: ``-m 1024`` by default (``--shm``; ``--shm 0`` runs it with
Kamailio's own 64 MB, as the lab's pbx service does).  Measured: every call holds about 33 KB
of shm until tm's wait timer frees it ~5 s after the call, so 64 MB runs out near 400 calls/s
(600 calls/s: 660 of 1800 calls got 500 "out of mem"), and the ACD path, two PBX dialogs per
call, used 89 MB at 300 calls/s.  A benchmark of the ACD behind the PBX should not stop at the
PBX's default memory size; 512 MB ran out at 4000 calls/s of the uas path.

The two ramps run in interleaved rounds (bench/stats.py: the order reversed every other round),
so the shared machine's noise hits both alike.  Each figure is the median over rounds, printed
with its IQR and range; ``pbx_acd_vs_pbx_uas`` is the median of the per-round ratios of the two
best zero-failure rates.  sipp runs as in bench/acd.py (bench.acd.sipp_run: nice 10 on CPU 1);
Kamailio is not pinned, alike in both ramps.  A ramp that cannot run (Kamailio does not start,
an address is taken) is reported with its error and no rate; a figure no round measured is
null.  Progress and the figures go to stderr; the last stdout line is one JSON object of
targets; the exit status is 0 whether the targets are met or not.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.acd import N_AGENTS, NICE, config, sipp_run  # noqa: E402
from bench.acd import _get as rest_get  # noqa: E402
from labkit import procs as proctools  # noqa: E402
from labkit.acd.daemon import AcdDaemon, udp_bound  # noqa: E402
from labkit.pbx import dialplan, kamailio  # noqa: E402
from labkit.pbx.service import options_request  # noqa: E402
from labkit.procs import OwnProcesses, free_port  # noqa: E402
from stats import finish, interleaved, median, ratios, show, spread, target  # noqa: E402

HERE = Path(__file__).resolve().parent / "pbx"
SIP_CONF, EXTENSIONS = HERE / "sip.conf", HERE / "extensions.conf"
PBX = ("127.0.0.5", 5060)
CALLER_IP = "127.0.0.2"          # the sip.conf peer "gateway"
ACD_IP, ACD_PEER = "127.0.0.10", "acdserver"
REGISTER_WAIT = 90.0             # s: the ACD retries 60 s after a refused REGISTER (labkit.acd.sip.register)
LOGIN_AOR = "acdlogin"           # extensions.conf: *44 -> Dial(SIP/acdserver/acdlogin)
QUEUE = "queue1"                 # the gateway's _queue. goes to the AOR the ACD registers
TALK_MS = 100                    # ms every call talks (uas: before the caller's BYE; ACD: the agent's)
SHM_MB = 1024                    # Kamailio's shared memory (-m); see the module docstring

# (name, goal, better) of every target, in the order printed
TARGETS = [("pbx_calls_per_s_zero_failed", 300, "higher"), ("pbx_acd_vs_pbx_uas", 0.7, "higher")]


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def static_peer(name: str) -> tuple[str, int]:
    """The address and port sip.conf gives a static peer: where its sipp must listen."""
    peer = dialplan.load(SIP_CONF, EXTENSIONS).peers[name]
    assert peer.host, f"{SIP_CONF}: peer {name} must be static (host=ADDRESS)"
    return peer.host, peer.port


def port_taken(host: str, port: int) -> None:
    """Refuse to start when something already holds a fixed UDP address of the bench."""
    if udp_bound(host, port):
        raise RuntimeError(f"UDP {host}:{port} is in use (another bench or test?): "
                         f"bench/pbx.py needs it, as {SIP_CONF} says; wait until it is free")


class Pbx:
    """Kamailio with the bench's dial plan, in `run_dir`; `procs` records and stops it."""

    def __init__(self, run_dir: Path, procs: OwnProcesses, shm_mb: int = 0) -> None:
        self.run_dir, self.procs, self.shm_mb = run_dir, procs, shm_mb
        self.cfg = run_dir / "kamailio.cfg"

    def start(self, timeout: float = 15.0) -> None:
        plan = dialplan.load(SIP_CONF, EXTENSIONS)
        addr, port = PBX
        port_taken(addr, port)
        self.cfg.write_text(kamailio.render(plan, addr, port, self.run_dir, "bench/pbx/sip.conf and extensions.conf"))
        kamailio.make_db(plan, self.run_dir, addr)
        check = subprocess.run(["kamailio", "-c", "-f", str(self.cfg)], capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"kamailio -c -f {self.cfg} failed: {(check.stdout + check.stderr)[-800:]}")
        shm = ["-m", str(self.shm_mb)] if self.shm_mb else []
        p = self.procs.spawn(["kamailio", "-DD", "-E", *shm, "-f", str(self.cfg), "-Y", str(self.run_dir)],
                             self.run_dir / "kamailio.log", cwd=self.run_dir)

        def up() -> bool:
            if p.poll() is not None:
                text = (self.run_dir / "kamailio.log").read_text(errors="replace")
                errors = [e.strip() for e in re.findall(r"ERROR: (.*)", text)[:2]]
                raise RuntimeError(f"kamailio exited ({p.returncode}) before it answered"
                                   + (f": {' / '.join(errors)[:400]}" if errors else ""))
            return self.answers()
        proctools.wait_until(up, timeout, 0.05, what=f"Kamailio answering OPTIONS on {addr}:{port}")

    def shm_max_used_mb(self) -> float | None:
        """The most shared memory Kamailio used so far (kamcmd core.shmmem), in MB."""
        r = subprocess.run(["kamcmd", "-s", f"unix:{self.run_dir / 'kamailio_ctl'}", "core.shmmem"],
                           capture_output=True, text=True, timeout=10)
        m = re.search(r"max_used:\s*(\d+)", r.stdout)
        return round(int(m.group(1)) / 2**20, 1) if m else None

    def answers(self, timeout: float = 0.3) -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(timeout)
            s.bind(("127.0.0.1", 0))
            try:
                s.sendto(options_request(*PBX, s.getsockname()), PBX)
                return s.recv(4096).startswith(b"SIP/2.0 ")
            except OSError:
                return False


def ramp(name: str, rates: list[int], seconds: float, step, settle=None) -> dict:
    """Run `step(rate, calls)` (-> sipp_run's dict) at each rate until one fails; the best rate."""
    out: dict = {"steps": [], "best_rate": 0}
    for rate in rates:
        n = int(rate * seconds)
        res = step(rate, n)
        out["steps"].append({"rate": rate, "calls": n, **res})
        log(f"  {name:9s} {rate:5d} calls/s: ok {res['ok']:6d} failed {res['failed']:4d} (rc {res['rc']})")
        if res["rc"] != 0 or res["failed"] != 0 or res["ok"] != n:
            break
        out["best_rate"] = rate
        if settle is not None:
            settle()
    return out


def caller(tmp: Path, service: str, rate: int, n: int, seconds: float) -> dict:
    """sipp's built-in uac at 127.0.0.2, the gateway, calling `service` through the PBX."""
    return sipp_run(["sipp", "-sn", "uac", f"{PBX[0]}:{PBX[1]}", "-s", service, "-i", CALLER_IP,
                     "-p", str(free_port(socket.SOCK_DGRAM, CALLER_IP)), "-r", str(rate), "-m", str(n),
                     "-d", str(TALK_MS), "-l", "5000", "-max_socket", "5000"], tmp, seconds + 40)


def uas_round(base: Path, rates: list[int], seconds: float, shm_mb: int) -> dict:
    """sipp uac -> PBX -> sipp uas, with a fresh PBX and uas."""
    tmp = Path(tempfile.mkdtemp(prefix="pbx-uas-", dir=base))
    log(f"  sipp uac -> PBX -> sipp uas ramp, {seconds:g} s per step")
    procs = OwnProcesses()
    pbx = Pbx(tmp, procs, shm_mb)
    try:
        host, port = static_peer("uas")
        port_taken(host, port)
        procs.spawn(NICE + ["sipp", "-sn", "uas", "-i", host, "-p", str(port), "-nostdin"],
                    tmp / "uas.log", cwd=tmp)
        proctools.wait_until(lambda: udp_bound(host, port), 10, what=f"sipp uas on {host}:{port}")
        pbx.start()
        out = ramp("PBX->uas", rates, seconds, lambda rate, n: caller(tmp, "uas1", rate, n, seconds))
        out["pbx_shm_max_used_mb"] = pbx.shm_max_used_mb()
    finally:
        procs.stop()
    return out


def acd_config(path: Path, n_agents: int) -> Path:
    """bench/acd.py's ACD settings (bench.acd.config: no wrap-up, no auto-pause, agents 1000...)
    with the queue the gateway dials and the ACD's peer at the PBX."""
    config(path, False, n_agents)
    data = yaml.safe_load(path.read_text())
    data["queues"] = [{"name": QUEUE}]
    for agent in data["agents"]:
        agent["memberof"] = [QUEUE]
    peer = dialplan.load(SIP_CONF, EXTENSIONS).peers[ACD_PEER]
    data.update(pbx_user=peer.name, pbx_secret=peer.secret)
    return AcdDaemon.render(path, data)


def rest_json(port: int, path: str) -> dict:
    return json.loads(rest_get(port, path))


def acd_round(base: Path, rates: list[int], seconds: float, shm_mb: int, n_agents: int) -> dict:
    """sipp caller -> PBX -> ACD queue1 -> PBX -> agent phones, with a fresh PBX, ACD and phones."""
    tmp = Path(tempfile.mkdtemp(prefix="pbx-acd-", dir=base))
    log(f"  sipp uac -> PBX -> ACD ramp, {n_agents} agents (sipp UAS behind the PBX), {seconds:g} s per step")
    procs = OwnProcesses()
    pbx = Pbx(tmp, procs, shm_mb)
    out: dict = {"steps": [], "best_rate": 0, "agents": n_agents}
    phones, phones_port = static_peer("agents")
    sip_port, http_port = free_port(socket.SOCK_DGRAM, ACD_IP), free_port(socket.SOCK_STREAM)
    daemon = AcdDaemon(acd_config(tmp / "acd.yaml", n_agents), sip=(ACD_IP, sip_port),
                       http=("127.0.0.1", http_port), media=False, lag_stats=True, pbx=PBX)
    try:
        port_taken(phones, phones_port)
        procs.spawn(NICE + ["sipp", "-sf", str(HERE / "uas_agent.xml"), "-i", phones, "-p", str(phones_port),
                            "-mi", phones, "-d", str(TALK_MS), "-nostdin", "-max_socket", "5000",
                            "-trace_err", "-error_file", str(tmp / "agents-errors.log")],
                    tmp / "agents.log", cwd=tmp)
        pbx.start()
        acd = procs.spawn(daemon.argv(["taskset", "-c", "0"]), tmp / "acd.log", cwd=ROOT)
        daemon.wait_ready(10, alive=lambda: acd.poll() is None)
        proctools.wait_until(lambda: udp_bound(phones, phones_port), 10, what=f"agent phones on {phones}:{phones_port}")

        def registered() -> bool:
            """The AORs the bench dials are registered: the queue and the login (acdlogin)."""
            aors = (rest_json(http_port, "/stats").get("pbx") or {}).get("aors", {})
            return all(aors.get(aor) == "ok" for aor in (QUEUE, LOGIN_AOR))
        t0 = time.monotonic()
        # bounded by REGISTER_WAIT: the ACD backs off 60 s when the PBX refuses its credentials
        proctools.wait_until(registered, REGISTER_WAIT, 0.1, what=f"the ACD's {QUEUE} and {LOGIN_AOR} registered")
        out["register_s"] = round(time.monotonic() - t0, 2)

        # the agents log in through the PBX: sipp at the agents' address dials *44 there
        csv = tmp / "agents.csv"
        csv.write_text("\n".join(["SEQUENTIAL"] + [f"{1000 + i};{';'.join(str(1000 + i))}"
                                                  for i in range(n_agents)]) + "\n")
        out["login"] = sipp_run(["sipp", "-sf", str(HERE / "uac_login.xml"), f"{PBX[0]}:{PBX[1]}",
                                 "-i", phones, "-p", str(free_port(socket.SOCK_DGRAM, phones)), "-mi", phones,
                                 "-inf", str(csv), "-m", str(n_agents), "-r", "100"], tmp, 60)

        def idle() -> int:
            return sum(a["state"] == "idle" for a in rest_json(http_port, "/agents")["agents"])

        def settle() -> None:
            """Until every agent is idle again (the last step's calls ended), at most 10 s."""
            try:
                proctools.wait_until(lambda: idle() == n_agents, 10, 0.1, what="agents idle")
            except proctools.WaitTimeout:
                pass    # the next step shows what it costs; the count is reported
        settle()
        out["agents_idle"] = idle()
        log(f"  {out['agents_idle']}/{n_agents} agents logged in through the PBX and idle "
            f"(login sipp: ok {out['login']['ok']} failed {out['login']['failed']})")
        if out["agents_idle"] == 0:
            out["error"] = "no agent became idle after the logins"
            return out

        def step(rate: int, n: int) -> dict:
            return sipp_run(["sipp", "-sf", str(HERE / "uac_queue.xml"), "-s", QUEUE, f"{PBX[0]}:{PBX[1]}",
                             "-i", CALLER_IP, "-p", str(free_port(socket.SOCK_DGRAM, CALLER_IP)), "-mi", CALLER_IP,
                             "-r", str(rate), "-m", str(n), "-l", "2000", "-max_socket", "5000"],
                            tmp, seconds + 40)
        out.update(ramp("PBX->ACD", rates, seconds, step, settle))
        stats = rest_json(http_port, "/stats")
        out["acd_sip"], out["acd_counters"], out["acd_pbx"] = stats.get("sip"), stats.get("counters"), stats.get("pbx")
        out["pbx_shm_max_used_mb"] = pbx.shm_max_used_mb()
    finally:
        procs.stop()
    m = re.search(r"loop lag ms: .*", (tmp / "acd.log").read_text(errors="replace"))
    out["acd_loop_lag"] = m.group(0) if m else ""
    return out


def guarded(kind: str, run) -> dict:
    """One ramp; an error (Kamailio does not start, a port is taken, ...) becomes the round's
    result, with no rate, so the other rounds and the closing JSON line still come."""
    try:
        return run()
    except Exception as exc:   # noqa: BLE001 - reported, and the benchmark goes on
        log(f"  {kind} ramp failed: {type(exc).__name__}: {exc}")
        return {"best_rate": None, "error": f"{type(exc).__name__}: {exc}"[:500], "steps": []}


def goal(name: str, value: float | None) -> dict:
    """The target entry of `name`; value None (null) when no round measured it."""
    goal_, better = next((g, b) for n, g, b in TARGETS if n == name)
    if value is None:
        return {"value": None, "target": goal_, "better": better}
    return target(value, goal_, better)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="1 round, 2 s steps, rates 100,300,1000,2000")
    ap.add_argument("--rates", default="100,200,300,400,600,800,1000,1500,2000,3000,4000,5000,6000")
    ap.add_argument("--seconds", type=float, default=3.0, help="length of each step of a ramp")
    ap.add_argument("--agents", type=int, default=N_AGENTS)
    ap.add_argument("--shm", type=int, default=SHM_MB,
                    help=f"Kamailio's shared memory in MB (default {SHM_MB}; 0: Kamailio's own 64 MB, "
                         "as the lab's pbx service runs it)")
    args = ap.parse_args()
    if args.quick:
        args.rounds, args.seconds, args.rates = 1, 2.0, "100,300,1000,2000"
    rates = [int(r) for r in args.rates.split(",")]
    missing = [t for t in ("sipp", "kamailio", "kamcmd") if shutil.which(t) is None]
    if missing:
        log(f"not installed: {', '.join(missing)} (scripts/setup.sh installs sip-tester and Kamailio)")
        finish({name: goal(name, None) for name, _, _ in TARGETS}, error=f"{', '.join(missing)} missing")
        return
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="labkit-pbx-bench-") as d:
        d = os.environ.get("PBX_BENCH_KEEP", d)   # keep logs and sipp screens for a post-mortem
        base = Path(d)
        base.mkdir(parents=True, exist_ok=True)
        runs = interleaved(args.rounds, {
            "acd": lambda: guarded("ACD", lambda: acd_round(base, rates, args.seconds, args.shm, args.agents)),
            "uas": lambda: guarded("uas", lambda: uas_round(base, rates, args.seconds, args.shm))})
    elapsed = time.monotonic() - t0
    acd_best = [r["best_rate"] for r in runs["acd"] if r["best_rate"] is not None]
    uas_best = [r["best_rate"] for r in runs["uas"] if r["best_rate"] is not None]
    vs_uas = ratios([r["best_rate"] for r in runs["acd"]], [r["best_rate"] for r in runs["uas"]])
    top = max(rates)
    log(f"{args.rounds} interleaved rounds in {elapsed:.0f} s; rates {args.rates} calls/s, {args.seconds:g} s per "
        f"step; Kamailio shm {args.shm or 64} MB; calls talk {TALK_MS} ms")
    log(f"PBX -> ACD zero-failure rate:   {show(acd_best, '.0f')} calls/s (target >= 300)")
    log(f"PBX -> uas zero-failure rate:   {show(uas_best, '.0f')} calls/s"
        + (f" (the top rate tried, {top}, passed: the uas path's limit is higher)" if top in uas_best else ""))
    log(f"ACD / uas per round:            {show(vs_uas, '.2f')} (target >= 0.7)")
    log(f"agents idle after login, per round: {[r.get('agents_idle') for r in runs['acd']]}/{args.agents}; "
        f"ACD AORs registered after {[r.get('register_s') for r in runs['acd']]} s")
    log(f"Kamailio shm max used, MB: ACD ramps {[r.get('pbx_shm_max_used_mb') for r in runs['acd']]}, "
        f"uas ramps {[r.get('pbx_shm_max_used_mb') for r in runs['uas']]}")
    for i, r in enumerate(runs["acd"]):
        log(f"round {i + 1} ACD {r.get('acd_loop_lag', '')} {r.get('error', '')}".rstrip())
    for i, r in enumerate(runs["uas"]):
        if r.get("error"):
            log(f"round {i + 1} uas {r['error']}")
    log(f"load average (other work on this machine counts): {open('/proc/loadavg').read().split()[:3]}")
    values = {"pbx_calls_per_s_zero_failed": statistics_median(acd_best),
              "pbx_acd_vs_pbx_uas": statistics_median(vs_uas)}
    finish({name: goal(name, values[name]) for name, _, _ in TARGETS},
           spreads={"pbx_calls_per_s_zero_failed": spread(acd_best), "pbx_acd_vs_pbx_uas": spread(vs_uas),
                    "pbx_uas_calls_per_s_zero_failed": spread(uas_best)},
           rounds=args.rounds, seconds=round(elapsed, 1), rates=rates, step_seconds=args.seconds,
           shm_mb=args.shm or 64, acd=runs["acd"], uas=runs["uas"])


def statistics_median(xs: list[float]) -> float | None:
    """The median, None (null in the JSON line) when no round gave a value."""
    return median(xs) if xs else None


if __name__ == "__main__":
    main()
