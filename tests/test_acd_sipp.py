"""sipp as an independent SIP peer against the real ACD daemon (python -m labkit.acd.serve).

sipp plays the gateway (UAC with PCMU RTP from a pcap), the agents' phones (UAS answering the
ACD's SUBSCRIBE with a dialog-info NOTIFY and answering its INVITEs), and the agent keying its
ID as SIP INFO (dtmf-relay and application/dtmf).  Everything is on 127.0.0.x.
"""
from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import urllib.request
from pathlib import Path

import pytest

from labkit import paths, procs
from labkit.acd.daemon import AcdDaemon, udp_bound
from labkit.procs import OwnProcesses, free_port

ROOT = Path(__file__).resolve().parents[1]
SIPP_DIR = paths.data("sipp")
pytestmark = pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp (sip-tester) not installed")


class Rig:
    """The ACD daemon plus sipp processes; every PID started here is killed here."""

    def __init__(self, tmp: Path, config: str, timer_scale: float = 1.0) -> None:
        self.tmp = tmp
        self.own = OwnProcesses()
        cfg = tmp / "acd.yaml"
        cfg.write_text(config)
        self.sip_port = free_port(socket.SOCK_DGRAM)
        self.http_port = free_port(socket.SOCK_STREAM)
        self.qlog = tmp / "queue_log"
        daemon = AcdDaemon(cfg, sip=("127.0.0.1", self.sip_port), http=("127.0.0.1", self.http_port),
                           queue_log=self.qlog, timer_scale=timer_scale)
        self.acd = self.spawn(daemon.argv(), tmp / "acd.log")
        try:
            daemon.wait_ready(10, alive=lambda: self.acd.poll() is None)
        except (procs.WaitTimeout, RuntimeError):
            self.close()
            raise RuntimeError((tmp / "acd.log").read_text()) from None

    def spawn(self, argv, log: Path) -> subprocess.Popen:
        return self.own.spawn(argv, log, cwd=ROOT)

    def get(self, path: str) -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}{path}", timeout=5) as r:
            return json.load(r)

    def sipp(self, scenario: str, *args: str, ip: str = "127.0.0.2", calls: int = 1,
             timeout: float = 60, name: str = "") -> subprocess.CompletedProcess:
        """Run a scenario: ``NAME.xml`` from data/sipp, or ``-sn NAME`` for sipp's own."""
        port = free_port(socket.SOCK_DGRAM, ip)
        name = name or scenario
        source = ["-sn", scenario] if not scenario.endswith(".xml") else ["-sf", str(SIPP_DIR / scenario)]
        argv = ["sipp", *source, f"127.0.0.1:{self.sip_port}",
                "-i", ip, "-p", str(port), "-mi", ip, "-m", str(calls), "-nostdin",
                "-trace_err", "-error_file", str(self.tmp / f"{name}.err"), *args]
        return subprocess.run(argv, cwd=self.tmp, capture_output=True, text=True, timeout=timeout)

    def agent_phones(self, ip: str = "127.0.0.3", talk_ms: int = 300,
                     scenario: str = "uas_agent.xml") -> int:
        port = free_port(socket.SOCK_DGRAM, ip)
        self.spawn(["sipp", "-sf", str(SIPP_DIR / scenario), "-i", ip, "-p", str(port),
                    "-mi", ip, "-d", str(talk_ms), "-nostdin", "-trace_err", "-error_file",
                    str(self.tmp / "uas.err")], self.tmp / "uas.log")
        procs.wait_until(lambda: udp_bound(ip, port), 5.0, what=f"sipp UAS on {ip}:{port}")
        return port

    def login(self, agents: list[str], device: str, name: str = "login") -> None:
        """Key each agent id in over INFO from ``device`` (HOST:PORT of its phone)."""
        csv = self.tmp / f"{name}.csv"
        csv.write_text("SEQUENTIAL\n" + "".join(f"{a};{';'.join(a[:4])};{device}\n" for a in agents))
        r = self.sipp("uac_login.xml", "-inf", str(csv), "-r", "50", calls=len(agents), name=name)
        assert r.returncode == 0, r.stdout[-2000:]

    def nothing_stuck(self, agents: set[str], timeout: float = 40) -> None:
        """GET /queues empty and every one of ``agents`` idle, within ``timeout`` seconds."""
        def settled():
            queued = sum(len(q["calls"]) for q in self.get("/queues")["queues"])
            states = {a["id"]: a["state"] for a in self.get("/agents")["agents"] if a["id"] in agents}
            return queued == 0 and set(states.values()) == {"idle"} and len(states) == len(agents)
        wait(settled, timeout)

    def close(self) -> None:
        self.own.stop()


CONFIG = """
ring_timeout: 5
wrapup: 0
login_hangup_delay: 5
media: true
queues:
  - name: queue1
  - name: queue2
agents:
  - id: "2771"
    memberof: [queue1, queue2]
  - id: "2772"
    memberof: [queue2]
"""


