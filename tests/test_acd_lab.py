"""The ACD lab in network namespaces: labkit phones log in, sipp on the gateway node calls a
queue, the phones answer; the REST API on the seed's port 242 shows it.  Needs root."""
from __future__ import annotations

import json
import shutil

import pytest

from labkit import Lab, paths, procs

pytestmark = [pytest.mark.lab,
              pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp not installed")]


def rest(lab, path: str) -> dict:
    out = lab.node("gateway").run(["curl", "-s", f"http://192.168.2.10:242{path}"]).stdout
    return json.loads(out)


def test_acd_lab_phones_log_in_and_take_sipp_calls():
    with Lab.up(str(paths.topology("acd", "lab.yaml")), name="acdtest") as lab:
        def both_idle():
            agents = {a["id"]: a for a in rest(lab, "/agents")["agents"]}
            return agents if agents["2771"]["state"] == agents["2772"]["state"] == "idle" else None
        agents = procs.wait_until(both_idle, 15, 0.3, what="phones 2771 and 2772 idle")
        assert agents["2771"]["device"] == "sip:phone1@192.168.2.101:5060"
        assert agents["2772"]["state"] == "idle"
        r = lab.node("gateway").run(
            ["sipp", "-sf", str(paths.data("sipp", "uac_queue.xml")), "-s", "queue2",
             "192.168.2.10:5060", "-i", "192.168.2.2", "-m", "2", "-r", "5", "-nostdin",
             "-timeout", "40s"], timeout=60)
        assert r.returncode == 0, r.stdout[-1500:]
        q = rest(lab, "/queues/queue2")
        assert q["stats"]["answered"] == 2 and q["calls"] == []
