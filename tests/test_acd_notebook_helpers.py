"""Pure helpers of labkit.lessons.acd (notebook 04): text forms nbval compares, queue-log
parsing, most-idle choice, and the canonical ladder order, on a capture written with scapy."""
from __future__ import annotations

from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.utils import wrpcap

from labkit.lessons import acd as nb

AGENTS = {"agents": [
    {"id": "2772", "state": "idle", "idletime": "3", "device": "", "memberof": ["queue2"]},
    {"id": "2771", "state": "idle", "idletime": "12", "device": "", "memberof": ["queue1", "queue2"]},
    {"id": "2773", "state": "loggedout", "idletime": "99", "device": "", "memberof": ["queue2"]},
]}


def test_agents_lines_sorted_without_idletime():
    lines = nb.agents_lines(AGENTS)
    assert [ln.split()[0] for ln in lines] == ["2771", "2772", "2773"]
    assert lines[0].split() == ["2771", "idle", "queue1,queue2"]
    assert not any("12" in ln.split()[1:2] for ln in lines)


def test_queues_lines_drop_call_ids():
    doc = {"queues": [{"name": "queue2", "calls": [
        {"id": "abc@1.2.3.4", "state": "waiting", "from": "gw@x", "to": "queue2@acd"}]},
        {"name": "queue1", "calls": []}]}
    lines = nb.queues_lines(doc)
    assert lines[0].startswith("queue1") and "-" in lines[0]
    assert "waiting from gw@x" in lines[1] and "abc" not in lines[1]


def test_most_idle_only_available_members_numeric_idletime():
    assert nb.most_idle(AGENTS, "queue2") == "2771"      # "12" > "3" as numbers, 2773 logged out
    assert nb.most_idle(AGENTS, "queue9") is None


def test_most_idle_breaks_a_tie_to_the_lower_id_as_the_acd_does():
    tie = {"agents": [dict(a, idletime="5") for a in AGENTS["agents"]]}
    assert nb.most_idle(tie, "queue2") == "2771" == nb.members(tie, "queue2")[0]["id"]


def test_call_events_answered_by_and_rang():
    lines = ["1|c1|helpdesk|NONE|ENTERQUEUE||gw", "2|c2|queue1|NONE|ENTERQUEUE||x",
             "3|c1|helpdesk|Agent/2773|RINGNOANSWER|2000", "4|c1|helpdesk|Agent/2772|CONNECT|2",
             "9|c1|helpdesk|Agent/2772|COMPLETECALLER|2|5"]
    ev = nb.call_events(lines, "c1")
    assert ev == [("ENTERQUEUE", ""), ("RINGNOANSWER", "2773"), ("CONNECT", "2772"),
                  ("COMPLETECALLER", "2772")]
    assert nb.rang(ev) == ["2773"] and nb.answered_by(ev) == "2772"
    assert nb.answered_by([]) is None


def _sip(src: str, dst: str, first: str, cseq: str, call_id: str = "d1") -> Ether:
    text = (f"{first}\r\nVia: SIP/2.0/UDP {src}:5060;branch=z9hG4bK{cseq.replace(' ', '')}\r\n"
            f"From: <sip:a@{src}>;tag=1\r\nTo: <sip:b@{dst}>;tag=2\r\nCall-ID: {call_id}\r\n"
            f"CSeq: {cseq}\r\nContent-Length: 0\r\n\r\n")
    return Ether() / IP(src=src, dst=dst) / UDP(sport=5060, dport=5060) / text.encode()


def test_canonical_pairs_notify_responses_and_drops_retransmissions(tmp_path):
    phone, acd = "192.168.2.102", "192.168.2.10"
    pkts = [_sip(phone, acd, "NOTIFY sip:acd@x SIP/2.0", "1 NOTIFY"),
            _sip(phone, acd, "NOTIFY sip:acd@x SIP/2.0", "2 NOTIFY"),
            _sip(phone, acd, "NOTIFY sip:acd@x SIP/2.0", "2 NOTIFY"),     # retransmission
            _sip(acd, phone, "SIP/2.0 200 OK", "2 NOTIFY"),
            _sip(acd, phone, "SIP/2.0 200 OK", "1 NOTIFY"),
            _sip(acd, phone, "INVITE sip:p@x SIP/2.0", "5 INVITE", "d2"),
            _sip(phone, acd, "SIP/2.0 100 Trying", "5 INVITE", "d2"),
            _sip(phone, acd, "SIP/2.0 180 Ringing", "5 INVITE", "d2"),
            _sip(acd, phone, "CANCEL sip:p@x SIP/2.0", "5 CANCEL", "d2"),
            _sip(phone, acd, "SIP/2.0 200 OK", "5 CANCEL", "d2"),
            _sip(phone, acd, "SIP/2.0 487 Request Terminated", "5 INVITE", "d2")]
    pcap = tmp_path / "t.pcap"
    wrpcap(str(pcap), pkts)
    msgs = nb.sip_messages(pcap)
    assert len(msgs) == len(pkts)
    text = nb.dialog_text(msgs).splitlines()
    assert text[0] == "-- acd <-> phone2: NOTIFY dialog"
    labels = [ln.split(maxsplit=3)[3] for ln in text if not ln.startswith("--")]
    assert labels == ["NOTIFY", "200 OK (NOTIFY)", "NOTIFY", "200 OK (NOTIFY)",
                      "INVITE", "180 Ringing (INVITE)", "CANCEL", "200 OK (CANCEL)",
                      "487 Request Terminated (INVITE)"]
    assert len(nb.with_endpoint(msgs, f"{phone}:5060")) == len(pkts)


def test_rtp_summary_is_deterministic_text():
    from labkit import rtp
    pkts = [(i * 0.02, rtp.RtpPacket(payload_type=0, sequence=100 + i, timestamp=160 * i, ssrc=7,
                                       payload=b"\xff" * 160).build()) for i in range(50)]
    lines = nb.rtp_summary(rtp.check_rtp(pkts))
    assert lines[0] == "streams: 1"
    assert "payload types [0], 20 ms spacing: True, sequence gaps: 0" in lines[1]
    assert lines[-1] == "all checks pass: True"


def test_sip_call_probe_refuses_the_root_namespace():
    import pytest

    from labkit.lab.errors import SafetyError
    from labkit.probes import sip

    with pytest.raises(SafetyError):
        sip.call("127.0.0.1:5060", "queue1", hold=0.1)


def test_stop_process_ends_exactly_that_pid():
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    assert nb.stop_process(proc) != 0 and proc.poll() is not None
    assert nb.stop_process(proc) == proc.returncode       # already gone: just the exit code