@pytest.fixture
def rig(tmp_path):
    r = Rig(tmp_path, CONFIG)
    yield r
    r.close()


def agents(rig) -> dict:
    return {a["id"]: a for a in rig.get("/agents")["agents"]}


def wait(pred, timeout=5.0):
    return procs.wait_until(pred, timeout, 0.05, what="sipp rig condition")


def test_sipp_agents_login_take_calls_and_logout(rig, tmp_path):
    uas_port = rig.agent_phones()
    csv = tmp_path / "agents.csv"
    csv.write_text(f"SEQUENTIAL\n2771;2;7;7;1;127.0.0.3:{uas_port}\n2772;2;7;7;2;127.0.0.3:{uas_port}\n")
    r = rig.sipp("uac_login.xml", "-inf", str(csv), calls=2, name="login")
    assert r.returncode == 0, r.stdout[-2000:] + (tmp_path / "login.err").read_text()
    assert wait(lambda: all(a["state"] == "idle" for a in agents(rig).values()))
    a = agents(rig)
    assert a["2771"]["device"] == f"sip:2771@127.0.0.3:{uas_port}"
    assert a["2772"]["device"] == f"sip:2772@127.0.0.3:{uas_port}"
    # 6 gateway calls with PCMU RTP; the sipp phones answer, talk 300 ms and hang up
    r = rig.sipp("uac_queue.xml", "-s", "queue2", "-r", "5", calls=6, name="queue")
    assert r.returncode == 0, r.stdout[-2000:]
    assert wait(lambda: all(q["calls"] == [] for q in rig.get("/queues")["queues"]))
    q2 = rig.get("/queues/queue2")["stats"]
    assert q2["answered"] == 6 and q2["abandoned"] == 0
    log = rig.qlog.read_text()
    assert log.count("|CONNECT|") == 6 and log.count("|COMPLETEAGENT|") == 6
    assert log.count("|AGENTLOGIN|") == 2
    # logout of 2772 from its device: unsubscribed and logged out
    r = rig.sipp("uac_logout.xml", "-inf", str(csv), calls=1, name="logout")
    assert r.returncode == 0, r.stdout[-2000:]
    assert wait(lambda: agents(rig)["2771"]["state"] == "loggedout")
    assert agents(rig)["2772"]["state"] == "idle"
    assert rig.get("/stats")["leaks"]["calls"] == 0


def test_sipp_caller_abandons_while_queued_with_rtp(rig):
    r = rig.sipp("uac_abandon.xml", "-s", "queue1", "-d", "1500", "-r", "10", calls=3, name="abandon")
    assert r.returncode == 0, r.stdout[-2000:]
    assert wait(lambda: rig.get("/stats")["leaks"]["calls"] == 0)
    st = rig.get("/queues/queue1")["stats"]
    assert st["abandoned"] == 3 and st["answered"] == 0 and st["entered"] == 3
    assert rig.qlog.read_text().count("|ABANDON|") == 3
    assert rig.get("/stats")["leaks"]["media"] == 0


def test_sipp_pcma_only_offer_gets_488(rig):
    r = rig.sipp("uac_refused.xml", "-s", "queue1", calls=2, name="refused")
    assert r.returncode == 0, r.stdout[-2000:]
    assert rig.get("/stats")["counters"]["rejected_488"] == 2


def sipp_counts(r: subprocess.CompletedProcess) -> tuple[int, int]:
    """(successful, failed) calls from sipp's final screen."""
    ok = re.findall(r"Successful call\s*\|\s*\d+\s*\|\s*(\d+)", r.stdout)
    bad = re.findall(r"Failed call\s*\|\s*\d+\s*\|\s*(\d+)", r.stdout)
    return int(ok[-1]), int(bad[-1])


STOCK = "ring_timeout: 5\nwrapup: 1\nlogin_hangup_delay: 5\nqueues:\n  - name: queue1\nagents:\n" + \
    "".join(f'  - {{id: "{3000 + i}", memberof: [queue1]}}\n' for i in range(50))


