"""Malformed SIP and HTTP at the ACD.

1. labkit.acd.fuzz against the real daemon: 10 rounds of 1,000 generated SIP datagrams and
   100 HTTP requests, each malformed (or misused) in a known way, so every answerable SIP
   request must get a 4xx (482 for merged and forked INVITEs, 481 outside a dialog, ...) and
   every HTTP request a JSON error; no ghost call in GET /queues after a round; resident
   memory flat after the first round.
2. 1,000 random byte-level mutations of real messages at an in-process ACD: it keeps
   serving, with no handler crash and no leak.
"""
from __future__ import annotations

import asyncio
import random

from labkit.acd.harness import AcdLab
from labkit.acd.sip import sdp
from labkit.acd.sip.transaction import Timers

T = Timers.scaled(0.02)


def templates(port: int, acd: tuple[str, int]) -> list[bytes]:
    body = sdp.build("127.0.0.1", 4000).decode()
    via = f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK{{n}}"
    common = (f"From: <sip:fz@127.0.0.1>;tag=f{{n}}\r\nTo: <sip:queue1@{acd[0]}>\r\n"
              f"Call-ID: fz{{n}}\r\nMax-Forwards: 70\r\nContact: <sip:fz@127.0.0.1:{port}>\r\n")
    return [
        (f"INVITE sip:queue1@{acd[0]}:{acd[1]} SIP/2.0\r\n{via}\r\n{common}CSeq: 1 INVITE\r\n"
         f"Content-Type: application/sdp\r\nContent-Length: {len(body)}\r\n\r\n{body}").encode(),
        (f"INFO sip:acd@{acd[0]}:{acd[1]} SIP/2.0\r\n{via}\r\n{common.replace('To: <sip:queue1@', 'To: <sip:x@')}"
         f"CSeq: 2 INFO\r\nContent-Type: application/dtmf-relay\r\nContent-Length: 10\r\n\r\nSignal=5\r\n").encode(),
        (f"NOTIFY sip:acd@{acd[0]}:{acd[1]} SIP/2.0\r\n{via}\r\n{common}CSeq: 3 NOTIFY\r\nEvent: dialog\r\n"
         f"Subscription-State: active\r\nContent-Type: application/dialog-info+xml\r\nContent-Length: 20\r\n\r\n"
         f"<dialog-info></dial>").encode(),
        (f"SIP/2.0 200 OK\r\n{via}\r\n{common}CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n").encode(),
        (f"BYE sip:acd@{acd[0]} SIP/2.0\r\n{via}\r\n{common}CSeq: 9 BYE\r\nContent-Length: 0\r\n\r\n").encode(),
    ]


