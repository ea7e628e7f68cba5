"""SIP message parser/serialiser, SDP offer/answer and event bodies (pure logic)."""
from __future__ import annotations

import pytest

from labkit.acd import events
from labkit.acd.sip import sdp
from labkit.acd.sip.message import (NameAddr, SipParseError, SipUri, Via, make_response, parse,
                                    split_list)

SIPP_INVITE = (
    b"INVITE sip:queue1@127.0.0.1:5060 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 127.0.0.2:5061;branch=z9hG4bK-1-1-0\r\n"
    b"From: sipp <sip:sipp@127.0.0.2:5061>;tag=1\r\n"
    b"To: sut <sip:queue1@127.0.0.1:5060>\r\n"
    b"Call-ID: 1-1@127.0.0.2\r\n"
    b"CSeq:   1 INVITE\r\n"
    b"Contact: sip:sipp@127.0.0.2:5061\r\n"
    b"Max-Forwards: 70\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length:   129\r\n\r\n"
    b"v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\n"
    b"t=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")


def test_sipp_padded_headers_parse():
    m = parse(SIPP_INVITE)
    assert m.method == "INVITE" and m.uri == "sip:queue1@127.0.0.1:5060"
    assert m.cseq == (1, "INVITE")
    assert len(m.body) == 129 and m.body.endswith(b"PCMU/8000\r\n")
    assert m.from_.tag == "1" and m.from_.uri.user == "sipp"
    assert m.top_via.branch == "z9hG4bK-1-1-0" and m.top_via.sent_by == "127.0.0.2:5061"
    assert str(m.contact.uri) == "sip:sipp@127.0.0.2:5061"


def test_compact_forms_and_folding_and_bare_lf():
    raw = (b"OPTIONS sip:acd@127.0.0.1 SIP/2.0\n"
           b"v: SIP/2.0/UDP 127.0.0.9:5999;branch=z9hG4bKabc\n"
           b"f: <sip:a@h>;tag=x\nt: <sip:b@h>\ni: cid-1\nCSeq: 7 OPTIONS\n"
           b"m: <sip:a@127.0.0.9:5999>\nk: timer,\n 100rel\no: dialog\nu: dialog, presence\n"
           b"s: hello\n\tworld\ne: gzip\nc: text/plain\nl: 2\n\nhi")
    m = parse(raw)
    assert m.call_id == "cid-1"
    assert m.get("Supported") == "timer, 100rel"
    assert m.get("Subject") == "hello world"
    assert m.get("Event") == "dialog" and m.get("Allow-Events") == "dialog, presence"
    assert m.get("Content-Encoding") == "gzip" and m.content_type == "text/plain"
    assert m.body == b"hi"
    # serialised with long names, and parses back identically
    again = parse(m.encode())
    assert again.headers[:5] == m.headers[:5] and again.body == b"hi"
    assert b"\r\nCall-ID: cid-1\r\n" in m.encode()


def test_multiple_vias_in_one_header_and_quoted_commas():
    raw = (b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a:1;branch=z9hG4bK1, SIP/2.0/UDP b:2;branch=z9hG4bK2\r\n"
           b'From: "Doe, John" <sip:j@h>;tag=1\r\nTo: <sip:x@h>;tag=2\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n'
           b'Contact: "A, B" <sip:a@h:5>, <sip:b@h>\r\nContent-Length: 0\r\n\r\n')
    m = parse(raw)
    assert [v.host for v in m.vias] == ["a", "b"]
    assert m.from_.display == "Doe, John"
    assert len(m.get_all("Contact")) == 2
    assert split_list('"x,y" <sip:a@b;p=1,2>, <sip:c@d>') == ['"x,y" <sip:a@b;p=1,2>', "<sip:c@d>"]


