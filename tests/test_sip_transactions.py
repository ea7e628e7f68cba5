"""RFC 3261 transactions between two real UDP endpoints on loopback, with packet loss injected.

Timers are compressed (T1 = 10 ms) so retransmission and timeout paths run in well under a second.
"""
from __future__ import annotations

import asyncio

from labkit.acd.sip import sdp
from labkit.acd.sip.endpoint import Dialog, SipEndpoint
from labkit.acd.sip.message import new_tag
from labkit.acd.sip.transaction import Timers

T = Timers.scaled(0.02)


class Recorder:
    """A TU that records requests and answers by a per-method rule."""

    def __init__(self, rule=None):
        self.requests, self.acks, self.cancels = [], [], []
        self.rule = rule or (lambda req, txn: txn.respond(txn.response(200)))
        self.ep = None

    def on_request(self, req, txn):
        self.requests.append(req)
        self.rule(req, txn)

    def on_ack(self, req):
        self.acks.append(req)

    def on_cancel(self, invite):
        self.cancels.append(invite)


async def pair(rule=None):
    srv_tu, cli_tu = Recorder(rule), Recorder()
    srv = await SipEndpoint.listen(srv_tu, "127.0.0.1", 0, timers=T)
    cli = await SipEndpoint.listen(cli_tu, "127.0.0.1", 0, timers=T)
    srv_tu.ep, cli_tu.ep = srv, cli
    return srv, srv_tu, cli, cli_tu


def drop_first(method_or_status, count=1):
    """A drop hook that loses the first ``count`` sends (incl. retransmits) of one message kind."""
    state = {"left": count, "kind": None}

    def hook(msg, addr):
        if msg is not None:
            state["kind"] = msg.method or msg.status
        if state["kind"] == method_or_status and state["left"] > 0:
            state["left"] -= 1
            return True
        return False
    return hook


def run(coro):
    """Every test ends within 30 s: a transaction that never ends fails it, it does not hang."""
    return asyncio.run(asyncio.wait_for(coro, 30))


def test_non_invite_retransmits_over_loss_and_server_absorbs_duplicates():
    async def go():
        srv, srv_tu, cli, _ = await pair()
        cli.drop = drop_first("OPTIONS", 2)          # first send and first retransmit lost
        req = cli.new_request("OPTIONS", srv.uri("acd"), "<sip:a@127.0.0.1>", f"<{srv.uri('acd')}>")
        resp = await cli.send_request(req, (srv.host, srv.port)).final
        assert resp.status == 200
        assert len(srv_tu.requests) == 1              # the TU saw the request once
        assert cli.stats["retrans_tx"] >= 2
        await asyncio.sleep(T.t4 * 1.5)
        assert not cli.client_txns                    # Timer K ended the client transaction
        await asyncio.sleep(T.timeout)
        assert srv.idle and cli.idle                  # Timer J ended the server one
        srv.close(); cli.close()
    run(go())


def test_lost_response_is_resent_from_the_server_transaction():
    async def go():
        srv, srv_tu, cli, _ = await pair()
        srv.drop = drop_first(200, 1)
        req = cli.new_request("INFO", srv.uri(), "<sip:a@127.0.0.1>", f"<{srv.uri()}>")
        resp = await cli.send_request(req, (srv.host, srv.port)).final
        assert resp.status == 200 and len(srv_tu.requests) == 1
        assert srv.stats["retrans_rx"] >= 1
        srv.close(); cli.close()
    run(go())


def test_timer_f_gives_local_408_when_nobody_answers():
    async def go():
        srv, _, cli, _ = await pair()
        srv.drop = lambda msg, addr: True             # the server is mute
        req = cli.new_request("OPTIONS", srv.uri(), "<sip:a@127.0.0.1>", f"<{srv.uri()}>")
        resp = await cli.send_request(req, (srv.host, srv.port)).final
        assert resp.status == 408 and resp.get("X-Labkit-Local") == "timeout"
        assert cli.stats["retrans_tx"] >= 5 and not cli.client_txns
        srv.close(); cli.close()
    run(go())