def mutate(rng: random.Random, msg: bytes, n: int) -> bytes:
    msg = msg.replace(b"{n}", str(n).encode())
    kind = rng.randrange(12)
    b = bytearray(msg)
    if kind == 0:                                   # random byte flips
        for _ in range(rng.randint(1, 20)):
            b[rng.randrange(len(b))] = rng.randrange(256)
    elif kind == 1:                                 # truncation
        b = b[:rng.randrange(len(b))]
    elif kind == 2:                                 # drop a header line
        lines = bytes(b).split(b"\r\n")
        del lines[rng.randrange(1, max(2, len(lines) - 3))]
        b = bytearray(b"\r\n".join(lines))
    elif kind == 3:                                 # pure garbage
        b = bytearray(rng.randbytes(rng.randint(1, 1400)))
    elif kind == 4:                                 # Content-Length lies
        b = bytearray(bytes(b).replace(b"Content-Length: ", b"Content-Length: 9", 1))
    elif kind == 5:                                 # broken CSeq
        b = bytearray(bytes(b).replace(b"CSeq: ", rng.choice([b"CSeq: -", b"CSeq: 99999999999 ", b"CSeq: x"]), 1))
    elif kind == 6:                                 # broken URIs and tags
        b = bytearray(bytes(b).replace(b"<sip:", rng.choice([b"<sop:", b"<sip:@", b"<", b"sip:[::"]), 1))
    elif kind == 7:                                 # huge header
        b = bytearray(bytes(b).replace(b"\r\n", b"\r\nX-Big: " + b"A" * rng.randint(100, 1300) + b"\r\n", 1))
    elif kind == 8:                                 # bad SDP in an otherwise fine INVITE
        b = bytearray(bytes(b).replace(b"m=audio 4000 RTP/AVP 0", rng.choice([b"m=audio x RTP", b"m=", b"m=audio 4000 RTP/AVP 18"]), 1))
    elif kind == 9:                                 # NUL bytes / invalid UTF-8 in headers
        i = rng.randrange(len(b) // 2 + 1)
        b[i:i] = b"\x00\xff\xfe"
    elif kind == 10:                                # line ends mangled
        b = bytearray(bytes(b).replace(b"\r\n", rng.choice([b"\r", b"\n\n", b"\r\r\n"])))
    else:                                           # Via without branch / broken transport
        b = bytearray(bytes(b).replace(b"SIP/2.0/UDP", rng.choice([b"SIP/2.0", b"SIP/3.0/UDP", b"UDP"]), 1))
    return bytes(b)


def test_fuzzer_10000_datagrams_and_1000_http_requests_all_answered_nothing_left():
    from labkit.acd.fuzz import fuzz, verdict
    out = fuzz(rounds=10, sip_per_round=1000, http_per_round=100, seed=2026)
    assert verdict(out) == [], verdict(out)
    assert out["alive"], out["log_tail"]
    assert out["sip_sent"] >= 10_000 and out["http_sent"] == 1000
    assert out["sip_answerable"] > 8_000
    # every answerable request was answered, and with what it had to get
    assert out["sip_unanswered"] == 0, out["sip_missing_sample"]
    assert out["sip_wrong"] == [], out["sip_wrong"]
    assert out["http_bad"] == [], out["http_bad"]
    for r in out["rounds"]:
        assert r["quiet"] and r["stats_ok"] and r["ghosts"] == 0 and r["handler_errors"] == 0, r
    assert out["rss_growth_after_first"] < 0.10, [r["rss_kb"] for r in out["rounds"]]
    assert out["idle_cpu"] < 0.05, f"the idle ACD used {out['idle_cpu']:.1%} of a CPU after the fuzzing"
    assert "Traceback" not in out["log_tail"], out["log_tail"]


def test_acd_survives_1000_malformed_datagrams():
    async def go():
        cfg = {"queues": [{"name": "queue1"}], "agents": [{"id": "2771", "memberof": ["queue1"]}],
               "media": False, "login_hangup_delay": 0.02, "ring_timeout": 0.5, "wrapup": 0}
        async with AcdLab(cfg, timers=T) as lab:
            loop = asyncio.get_running_loop()
            replies = []

            class Sink(asyncio.DatagramProtocol):
                def datagram_received(self, data, addr):
                    replies.append(data)
            tr, _ = await loop.create_datagram_endpoint(Sink, local_addr=("127.0.0.1", 0))
            port = tr.get_extra_info("sockname")[1]
            rng = random.Random(4242)
            tmpl = templates(port, lab.sip)
            for n in range(1000):
                tr.sendto(mutate(rng, rng.choice(tmpl), n), lab.sip)
                if n % 50 == 0:
                    await asyncio.sleep(0.005)
            await asyncio.sleep(0.3)
            stats = lab.acd.ep.stats
            assert stats["rx"] >= 990                       # loopback may drop a few, not many
            assert stats["malformed"] > 300                 # most were rejected by the parser
            assert stats["handler_errors"] == 0             # and nothing crashed behind it
            assert any(r.startswith(b"SIP/2.0 400 ") for r in replies)
            # fuzz INVITEs that still parsed were answered; their ACK never comes, so the ACD
            # ends them after 64*T1 (RFC 3261 13.3.1.4) and nothing is left behind
            assert await lab.wait_for(lambda: lab.acd.leaks()["calls"] == 0, timeout=T.timeout * 3)
            # still serving: a real agent logs in and takes a real call
            phone = await lab.phone("p", talk_time=0.05)
            assert await lab.login(phone, "2771") == "idle"
            gw = await lab.gateway()
            r = await gw.call(lab.sip, "queue1", hold=3)
            assert r["connected"] and r["ended_by"] == "acd"
            status, _, doc = await lab.http("GET", "/queues")
            assert status == 200
            assert await lab.wait_for(lambda: lab.acd.leaks()["calls"] == 0)
            assert await lab.wait_for(lambda: lab.acd.ep.idle, timeout=T.timeout * 10)
            tr.close()
    asyncio.run(asyncio.wait_for(go(), 60))
