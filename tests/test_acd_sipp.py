"""sipp as an independent SIP peer against the real ACD daemon (python -m labkit.acd.serve).

sipp plays the gateway (UAC with PCMU RTP from a pcap), the agents' phones (UAS answering the
ACD's SUBSCRIBE with a dialog-info NOTIFY and answering its INVITEs), and the agent keying its
ID as SIP INFO (dtmf-relay and application/dtmf).  Everything is on 127.0.0.x.
"""
from __future__ import annotations

import json
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

    def __init__(self, tmp: Path, config: str) -> None:
        self.tmp = tmp
        self.own = OwnProcesses()
        cfg = tmp / "acd.yaml"
        cfg.write_text(config)
        self.sip_port = free_port(socket.SOCK_DGRAM)
        self.http_port = free_port(socket.SOCK_STREAM)
        self.qlog = tmp / "queue_log"
        daemon = AcdDaemon(cfg, sip=("127.0.0.1", self.sip_port), http=("127.0.0.1", self.http_port),
                           queue_log=self.qlog)
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
        port = free_port(socket.SOCK_DGRAM, ip)
        name = name or scenario
        argv = ["sipp", "-sf", str(SIPP_DIR / scenario), f"127.0.0.1:{self.sip_port}",
                "-i", ip, "-p", str(port), "-mi", ip, "-m", str(calls), "-nostdin",
                "-trace_err", "-error_file", str(self.tmp / f"{name}.err"), *args]
        return subprocess.run(argv, cwd=self.tmp, capture_output=True, text=True, timeout=timeout)

    def agent_phones(self, ip: str = "127.0.0.3", talk_ms: int = 300) -> int:
        port = free_port(socket.SOCK_DGRAM, ip)
        self.spawn(["sipp", "-sf", str(SIPP_DIR / "uas_agent.xml"), "-i", ip, "-p", str(port),
                    "-mi", ip, "-d", str(talk_ms), "-nostdin", "-trace_err", "-error_file",
                    str(self.tmp / "uas.err")], self.tmp / "uas.log")
        procs.wait_until(lambda: udp_bound(ip, port), 5.0, what=f"sipp UAS on {ip}:{port}")
        return port

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
