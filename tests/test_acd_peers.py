"""The ACD against peers that do not cooperate, each the way independent testing met it.

Callers that ignore, refuse or never get offered the re-INVITE (and still hear their agent:
the ACD relays the RTP), INVITEs merged under a new branch, BYEs with swapped tags, agents
whose phones never NOTIFY, never answer, or vanish.  Real UDP on loopback, labkit UAs in one
event loop, SIP timers compressed 50x (Timer B = 0.64 s).  After each: nothing stuck.
"""
from __future__ import annotations

import asyncio
import socket

import pytest

from labkit.acd.harness import AcdLab
from labkit.acd.sip import sdp
from labkit.acd.sip.message import parse
from labkit.acd.sip.transaction import Timers
from labkit.rtp import RtpPacket, check_rtp

T = Timers.scaled(0.02)


def cfg(**kw):
    base = {"queues": [{"name": "sales"}],
            "agents": [{"id": "2771", "memberof": ["sales"]}, {"id": "2772", "memberof": ["sales"]}],
            "ring_timeout": 0.5, "wrapup": 0.05, "login_hangup_delay": 0.05, "media": False,
            "autopause_after": 0}
    base.update(kw)
    return base


def run(coro, timeout=60):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def qlog(lab, event):
    return [ln.split("|") for ln in lab.acd.qlog.lines if ln.split("|")[4] == event]


async def nothing_stuck(lab, agents=("2771",), state="idle"):
    """Every call gone, every agent back to ``state``, every transaction ended."""
    acd = lab.acd
    assert await lab.wait_for(lambda: acd.leaks()["calls"] == 0, timeout=T.timeout * 4)
    assert await lab.wait_for(lambda: all(acd.agents[a].state == state for a in agents), timeout=3)
    _, _, doc = await lab.http("GET", "/queues")
    assert all(q["calls"] == [] for q in doc["queues"])
    assert await lab.wait_for(lambda: acd.ep.idle, timeout=T.lifetime)
    leaks = acd.leaks()
    assert all(v == 0 for v in leaks.values()), leaks