def test_invite_non_2xx_is_retransmitted_until_ack_and_ack_is_hop_by_hop():
    async def go():
        srv, srv_tu, cli, _ = await pair(lambda req, txn: txn.respond(txn.response(486, to_tag=new_tag())))
        cli.drop = drop_first("ACK", 1)               # the first ACK is lost: 486 comes again
        req = cli.new_request("INVITE", srv.uri("q"), "<sip:a@127.0.0.1>", f"<{srv.uri('q')}>",
                              body=sdp.build("127.0.0.1", 4000), content_type="application/sdp")
        resp = await cli.send_request(req, (srv.host, srv.port)).final
        assert resp.status == 486
        await asyncio.sleep(T.t2 * 3)
        txn = next(iter(srv.server_txns.values()), None)
        assert txn is None or txn.state in ("confirmed", "terminated")
        assert not srv_tu.acks                        # ACK of a non-2xx never reaches the TU
        await asyncio.sleep(T.timeout + 0.1)
        assert srv.idle and cli.idle
        srv.close(); cli.close()
    run(go())


def test_2xx_retransmitted_until_ack_then_no_ack_callback():
    async def go():
        lost = []

        def answer(req, txn):
            tag = new_tag()
            d = Dialog.as_uas(req, tag, srv.uri())
            resp = txn.response(200, to_tag=tag, body=sdp.build("127.0.0.1", 5000),
                                extra=[("Contact", f"<{srv.uri()}>")])
            srv.send_2xx(txn, resp, on_no_ack=lambda: lost.append(d.call_id))
        srv, srv_tu, cli, _ = await pair(answer)
        # call 1: normal, the ACK stops the retransmissions
        req = cli.new_request("INVITE", srv.uri("q"), "<sip:a@127.0.0.1>", f"<{srv.uri('q')}>",
                              body=sdp.build("127.0.0.1", 4000), content_type="application/sdp")
        resp = await cli.send_request(req, (srv.host, srv.port)).final
        assert resp.status == 200
        cli.send_ack(Dialog.as_uac(req, resp, cli.uri()), 1)
        await asyncio.sleep(0.05)
        assert len(srv_tu.acks) == 1 and not srv.pending_2xx
        # call 2: every ACK is lost -> 2xx retransmitted, then the TU is told (it will BYE)
        cli.drop = lambda msg, addr: msg is None or msg.method == "ACK"
        req2 = cli.new_request("INVITE", srv.uri("q"), "<sip:a@127.0.0.1>", f"<{srv.uri('q')}>",
                               body=sdp.build("127.0.0.1", 4000), content_type="application/sdp")
        resp2 = await cli.send_request(req2, (srv.host, srv.port)).final
        cli.send_ack(Dialog.as_uac(req2, resp2, cli.uri()), 1)
        await asyncio.sleep(T.timeout + 0.2)
        assert lost == [req2.call_id]
        assert srv.stats["retrans_tx"] >= 3
        srv.close(); cli.close()
    run(go())


def test_cancel_gets_200_and_invite_gets_487():
    async def go():
        def ring(req, txn):
            txn.to_tag = new_tag()
            txn.respond(txn.response(180, to_tag=txn.to_tag))
        srv, srv_tu, cli, _ = await pair(ring)
        req = cli.new_request("INVITE", srv.uri("agent"), "<sip:a@127.0.0.1>", f"<{srv.uri('agent')}>",
                              body=sdp.build("127.0.0.1", 4000), content_type="application/sdp")
        txn = cli.send_request(req, (srv.host, srv.port))
        ringing = asyncio.get_running_loop().create_future()
        txn.on_provisional = lambda r: ringing.done() or r.status == 100 or ringing.set_result(r.status)
        assert await ringing == 180
        txn.cancel()
        resp = await txn.final
        assert resp.status == 487
        assert (await txn.cancel_txn.final).status == 200
        assert [c.call_id for c in srv_tu.cancels] == [req.call_id]
        await asyncio.sleep(T.timeout + 0.1)
        assert srv.idle and cli.idle
        srv.close(); cli.close()
    run(go())


def test_malformed_request_with_enough_headers_gets_400():
    async def go():
        srv, srv_tu, cli, cli_tu = await pair()
        loop = asyncio.get_running_loop()
        got = loop.create_future()

        class Catch(asyncio.DatagramProtocol):
            def datagram_received(self, data, addr):
                if not got.done():
                    got.set_result(data)
        tr, _ = await loop.create_datagram_endpoint(Catch, local_addr=("127.0.0.1", 0))
        port = tr.get_extra_info("sockname")[1]
        bad = (f"INVITE sip:q@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKq\r\n"
               f"From: <sip:a@h>;tag=1\r\nTo: <sip:q@h>\r\nCall-ID: x\r\nCSeq: 1 BYE\r\n\r\n").encode()
        tr.sendto(bad, (srv.host, srv.port))
        data = await asyncio.wait_for(got, 2)
        assert data.startswith(b"SIP/2.0 400 Bad Request - CSeq method")
        assert srv.stats["malformed"] == 1 and not srv_tu.requests
        tr.close(); srv.close(); cli.close()
    run(go())


