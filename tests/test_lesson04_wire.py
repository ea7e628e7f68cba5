"""Notebook 04's wire helpers (labkit.lessons.acd): the ladder in time order across dialogs,
order checks, one dialog's identifiers (Via branch, CSeq, tags) and the RFC 4235 states of
NOTIFYs, on hand-made captures (no lab)."""
from __future__ import annotations

from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.utils import wrpcap

from labkit.acd.events import build_dialog_info
from labkit.lessons import acd

PHONE2 = "192.168.2.102:5060"


def _pkt(t: float, src: str, dst: str, first: str, call_id: str, cseq: str, branch: str,
         ftag: str, ttag: str = "", body: bytes = b"", ctype: str = "") -> Ether:
    (sip, sport), (dip, dport) = (e.split(":") for e in (src, dst))
    head = (f"{first}\r\nVia: SIP/2.0/UDP {src};branch={branch}\r\n"
            f"From: <sip:gateway@192.168.2.2>;tag={ftag}\r\n"
            f"To: <sip:phone2@192.168.2.102>{';tag=' + ttag if ttag else ''}\r\n"
            f"Call-ID: {call_id}\r\nCSeq: {cseq}\r\n"
            + (f"Content-Type: {ctype}\r\n" if ctype else "")
            + f"Content-Length: {len(body)}\r\n\r\n")
    p = Ether() / IP(src=sip, dst=dip) / UDP(sport=int(sport), dport=int(dport)) / (head.encode() + body)
    p.time = t
    return p


def _capture(tmp_path, ack_branch: str = "z9hG4bKack") -> str:
    busy = build_dialog_info("sip:phone2@x", 1, [("d1", "o1", "recipient", "confirmed")])
    idle = build_dialog_info("sip:phone2@x", 2, [])
    inv = dict(call_id="o1", branch="z9hG4bKinv", ftag="acd1")
    pkts = [
        _pkt(0.0, acd.SIP, PHONE2, "INVITE sip:phone2@x SIP/2.0", cseq="7 INVITE", **inv),
        _pkt(0.1, PHONE2, acd.SIP, "SIP/2.0 180 Ringing", cseq="7 INVITE", ttag="ph2", **inv),
        _pkt(0.2, PHONE2, acd.SIP, "NOTIFY sip:acd@x SIP/2.0", "sub", "1 NOTIFY", "z9hG4bKn1", "ph2s",
             body=busy, ctype="application/dialog-info+xml"),
        _pkt(0.3, PHONE2, acd.SIP, "SIP/2.0 200 OK", cseq="7 INVITE", ttag="ph2", **inv),
        _pkt(0.4, acd.SIP, PHONE2, "ACK sip:phone2@x SIP/2.0", "o1", "7 ACK", ack_branch, "acd1", "ph2"),
        _pkt(0.5, PHONE2, acd.SIP, "NOTIFY sip:acd@x SIP/2.0", "sub", "2 NOTIFY", "z9hG4bKn2", "ph2s",
             body=idle, ctype="application/dialog-info+xml"),
        _pkt(0.55, PHONE2, acd.SIP, "NOTIFY sip:acd@x SIP/2.0", "sub", "2 NOTIFY", "z9hG4bKn2", "ph2s",
             body=idle, ctype="application/dialog-info+xml"),                         # retransmission
        _pkt(0.6, acd.SIP, PHONE2, "BYE sip:phone2@x SIP/2.0", "o1", "8 BYE", "z9hG4bKbye", "acd1", "ph2"),
    ]
    path = tmp_path / "wire.pcap"
    wrpcap(str(path), pkts)
    return str(path)


def test_wire_order_is_time_order_across_dialogs_without_retransmissions(tmp_path):
    msgs = acd.sip_messages(_capture(tmp_path))
    order = acd.wire_order(msgs)
    assert order == ["acd -> phone2  INVITE", "phone2 -> acd  180 Ringing (INVITE)",
                     "phone2 -> acd  NOTIFY [dialog-info+xml]", "phone2 -> acd  200 OK (INVITE)",
                     "acd -> phone2  ACK", "phone2 -> acd  NOTIFY [dialog-info+xml]", "acd -> phone2  BYE"]
    assert acd.sent_before(order, "phone2 -> acd  180 Ringing (INVITE)", "phone2 -> acd  NOTIFY [dialog-info+xml]")
    assert not acd.sent_before(order, "acd -> phone2  BYE", "acd -> phone2  ACK")
    assert not acd.sent_before(order, "acd -> phone2  ACK", "acd -> phone2  CANCEL")     # missing: False
    lines = acd.timeline(msgs).splitlines()
    assert lines[:2] == ["A: acd <-> phone2, INVITE dialog", "B: acd <-> phone2, NOTIFY dialog"]
    assert [line.split()[2] for line in lines[2:]] == ["A", "A", "B", "A", "A", "B", "A"]
    assert lines[4].startswith("    200.0 ms  B  phone2 -> acd  NOTIFY")


def test_anatomy_reads_branch_cseq_and_tags_and_notices_a_reused_branch(tmp_path):
    good = acd.anatomy(acd.invite_dialog(_capture(tmp_path), "phone2"))
    assert good == [
        "INVITE: Via branch starts with the magic cookie z9hG4bK: True",
        "INVITE: CSeq method INVITE; From has a tag: True; To has a tag: False",
        "200 OK: same branch, same CSeq: True; To now has a tag: True",
        "ACK: same CSeq number, method ACK: True; new branch: True; both tags as in the 200 OK: True",
        "BYE from the ACD: same Call-ID and tag pair: True; CSeq above the INVITE's: True"]
    bad = acd.anatomy(acd.invite_dialog(_capture(tmp_path, ack_branch="z9hG4bKinv"), "phone2"))
    assert "new branch: False" in bad[3]


def test_notify_states_lists_rfc4235_states_per_notify(tmp_path):
    assert acd.notify_states(_capture(tmp_path), PHONE2) == [["confirmed"], []]