def udp_peer() -> tuple[socket.socket, int]:
    """A raw UDP socket on loopback to hand-craft SIP from, and its port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(2)
    return sock, sock.getsockname()[1]


async def final_response(sock: socket.socket):
    """The next final (>= 200) response on ``sock``, read off the event loop (the ACD runs on it)."""
    def read():
        while True:
            msg = parse(sock.recv(65535))
            if msg.status >= 200:
                return msg
    return await asyncio.get_running_loop().run_in_executor(None, read)


def rtp_of(packets, ssrc=None):
    out = [RtpPacket.parse(d) for _, d in packets]
    return [p for p in out if ssrc is None or p.ssrc == ssrc]


def consecutive(pkts):
    return all((b.sequence - a.sequence) % 65536 == 1 for a, b in zip(pkts, pkts[1:]))


@pytest.mark.parametrize("reinvite", ["ignore", "refuse", 501, 491])
def test_caller_that_will_not_take_the_reinvite_hears_its_agent_through_the_relay(reinvite):
    """The caller ACKs the ACD's 200 and then ignores (or refuses) the re-INVITE that would
    point it at the agent.  It used to leave the call 'connected' and the agent 'incall' for
    good (Timer B never reached the bridge); now the ACD relays the media.  The agent hears
    the caller from the start (renumbered by the ACD, one stream, no gap); once the fallback
    re-INVITEs the agent's phone towards the ACD, the caller hears the agent in the very RTP
    stream its music came in (same SSRC, the sequence numbers carrying on)."""
    async def go():
        async with AcdLab(cfg(media=True), timers=T) as lab:
            phone = await lab.phone("agent", media=True, answer_delay=0.3)   # music first
            await lab.login(phone, "2771")
            gw = await lab.gateway(reinvite=reinvite, media=True)
            r = await gw.call(lab.sip, "sales", hold=T.timeout * 3 + 1.0)
            assert r["status"] == 200 and r["reinvites"] >= 1 and not r["connected"]
            [agent_call] = phone.acd_calls
            acd = lab.acd
            assert acd.counters["reinvite_failed"] == 1 and acd.counters["relayed_calls"] == 1
            [fb] = qlog(lab, "RELAYFALLBACK")
            if reinvite == "ignore":      # CANCELled at 64*T1 (our UA's stack answers 487)
                assert fb[5] in ("408", "487") and "64*T1" in fb[6]
            else:
                assert fb[5] == str(488 if reinvite == "refuse" else reinvite)
            # the caller: one stream of the ACD's carries the music, then the agent's voice
            heard = rtp_of(r["rtp"])
            music_ssrc = heard[0].ssrc
            stream = [p for p in heard if p.ssrc == music_ssrc]
            voice = phone_tone_packets(stream, phone)
            assert len(voice) >= 10 and stream.index(voice[0]) > 5, "no music, then no agent"
            assert consecutive(stream) and {p.payload_type for p in stream} == {0}
            assert voice[0].marker and check_rtp([(0, p.build()) for p in stream],
                                                 spacing_tolerance_ms=1e9,
                                                 jitter_tolerance_ms=1e9).ok
            # the agent: the caller's tone, renumbered by the ACD, one stream, no gap
            from_caller = phone_tone_packets(rtp_of(agent_call.rtp), gw)
            assert len(from_caller) >= 10 and consecutive(from_caller)
            assert len({p.ssrc for p in from_caller}) == 1
            await nothing_stuck(lab)
            assert acd.player.sched.stats().relays == 0
    run(go())


def phone_tone_packets(packets, ua):
    """The packets among ``packets`` that carry ``ua``'s tone (each UA has its own pitch)."""
    from labkit.acd.phone import tone
    frames = tone(ua.pitch)
    starts = {frames[i:i + 160] for i in range(0, len(frames) - 159, 160)}
    return [p for p in packets if p.payload in starts]


def test_caller_without_allow_is_never_reinvited_and_media_is_relayed_both_ways():
    """sipp's built-in uac lists no Allow and aborts a call that gets a re-INVITE: under
    ``bridge: auto`` such a caller gets an agent offered the ACD's own port, and the ACD
    carries the RTP both ways from the first packet."""
    async def go():
        async with AcdLab(cfg(media=True), timers=T) as lab:
            phone = await lab.phone("agent", media=True)
            await lab.login(phone, "2771")
            gw = await lab.gateway(allow=None, media=True)
            r = await gw.call(lab.sip, "sales", hold=1.0)
            assert r["reinvites"] == 0 and r["ended_by"] == "caller"
            [agent_call] = phone.acd_calls
            assert sdp.address(agent_call.remote_sdp)[1] != sdp.address(gw.sdp())[1]
            assert len(phone_tone_packets(rtp_of(r["rtp"]), phone)) >= 10
            assert len(phone_tone_packets(rtp_of(agent_call.rtp), gw)) >= 10
            assert lab.acd.counters["relayed_calls"] == 1 and lab.acd.counters["reinvite_failed"] == 0
            await nothing_stuck(lab)
    run(go())


def test_bridge_reinvite_reinvites_even_callers_without_allow_and_relay_never_does():
    async def go(mode, allow):
        async with AcdLab(cfg(bridge=mode), timers=T) as lab:
            await lab.login(await lab.phone("agent", talk_time=0.3), "2771")
            r = await (await lab.gateway(allow=allow)).call(lab.sip, "sales", hold=3)
            await nothing_stuck(lab)
            return r["reinvites"], lab.acd.counters["relayed_calls"]
    assert run(go("reinvite", None)) == (1, 0)
    assert run(go("relay", "INVITE, ACK, BYE")) == (0, 1)
    assert run(go("auto", "INVITE, ACK, BYE")) == (1, 0)