def invite(cli, srv, user="q"):
    return cli.new_request("INVITE", srv.uri(user), "<sip:a@127.0.0.1>", f"<{srv.uri(user)}>",
                           body=sdp.build("127.0.0.1", 4000), content_type="application/sdp")


def test_timer_b_ends_an_invite_through_on_final_like_any_response():
    """A TU that relies on ``on_final`` (the ACD's bridge does, to ACK at once) must see a
    timeout too: it used to resolve ``final`` and skip ``on_final``, so a re-INVITE nobody
    answered left its call connected and its agent incall for good."""
    async def go():
        srv, _, cli, _ = await pair()
        srv.drop = lambda msg, addr: True             # a peer that never answers, not even 100
        seen = []
        txn = cli.send_request(invite(cli, srv), (srv.host, srv.port))
        txn.on_final = lambda resp: seen.append((resp.status, txn.final.done()))
        resp = await txn.final
        assert seen == [(408, False)]                 # on_final ran first, with the local 408
        assert resp.get("X-Labkit-Local") == "timeout" and cli.stats["txn_timeouts"] == 1
        assert not cli.client_txns
        srv.close(); cli.close()
    run(go())


def test_an_invite_that_only_rings_is_cancelled_at_its_limit():
    """Timers A and B stop at the first provisional; without a bound an INVITE that rings
    forever would live forever.  At ``limit`` it is CANCELled and ends with the 487."""
    async def go():
        def ring_forever(req, txn):
            txn.to_tag = new_tag()
            txn.respond(txn.response(180, to_tag=txn.to_tag))
        srv, srv_tu, cli, _ = await pair(ring_forever)
        txn = cli.send_request(invite(cli, srv), (srv.host, srv.port), limit=T.timeout)
        resp = await txn.final
        assert resp.status == 487 and txn.expired and srv_tu.cancels
        await asyncio.sleep(T.timeout + 0.1)
        assert srv.idle and cli.idle and cli.overdue() == 0
        srv.close(); cli.close()
    run(go())


def test_merged_request_gets_482_and_never_reaches_the_tu():
    """RFC 3261 8.2.2.2: the same Call-ID, From tag and CSeq under a new branch (a fork that
    came back, a loop) while the first is still going is answered 482; retransmissions of the
    first are still absorbed, and once it ends the pair may start afresh."""
    async def go():
        srv, srv_tu, cli, _ = await pair()
        req = cli.new_request("OPTIONS", srv.uri(), "<sip:a@127.0.0.1>", f"<{srv.uri()}>")
        first = await cli.send_request(req, (srv.host, srv.port)).final
        again = cli.new_request("OPTIONS", srv.uri(), "<sip:a@127.0.0.1>", f"<{srv.uri()}>",
                                call_id=req.call_id)
        again.set("From", req.get("From"))            # same tag, same CSeq, new branch
        second = await cli.send_request(again, (srv.host, srv.port)).final
        assert (first.status, second.status) == (200, 482)
        assert len(srv_tu.requests) == 1 and srv.stats["merged"] == 1
        await asyncio.sleep(T.timeout + 0.1)          # Timer J: the first is over
        assert srv.idle and not srv.merge_keys
        third = cli.new_request("OPTIONS", srv.uri(), "<sip:a@127.0.0.1>", f"<{srv.uri()}>",
                                call_id=req.call_id)
        third.set("From", req.get("From"))
        assert (await cli.send_request(third, (srv.host, srv.port)).final).status == 200
        srv.close(); cli.close()
    run(go())


def test_a_tu_that_fails_still_answers_its_request():
    async def go():
        def broken(req, txn):
            raise RuntimeError("bug in the TU")
        srv, _, cli, _ = await pair(broken)
        req = cli.new_request("OPTIONS", srv.uri(), "<sip:a@127.0.0.1>", f"<{srv.uri()}>")
        resp = await cli.send_request(req, (srv.host, srv.port)).final
        assert resp.status == 500 and srv.stats["handler_errors"] == 1
        srv.close(); cli.close()
    run(go())