def test_stock_sipp_uac_500_calls_at_50_per_s_with_50_agents_nothing_stuck(tmp_path):
    """sipp's built-in uac, the most common SIP load generator, in its stock mode (PCMU offer,
    no Allow header, aborts a call that receives an unexpected re-INVITE), into queue1 of the
    ACD with its defaults (``bridge: auto``, media on).  It used to fail 50 of 500 calls and
    leave those calls and their agents stuck; now such callers' media is relayed, never
    re-INVITEd.  Within 40 s of the last call GET /queues is empty and every agent idle, and
    then the idle ACD uses under 5% of a CPU (the RTP pacer used to spin at 100%)."""
    rig = Rig(tmp_path, STOCK)
    try:
        agents = {str(3000 + i) for i in range(50)}
        uas = rig.agent_phones(scenario="uas_agent_hold.xml")     # the callers hang up first
        rig.login(sorted(agents), f"127.0.0.3:{uas}")
        wait(lambda: all(a["state"] == "idle" for a in rig.get("/agents")["agents"]), 10)
        r = rig.sipp("uac", "-s", "queue1", "-r", "50", "-d", "1000", calls=500, timeout=120, name="uac")
        assert sipp_counts(r) == (500, 0), r.stdout[-2500:]
        rig.nothing_stuck(agents, timeout=40)
        stats = rig.get("/stats")
        assert stats["counters"]["calls"] == 500 and stats["counters"]["relayed_calls"] >= 450
        assert stats["leaks"]["calls"] == 0 and stats["leaks"]["overdue_txns"] == 0
        assert stats["queue_log_events"]["CONNECT"] + stats["queue_log_events"].get("ABANDON", 0) == 500
        # idle: under 5% of one CPU over 10 s
        busy = procs.idle_cpu(rig.acd.pid, 10.0)
        assert busy < 0.05, f"the idle ACD used {busy:.1%} of a CPU"
    finally:
        rig.close()


UNCOOPERATIVE = "ring_timeout: 5\nwrapup: 0\nlogin_hangup_delay: 5\nqueues:\n  - name: queue1\nagents:\n" + \
    "".join(f'  - {{id: "{4000 + i}", memberof: [queue1]}}\n' for i in range(10))


def test_sipp_callers_that_refuse_or_ignore_the_reinvite_or_swap_bye_tags(tmp_path):
    """Independent sipp callers that do not play along: one that lists INVITE in Allow and
    answers the re-INVITE 488, one that never answers it (the ACD's timers run 10x faster here,
    so Timer B is 3.2 s), one whose BYE has its tags swapped.  Every call succeeds for sipp, the
    ACD counts and logs each fallback, and nothing is stuck."""
    rig = Rig(tmp_path, UNCOOPERATIVE, timer_scale=0.1)
    try:
        agents = {str(4000 + i) for i in range(10)}
        uas = rig.agent_phones(scenario="uas_agent_hold.xml")
        rig.login(sorted(agents), f"127.0.0.3:{uas}")
        wait(lambda: all(a["state"] == "idle" for a in rig.get("/agents")["agents"]), 10)
        r = rig.sipp("uac_reinvite_refused.xml", "-s", "queue1", "-r", "10", "-d", "500", calls=10, name="refused")
        assert sipp_counts(r) == (10, 0), r.stdout[-2500:]
        r = rig.sipp("uac_reinvite_ignored.xml", "-s", "queue1", "-r", "10", "-d", "4500", calls=5, name="ignored")
        assert sipp_counts(r) == (5, 0), r.stdout[-2500:]
        r = rig.sipp("uac_bye_swapped.xml", "-s", "queue1", "-r", "10", "-d", "300", calls=5, name="swapped")
        assert sipp_counts(r) == (5, 0), r.stdout[-2500:]
        rig.nothing_stuck(agents)
        stats = rig.get("/stats")
        c = stats["counters"]
        assert c["reinvite_failed"] == 15 and c["relayed_calls"] == 20 and c["bye_tags_swapped"] == 5
        assert stats["queue_log_events"]["RELAYFALLBACK"] == 15 and stats["sip"]["txn_timeouts"] >= 5
        log = rig.qlog.read_text()
        assert log.count("|RELAYFALLBACK|488|") == 10 and log.count("|RELAYFALLBACK|408|") == 5
    finally:
        rig.close()


def test_sipp_phones_that_never_notify_or_vanish_are_logged_out(tmp_path):
    """An agent whose phone (sipp) answers the ACD's SUBSCRIBE and never NOTIFYs, and one who
    keys in from a device nobody answers on: neither sits 'pending' for good (Timer N and
    Timer F, 3.2 s here), and the ACD says why."""
    rig = Rig(tmp_path, UNCOOPERATIVE, timer_scale=0.1)
    try:
        silent = rig.agent_phones(ip="127.0.0.4", scenario="uas_agent_silent.xml")
        rig.login(["4000"], f"127.0.0.4:{silent}", name="silent")
        rig.login(["4001"], f"127.0.0.5:{free_port(socket.SOCK_DGRAM, '127.0.0.5')}", name="vanished")
        wait(lambda: {a["id"]: a["state"] for a in rig.get("/agents")["agents"]}["4000"] == "pending", 5)
        wait(lambda: all(a["state"] == "loggedout" for a in rig.get("/agents")["agents"]), 15)
        stats = rig.get("/stats")
        assert stats["logouts"] == {"subscription-failed": 2} and stats["leaks"]["calls"] == 0
    finally:
        rig.close()