def test_caller_hangs_up_while_its_reinvite_is_pending():
    async def go():
        async with AcdLab(cfg(), timers=T) as lab:
            await lab.login(await lab.phone("agent"), "2771")
            gw = await lab.gateway(reinvite="ignore")
            r = await gw.call(lab.sip, "sales", hold=3, hangup_on_reinvite=True)
            assert r["reinvites"] == 1 and r["ended_by"] == "caller"
            await nothing_stuck(lab)
            assert len(qlog(lab, "COMPLETECALLER")) == 1
    run(go())


def test_merged_invite_gets_482_and_leaves_no_ghost():
    """The same INVITE (Call-ID, From tag, CSeq) again under a new branch, never ACKed: RFC
    3261 8.2.2.2's merged request.  It used to become a second call under the same Call-ID
    that stayed in GET /queues for good, its music playing."""
    async def go():
        async with AcdLab(cfg(media=True), timers=T) as lab:
            sock, port = udp_peer()
            body = sdp.build("127.0.0.1", 4000)

            def invite(branch, tag="t1", cseq=1):
                return (f"INVITE sip:sales@{lab.sip[0]}:{lab.sip[1]} SIP/2.0\r\n"
                        f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK{branch}\r\n"
                        f"From: <sip:c@127.0.0.1>;tag={tag}\r\nTo: <sip:sales@127.0.0.1>\r\n"
                        f"Call-ID: merged-1\r\nCSeq: {cseq} INVITE\r\nContact: <sip:c@127.0.0.1:{port}>\r\n"
                        f"Content-Type: application/sdp\r\nContent-Length: {len(body)}\r\n\r\n"
                        ).encode() + body

            sock.sendto(invite("a"), lab.sip)
            assert (await final_response(sock)).status == 200
            sock.sendto(invite("b"), lab.sip)                       # merged: same everything
            r = await final_response(sock)
            assert r.status == 482 and "merged" in r.reason
            sock.sendto(invite("c", tag="t2", cseq=7), lab.sip)     # another dialog, same Call-ID
            assert (await final_response(sock)).status == 482
            _, _, doc = await lab.http("GET", "/queues")
            assert [len(q["calls"]) for q in doc["queues"]] == [1]
            # nobody ACKs: after 64*T1 the ACD gives the call up (RFC 3261 13.3.1.4), music too
            await nothing_stuck(lab, state="loggedout")
            assert lab.acd.ep.stats["merged"] == 1 and lab.acd.counters["call_id_in_use"] == 1
            sock.close()
    run(go())


def test_bye_with_swapped_tags_ends_the_call():
    """sipp's abort BYE puts the ACD's tag in From and its own in To."""
    async def go():
        async with AcdLab(cfg(), timers=T) as lab:
            await lab.login(await lab.phone("agent"), "2771")
            gw = await lab.gateway()
            r = await gw.call(lab.sip, "sales", hold=0.5, swap_tags=True)
            assert r["ended_by"] == "caller"
            await nothing_stuck(lab)
            assert lab.acd.counters["bye_tags_swapped"] == 1
            assert len(qlog(lab, "COMPLETECALLER")) == 1
    run(go())


def test_caller_that_never_acks_is_hung_up_after_64_t1():
    async def go():
        async with AcdLab(cfg(), timers=T) as lab:
            await lab.login(await lab.phone("agent"), "2771")
            r = await (await lab.gateway()).call(lab.sip, "sales", ack=False)
            assert r["ended_by"] == "no-ack"
            await nothing_stuck(lab)
    run(go())