@pytest.mark.parametrize("raw, why", [
    (b"", "empty"),
    (b"\r\n\r\n", "empty"),
    (b"INVITE sip:a@b SIP/2.0\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:b@c>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n\r\n", "Via"),
    (b"INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:b@c>\r\nCall-ID: x\r\nCSeq: one INVITE\r\n\r\n", "CSeq"),
    (b"INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:b@c>\r\nCall-ID: x\r\nCSeq: 1 BYE\r\n\r\n", "differs"),
    (b"INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:b@c>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nContent-Length: 50\r\n\r\nshort", "shorter"),
    (b"INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b\r\nTo: <sip:b@c>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n\r\n", "unclosed"),
    (b"SIP/2.0 99 Odd\r\nVia: SIP/2.0/UDP h\r\n\r\n", "status"),
    (b"invite sip:a@b SIP/2.0\r\n\r\n", "method"),
    (b"INVITE sip:a@b SIP/3.0\r\n\r\n", "request line"),
    (b"\xff\xfe\x00garbage", "UTF-8"),
    (b"INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h:99999;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:b@c>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n\r\n", "port"),
])
def test_malformed_messages_raise_with_reason(raw, why):
    with pytest.raises(SipParseError, match=why):
        parse(raw)


HEAD = ("INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\n"
        "To: <sip:b@c>\r\nCall-ID: x\r\n")


@pytest.mark.parametrize("extra, why", [
    ("CSeq: 1 INVITE\r\nContent-Length: \u00b2\r\n", "Content-Length is not a number of ASCII digits 0-9: '\u00b2'"),
    ("CSeq: 1 INVITE\r\nContent-Length: \u0661\u0662\r\n", "is not a number"),   # Arabic-Indic 12
    ("CSeq: 1 INVITE\r\nContent-Length: " + "9" * 5000 + "\r\n", "is larger than"),
    ("CSeq: 1 INVITE\r\nContent-Length: -1\r\n", "is not a number"),
    ("CSeq: 1 INVITE\r\nContent-Length: 0\r\nContent-Length: 5\r\n", "two different Content-Length"),
    ("CSeq: 1 INVITE\r\nl: 0\r\nContent-Length: 3\r\n", "two different Content-Length"),
    ("CSeq: \u00b3 INVITE\r\n", "CSeq number"),
    ("CSeq: 2147483648 INVITE\r\n", "larger than"),
    ("CSeq: 1 INVITE\r\nCSeq: 2 INVITE\r\n", "two different CSeq"),
    ("CSeq: 1 INVITE\r\nCall-ID: y\r\n", "two different Call-ID"),
    ("CSeq: 1 INVITE\r\nMax-Forwards: 256\r\n", "Max-Forwards"),
    ("CSeq: 1 INVITE\r\nExpires: 1e3\r\n", "Expires"),
    ("CSeq: 1 INVITE\r\nContact: <sip:a@h:\u0665\u0660>\r\n", "port"),
])
def test_numbers_from_the_wire_are_ascii_digits_within_a_bound(extra, why):
    """'²' passes str.isdigit() and fails int(); Arabic-Indic digits pass both; 5,000 digits
    cost a conversion before int() refuses them: each used to crash the parser (no 400)."""
    with pytest.raises(SipParseError, match=why):
        parse((HEAD + extra + "\r\n").encode())


def test_identical_repeated_content_length_is_fine_and_padding_is_kept_lenient():
    m = parse((HEAD + "CSeq:   7   INVITE\r\nContent-Length:   0\r\nl: 0\r\n\r\n").encode())
    assert m.cseq == (7, "INVITE")
    with pytest.raises(SipParseError):
        parse((HEAD + "CSeq: 1 INVITE\r\nContent-Length: 00000000000000000000000000000003\r\n\r\nabc").encode()[:-1])
    assert parse((HEAD + "CSeq: 1 INVITE\r\nContent-Length: 0003\r\n\r\nabc").encode()).body == b"abc"


RESPONSE_HEAD = ("SIP/2.0 {code} Odd\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\n"
                 "To: <sip:b@c>;tag=2\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n")


def test_status_codes_100_to_699_only():
    for code in (100, 699):
        assert parse(RESPONSE_HEAD.format(code=code).encode() + b"\r\n").status == code
    for code in ("099", 700, 999):
        with pytest.raises(SipParseError) as err:
            parse(RESPONSE_HEAD.format(code=code).encode() + b"\r\n")
        assert str(err.value) == f"status code out of range: {int(code)}"


