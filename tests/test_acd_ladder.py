"""Ladder from a capture and the RTP check (the pieces notebook 04 uses)."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from labkit import paths  # noqa: E402
from labkit.acd.ladder import ladder_table, plot_ladder, rtp_check_pcap, sip_rows  # noqa: E402
from labkit.acd.sip import sdp  # noqa: E402
from labkit.acd.sip.message import make_response  # noqa: E402
from labkit.acd.sip.endpoint import SipEndpoint  # noqa: E402


def _capture(tmp_path: Path) -> Path:
    """A pcap of one call written with scapy from messages our stack builds (nothing is sent)."""
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether
    from scapy.utils import wrpcap

    ep = SipEndpoint(handler=None)
    ep.host, ep.port = "192.168.2.2", 5060
    inv = ep.new_request("INVITE", "sip:queue1@192.168.2.10", "<sip:gw@192.168.2.2>",
                         "<sip:queue1@192.168.2.10>", body=sdp.build("192.168.2.2", 4000),
                         content_type="application/sdp")
    inv.set("Via", "SIP/2.0/UDP 192.168.2.2:5060;branch=z9hG4bKabc")
    msgs = [("192.168.2.2", "192.168.2.10", inv),
            ("192.168.2.10", "192.168.2.2", make_response(inv, 100)),
            ("192.168.2.10", "192.168.2.2", make_response(inv, 200, to_tag="t1",
                                                           body=sdp.build("192.168.2.10", 6000)))]
    pkts = []
    for i, (s, d, m) in enumerate(msgs):
        p = Ether() / IP(src=s, dst=d) / UDP(sport=5060, dport=5060) / m.encode()
        p.time = 1000 + i * 0.01
        pkts.append(p)
    out = tmp_path / "call.pcap"
    wrpcap(str(out), pkts)
    return out


def test_ladder_rows_table_and_plot(tmp_path):
    rows = sip_rows(_capture(tmp_path))
    assert [r.label for r in rows] == ["INVITE [sdp]", "100 Trying (INVITE)", "200 OK (INVITE) [sdp]"]
    table = ladder_table(rows, names={"192.168.2.2": "gateway", "192.168.2.10": "acd"})
    assert table.splitlines()[0].split() == ["gateway", "->", "acd", "INVITE", "[sdp]"]
    ax = plot_ladder(rows, names={"192.168.2.2": "gateway", "192.168.2.10": "acd"})
    ax.figure.savefig(tmp_path / "ladder.png")
    assert (tmp_path / "ladder.png").stat().st_size > 1000


def test_rtp_check_on_the_sipp_pcmu_capture():
    report = rtp_check_pcap(paths.data("sipp", "pcmu.pcap"))
    assert report.ok, str(report)
    s = report.streams[0]
    assert s.payload_types == [0] and s.seq_gaps == 0 and s.packets == 100
    assert abs(s.mean_spacing_ms - 20.0) < 0.5


def test_login_and_call_flow_as_ladder_rows(tmp_path):
    from labkit.acd.flows import login_and_call
    rows = login_and_call()
    seq = [(r.src, r.dst, r.label) for r in rows]
    want = [("phone1", "acd", "INVITE [sdp]"), ("phone1", "acd", "INFO [dtmf-relay]"),
            ("acd", "phone1", "SUBSCRIBE"), ("phone1", "acd", "NOTIFY [dialog-info+xml]"),
            ("gateway", "acd", "INVITE [sdp]"), ("acd", "phone1", "INVITE [sdp]"),
            ("phone1", "acd", "200 OK (INVITE) [sdp]"), ("acd", "gateway", "INVITE [sdp]"),
            ("phone1", "acd", "BYE"), ("acd", "gateway", "BYE")]
    pos = 0
    for step in want:                       # in this order (other messages may sit between)
        pos = seq.index(step, pos) + 1
    assert sum(1 for s in seq if s[2] == "INFO [dtmf-relay]") == 4
    ax = plot_ladder(rows)
    ax.figure.savefig(tmp_path / "flow.png")


def test_a_sip_message_larger_than_the_mtu_is_read_whole_from_its_ip_fragments(tmp_path):
    """Kamailio's dialog-info NOTIFYs exceed 1500 bytes on the lab's links: the capture holds
    IP fragments, and the ladder must read the reassembled message, not drop it."""
    from scapy.layers.inet import IP, UDP, fragment
    from scapy.utils import wrpcap

    from labkit.acd.ladder import sip_packets

    body = b"<dialog-info>" + b"x" * 1800 + b"</dialog-info>"
    notify = (b"NOTIFY sip:acd@192.168.2.10:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 192.168.2.5;branch=z9hG4bK1\r\n"
              b"From: <sip:phone1@192.168.2.5>;tag=a\r\nTo: <sip:acdserver@192.168.2.5>;tag=b\r\n"
              b"Call-ID: c1\r\nCSeq: 4 NOTIFY\r\nEvent: dialog\r\nContent-Type: application/dialog-info+xml\r\n"
              b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    pkt = IP(src="192.168.2.5", dst="192.168.2.10", id=7) / UDP(sport=5060, dport=5060) / notify
    pieces = fragment(pkt, fragsize=1480)
    assert len(pieces) == 2
    wrpcap(str(tmp_path / "frag.pcap"), pieces)
    [(_, src, dst, msg)] = list(sip_packets(tmp_path / "frag.pcap"))
    assert (src, dst, msg.method, msg.body) == ("192.168.2.5:5060", "192.168.2.10:5060", "NOTIFY", body)