@pytest.mark.parametrize("subscribe", ["silent", "ignore"])
def test_phone_that_never_notifies_is_logged_out(subscribe):
    """A phone that answers the ACD's SUBSCRIBE and never NOTIFYs (RFC 6665 Timer N), or
    never answers it at all (Timer F): the agent does not sit 'pending' for good."""
    async def go():
        async with AcdLab(cfg(), timers=T) as lab:
            p = await lab.phone("mute", subscribe=subscribe)
            await p.login(lab.sip, "2771")
            assert await lab.wait_for(lambda: lab.acd.agents["2771"].state == "pending", timeout=2)
            assert await lab.wait_for(lambda: lab.acd.agents["2771"].state == "loggedout",
                                      timeout=T.timeout * 2)
            assert qlog(lab, "AGENTLOGOFF")[0][5] == "subscription-failed"
            await nothing_stuck(lab, state="loggedout")
    run(go())


def test_agent_whose_phone_vanishes_is_logged_out_and_the_call_goes_on():
    async def go():
        async with AcdLab(cfg(ring_timeout=0.3), timers=T) as lab:
            gone = await lab.phone("gone")
            await lab.login(gone, "2771")                 # logged in first: most idle
            await asyncio.sleep(0.05)
            await lab.login(await lab.phone("here", talk_time=0.2), "2772")
            await gone.stop()                             # unplugged, no logout, no BYE
            r = await (await lab.gateway()).call(lab.sip, "sales", hold=T.timeout * 3)
            assert r["connected"] and r["ended_by"] == "acd"
            assert await lab.wait_for(lambda: lab.acd.agents["2771"].state == "loggedout",
                                      timeout=T.timeout * 2)
            assert [e[5] for e in qlog(lab, "AGENTLOGOFF")] == ["device-unreachable"]
            await nothing_stuck(lab, agents=("2772",))
    run(go())


def test_phone_grants_no_more_than_it_may_and_counts_versions_per_subscription():
    """RFC 6665 4.2.1.1 / 4.2.2: the notifier may shorten a subscription, never lengthen it,
    and says what is left in each NOTIFY; RFC 4235 4.1: versions count per subscription,
    from 0."""
    async def go():
        async with AcdLab(cfg(subscribe_expires=3600), timers=T) as lab:
            p = await lab.phone("p", max_expires=600)
            seen = []
            lab.acd.ep.trace = lambda d, m, a: seen.append(m) if d == "rx" and m.method == "NOTIFY" else None
            await lab.login(p, "2771")
            [sub] = p.subs.values()
            assert 599 <= sub.expires_at - asyncio.get_running_loop().time() <= 600
            states = [m.get("Subscription-State") for m in seen]
            assert all(s.startswith("active;expires=") and int(s.split("=")[1]) <= 600 for s in states)
            import re
            versions = [int(re.search(rb'version="(\d+)"', m.body).group(1)) for m in seen]
            assert versions[0] == 0 and versions == list(range(len(versions)))
            # a second subscription to the same phone counts from 0 again
            await p.logout(lab.sip)
            assert await lab.wait_for(lambda: lab.acd.agents["2771"].state == "loggedout")
            seen.clear()
            await lab.login(p, "2771")
            versions = [int(re.search(rb'version="(\d+)"', m.body).group(1)) for m in seen
                        if m.get("Subscription-State").startswith("active")]
            assert versions[0] == 0
    run(go())