def test_body_must_hold_content_length_bytes():
    invite = (b"INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\n"
              b"To: <sip:b@c>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nContent-Length: 5\r\n\r\n")
    assert parse(invite + b"hello").body == b"hello"
    assert parse(invite + b"hello\r\n").body == b"hello"         # extra bytes are cut off
    with pytest.raises(SipParseError) as err:
        parse(invite + b"hell")                                   # one byte short
    assert str(err.value) == "body shorter (4) than Content-Length 5"


def test_uri_nameaddr_via():
    u = SipUri.parse("sip:queue1@acd.lab:5071;transport=udp")
    assert (u.user, u.host, u.port, u.params) == ("queue1", "acd.lab", 5071, {"transport": "udp"})
    assert u.aor == "queue1@acd.lab"
    assert str(SipUri.parse("sip:[::1]:5060")) == "sip:[::1]:5060"
    na = NameAddr.parse("sip:a@b;tag=xyz")
    assert na.tag == "xyz" and not na.uri.params
    v = Via.parse("SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKx;rport")
    assert v.sent_by == "10.0.0.1:5060" and v.params["rport"] == ""
    with pytest.raises(SipParseError):
        SipUri.parse("http://example.com")


def test_make_response_copies_headers_and_adds_tag():
    req = parse(SIPP_INVITE)
    resp = make_response(req, 180, to_tag="abc")
    assert resp.to.tag == "abc" and resp.get("Via") == req.get("Via") and resp.call_id == req.call_id
    assert parse(resp.encode()).status == 180


def test_sdp_pcmu_only():
    offer = sdp.check_offer(parse(SIPP_INVITE).body)
    assert offer.rtp_addr() == ("127.0.0.2", 6000)
    both = b"v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 4000 RTP/AVP 8 0 101\r\n"
    assert sdp.check_offer(both).rtp_addr() == ("1.2.3.4", 4000)
    for bad in (b"v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 4000 RTP/AVP 8\r\n",
                b"v=0\r\nc=IN IP4 1.2.3.4\r\nm=video 4000 RTP/AVP 0\r\n",
                b"v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 0 RTP/AVP 0\r\n", b""):
        with pytest.raises(sdp.SdpError):
            sdp.check_offer(bad)
    answer = sdp.parse(sdp.build("127.0.0.1", 7000))
    assert answer.audio.formats == ["0"] and answer.rtp_addr() == ("127.0.0.1", 7000)


def test_dtmf_bodies():
    assert events.parse_dtmf(events.CT_DTMF_RELAY, b"Signal=5\r\nDuration=160\r\n") == "5"
    assert events.parse_dtmf(events.CT_DTMF_RELAY, b"Signal= 11\r\n") == "#"
    assert events.parse_dtmf(events.CT_DTMF, b"7\r\n") == "7"
    assert events.parse_dtmf(events.CT_DTMF, b"10") == "*"
    for ct, body in ((events.CT_DTMF_RELAY, b"Duration=1"), (events.CT_DTMF, b"xy"),
                     ("text/plain", b"1"), (events.CT_DTMF_RELAY, b"Signal=Z")):
        with pytest.raises(events.BodyError):
            events.parse_dtmf(ct, body)


def test_dialog_info_and_pidf_states():
    idle = events.build_dialog_info("sip:p@h", 3, [("d1", "c1", "recipient", "terminated")])
    busy = events.build_dialog_info("sip:p@h", 4, [("d2", "c2", "recipient", "confirmed")])
    assert events.parse_dialog_info(idle).idle
    st = events.parse_dialog_info(busy)
    assert not st.idle and st.call_ids == {"c2"}
    assert events.parse_pidf(events.build_pidf("sip:p@h", True)).idle
    assert not events.parse_pidf(events.build_pidf("sip:p@h", True, "on-the-phone")).idle
    assert not events.parse_pidf(events.build_pidf("sip:p@h", False)).idle
    with pytest.raises(events.BodyError):
        events.parse_device_state(events.CT_DIALOG_INFO, b"<nope")
    with pytest.raises(events.BodyError):
        events.parse_device_state("text/plain", b"idle")
