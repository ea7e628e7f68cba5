"""The ACD lab in network namespaces: labkit phones log in, sipp on the gateway node calls a
queue, the phones answer; the REST API on the seed's port 242 shows it.  Needs root."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

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


def test_caller_that_ignores_the_reinvite_gets_relayed_media_after_timer_b():
    """In the lab, on the wire: a caller (gateway node) that never answers the ACD's re-INVITE.
    After Timer B the ACD relays the media, and scapy, reading what tcpdump caught inside the
    caller's and the agent's namespaces, finds the caller's RTP reaching the agent and the
    agent's reaching the caller: payload type 0, consecutive sequence numbers, 20 ms apart."""
    from scapy.all import IP, UDP, rdpcap

    from labkit.acd.phone import Gateway, tone, voice
    from labkit.lessons.acd import Capture
    from labkit.rtp import RtpPacket, check_rtp

    def rtp_from(pcap, src: str) -> list:
        return [(float(p.time), bytes(p[UDP].payload)) for p in rdpcap(str(pcap))
                if UDP in p and p[IP].src == src and p[UDP].sport != 5060
                and bytes(p[UDP].payload)[:1] >= b"\x80"]

    def carrying(packets, pitch: float) -> list:
        frames = tone(pitch)
        starts = {frames[i:i + 160] for i in range(0, len(frames) - 159, 160)}
        return [(t, d) for t, d in packets if RtpPacket.parse(d).payload in starts]

    topo = str(Path(__file__).parent / "topologies" / "acd-relay.yaml")
    with Lab.up(topo, name="acdrelay", replace=True) as lab:
        procs.wait_until(lambda: rest(lab, "/agents")["agents"][0]["state"] == "idle", 15, 0.3,
                         what="agent 2771 idle")
        caller_cap = Capture.start(lab.node("gateway"), "caller", bpf="udp")
        agent_cap = Capture.start(lab.node("phone1"), "agent", bpf="udp")
        r = lab.node("gateway").call("labkit.probes.sip:call", "192.168.2.10:5060", "queue1",
                                     hold=7.0, local="192.168.2.2", reinvite="ignore", media=True,
                                     timeout=60)
        at_caller, at_agent = caller_cap.stop(), agent_cap.stop()
        assert r["status"] == 200 and r["reinvites"] == 1 and r["ended_by"] == "caller"
        stats = rest(lab, "/stats")
        assert stats["counters"]["reinvite_failed"] == 1 and stats["counters"]["relayed_calls"] == 1
        [fallback] = [ln for ln in rest(lab, "/queuelog")["lines"] if "|RELAYFALLBACK|" in ln]
        # no final answer within 64*T1: Timer B (408), or the CANCEL at that limit (487)
        assert ("|408|" in fallback or "|487|" in fallback) and "Timer B" in fallback
        # the caller's tone, relayed by the ACD to the agent
        to_agent = carrying(rtp_from(at_agent, "192.168.2.10"), Gateway.pitch)
        # the agent's tone, relayed by the ACD to the caller (after the fallback re-INVITEd the
        # agent's phone towards the ACD), in the stream the caller's music came in
        to_caller = carrying(rtp_from(at_caller, "192.168.2.10"), voice("phone1"))
        for name, packets in (("caller -> agent", to_agent), ("agent -> caller", to_caller)):
            assert len(packets) >= 50, f"{name}: {len(packets)} relayed packets"
            report = check_rtp(packets, spacing_tolerance_ms=3.0, jitter_tolerance_ms=40.0)
            assert report.ok, f"{name}:\n{report}"
            [stream] = report.streams
            assert stream.payload_types == [0] and stream.seq_gaps == 0
        procs.wait_until(lambda: rest(lab, "/stats")["leaks"]["calls"] == 0, 10, 0.3, what="call gone")