@pytest.mark.parametrize("mutate, status", [
    (lambda m: m.replace(b"INVITE sip", b"FOOBAR sip").replace(b"CSeq: 1 INVITE", b"CSeq: 1 FOOBAR"), 501),
    (lambda m: m.replace(b"Max-Forwards: 70", b"Max-Forwards: 70\r\nRequire: 100rel"), 420),
    (lambda m: m.replace(b"Content-Type: application/sdp", b"Content-Type: multipart/mixed"), 415),
    (lambda m: m.replace(b"Contact: <sip:c@127.0.0.1:PORT>\r\n", b""), 400),
    (lambda m: m.replace(b"c=IN IP4 127.0.0.1", b"c=IN IP4 localhost"), 488),
])
def test_requests_the_acd_cannot_serve_are_answered_as_rfc_3261_says(mutate, status):
    """A method nobody here knows (501), an extension it lacks (420 + Unsupported), a body that
    is not SDP (415), an INVITE without Contact (400), an SDP naming a host instead of an
    address (488: a name would be looked up for every RTP packet)."""
    async def go():
        async with AcdLab(cfg(media=True), timers=T) as lab:
            sock, port = udp_peer()
            body = sdp.build("127.0.0.1", 4000)
            msg = (f"INVITE sip:sales@{lab.sip[0]}:{lab.sip[1]} SIP/2.0\r\n"
                   f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKx1\r\n"
                   f"From: <sip:c@127.0.0.1>;tag=t1\r\nTo: <sip:sales@127.0.0.1>\r\nCall-ID: rfc-1\r\n"
                   f"CSeq: 1 INVITE\r\nContact: <sip:c@127.0.0.1:PORT>\r\nMax-Forwards: 70\r\n"
                   f"Content-Type: application/sdp\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
            sock.sendto(mutate(msg).replace(b"PORT", str(port).encode()), lab.sip)
            resp = await final_response(sock)
            assert resp.status == status
            if status == 420:
                assert resp.get("Unsupported") == "100rel"
            await nothing_stuck(lab, state="loggedout")
            sock.close()
    run(go())


def test_in_dialog_request_with_a_lower_cseq_gets_500():
    async def go():
        async with AcdLab(cfg(), timers=T) as lab:
            gw = await lab.gateway()
            resp, call = await gw.invite(f"sip:sales@{lab.sip[0]}:{lab.sip[1]}", "gw", dest=lab.sip)
            assert resp.status == 200
            info = call.dialog.request("OPTIONS", cseq=5)
            assert (await gw.ep.send_request(info, call.dialog.destination()).final).status == 200
            stale = call.dialog.request("BYE", cseq=3)          # below the 5 just used
            assert (await gw.ep.send_request(stale, call.dialog.destination()).final).status == 500
            call.dialog.local_seq = 5
            gw.hangup(call)                                      # CSeq 6: in order, the call ends
            await nothing_stuck(lab, state="loggedout")
    run(go())


def test_a_stuck_call_can_be_hung_up_through_rest_and_a_spoofed_2xx_is_not_reflected():
    """A caller that vanished without a BYE (no probe runs by default) leaves a call up:
    DELETE /calls/{id} ends it.  A 2xx that answers no INVITE of the ACD's (a spoofed one,
    naming any Contact) gets no ACK and no BYE: it used to draw a dozen datagrams to that
    address."""
    async def go():
        async with AcdLab(cfg(), timers=T) as lab:
            gw = await lab.gateway()
            r = await gw.call(lab.sip, "sales", hold=0.1, lose_bye=True)
            assert r["ended_by"] == "lost" and lab.acd.calls
            [cid] = lab.acd.calls
            assert (await lab.http("DELETE", "/calls/nope"))[0] == 404
            st, _, body = await lab.http("DELETE", f"/calls/{cid}")
            assert st == 200 and body == {"deleted": cid}
            await nothing_stuck(lab, state="loggedout")
            assert qlog(lab, "HANGUP") and qlog(lab, "ABANDON")
            victim = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            victim.bind(("127.0.0.1", 0))
            victim.settimeout(T.timeout)
            spoof = (f"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP {lab.sip[0]}:{lab.sip[1]};branch=z9hG4bKspoof\r\n"
                     f"From: <sip:a@h>;tag=1\r\nTo: <sip:b@h>;tag=2\r\nCall-ID: spoofed@h\r\n"
                     f"CSeq: 1 INVITE\r\nContact: <sip:x@127.0.0.1:{victim.getsockname()[1]}>\r\n"
                     f"Content-Length: 0\r\n\r\n").encode()
            victim.sendto(spoof, lab.sip)
            with pytest.raises(socket.timeout):     # read off the loop: the ACD runs on it
                await asyncio.get_running_loop().run_in_executor(None, victim.recv, 2048)
            assert lab.acd.ep.stats["stray"] == 1, lab.acd.ep.stats
            victim.close()
    run(go())
