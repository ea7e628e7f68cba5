"""ACD behaviour with labkit phones and a labkit gateway, all over real UDP on loopback.

Each test builds a small ACD (compressed SIP timers) and drives it through SIP only, then looks
at the REST API and the queue log, the way an operator would.
"""
from __future__ import annotations

import asyncio
import socket
import time

from labkit.rtp import check_rtp
from labkit.acd import events
from labkit.acd.harness import AcdLab
from labkit.acd.sip import sdp
from labkit.acd.sip.transaction import Timers

T = Timers.scaled(0.05)


def cfg(**kw):
    base = {"queues": [{"name": "sales"}, {"name": "support"}, {"name": "all", "strategy": "ringall"}],
            "agents": [{"id": "2771", "memberof": ["sales", "support", "all"]},
                       {"id": "2772", "memberof": ["sales", "all"]},
                       {"id": "2773", "memberof": ["sales", "all"]}],
            "ring_timeout": 0.4, "wrapup": 0.05, "login_hangup_delay": 0.05, "media": False,
            "autopause_after": 0}
    base.update(kw)
    return base


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


def events_of(lab, event):
    return [line.split("|") for line in lab.acd.qlog.lines if line.split("|")[4] == event]


def test_login_by_info_dtmf_subscribes_and_agent_becomes_idle():
    async def go():
        async with AcdLab(cfg()) as lab:
            p1, p2 = await lab.phone("p1"), await lab.phone("p2")
            assert await lab.login(p1, "2771") == "idle"
            assert await lab.login(p2, "2772", ctype=events.CT_DTMF) == "idle"
            status, _, doc = await lab.http("GET", "/agents")
            a = {x["id"]: x for x in doc["agents"]}
            assert status == 200
            assert a["2771"]["state"] == "idle" and a["2771"]["device"] == p1.contact
            assert a["2773"]["state"] == "loggedout" and a["2773"]["idletime"] == "0"
            assert a["2771"]["memberof"] == ["sales", "support", "all"]
            assert set(a["2771"]) == {"id", "state", "idletime", "device", "memberof"}
            assert len(p1.subs) == 1 and len(events_of(lab, "AGENTLOGIN")) == 2
            # logout through *45: unsubscribed, logged out
            await p1.logout(lab.sip)
            assert await lab.wait_for(lambda: lab.acd.agents["2771"].state == "loggedout")
            assert await lab.wait_for(lambda: not p1.subs)
            assert events_of(lab, "AGENTLOGOFF")
    run(go())


def test_most_idle_agent_first_and_redirect_on_no_answer():
    async def go():
        async with AcdLab(cfg()) as lab:
            quiet = await lab.phone("quiet", policy="ignore")
            ok = await lab.phone("ok", talk_time=0.1)
            third = await lab.phone("third", talk_time=0.1)
            await lab.login(quiet, "2771")            # most idle: logged in first
            await asyncio.sleep(0.05)
            await lab.login(ok, "2772")
            await asyncio.sleep(0.05)
            await lab.login(third, "2773")
            gw = await lab.gateway()
            r = await gw.call(lab.sip, "sales", hold=3)
            assert r["status"] == 200 and r["connected"] and r["ended_by"] == "acd"
            # rang 2771 first (most idle), then redirected to 2772 (next most idle)
            assert quiet.incoming == 1 and ok.incoming == 1 and third.incoming == 0
            rna = events_of(lab, "RINGNOANSWER")
            assert [x[3] for x in rna] == ["Agent/2771"]
            assert [x[5] for x in rna] == ["400"]     # ring time in ms (ring_timeout 0.4 s)
            assert [x[3] for x in events_of(lab, "CONNECT")] == ["Agent/2772"]
            assert await lab.wait_for(lambda: lab.acd.leaks()["calls"] == 0)
            _, _, q = await lab.http("GET", "/queues/sales")
            assert q["stats"]["answered"] == 1 and q["stats"]["abandoned"] == 0
    run(go())


def test_ringall_first_answer_wins_others_cancelled():
    async def go():
        async with AcdLab(cfg()) as lab:
            slow = await lab.phone("slow", answer_delay=0.3)
            fast = await lab.phone("fast", answer_delay=0.02, talk_time=0.1)
            other = await lab.phone("other", policy="ignore")
            for p, a in ((slow, "2771"), (fast, "2772"), (other, "2773")):
                await lab.login(p, a)
            gw = await lab.gateway()
            r = await gw.call(lab.sip, "all", hold=3)
            assert r["connected"]
            assert slow.incoming == fast.incoming == other.incoming == 1
            assert [x[3] for x in events_of(lab, "CONNECT")] == ["Agent/2772"]
            assert await lab.wait_for(lambda: not slow.busy and not other.busy)
            assert await lab.wait_for(lambda: all(a.state == "idle" for a in lab.acd.agents.values()))
    run(go())


def test_direct_agent_call_and_logged_out_agent():
    async def go():
        async with AcdLab(cfg()) as lab:
            gw = await lab.gateway()
            r = await gw.call(lab.sip, "2773", hold=0.2)
            assert r["status"] == 480
            r = await gw.call(lab.sip, "nobody", hold=0.2)
            assert r["status"] == 404
            p = await lab.phone("p", talk_time=0.1)
            await lab.login(p, "2773")
            r = await gw.call(lab.sip, "2773", hold=3)
            assert r["connected"] and p.incoming == 1
    run(go())


def test_one_agent_per_phone_and_one_phone_per_agent():
    async def go():
        async with AcdLab(cfg()) as lab:
            p1, p2 = await lab.phone("p1"), await lab.phone("p2")
            assert await lab.login(p1, "2771") == "idle"
            await p2.login(lab.sip, "2771")          # same agent, second phone
            await p1.login(lab.sip, "2772")          # second agent, same phone
            await p2.login(lab.sip, "9999")          # unknown agent
            await asyncio.sleep(0.2)
            a = lab.acd.agents
            assert a["2771"].device == p1.contact and a["2771"].state == "idle"
            assert a["2772"].state == "loggedout"
            assert lab.acd.counters["login_rejected"] == 3
            assert len(events_of(lab, "AGENTLOGINFAIL")) == 3
    run(go())


def test_wrapup_then_idle_and_autopause_after_unanswered():
    async def go():
        async with AcdLab(cfg(wrapup=0.5, autopause_after=2, ring_timeout=0.2)) as lab:
            p = await lab.phone("p", talk_time=0.05)
            await lab.login(p, "2773")
            gw = await lab.gateway()
            r = await gw.call(lab.sip, "sales", hold=3)
            assert r["connected"]
            assert lab.acd.agents["2773"].state == "wrapup"
            assert await lab.wait_for(lambda: lab.acd.agents["2773"].state == "idle", timeout=2)
            p.policy = lambda req: ("ignore",)
            task = asyncio.ensure_future(gw.call(lab.sip, "sales", hold=1.0))
            assert await lab.wait_for(lambda: lab.acd.agents["2773"].paused, timeout=3)
            await task
            _, _, doc = await lab.http("GET", "/agents/2773")
            assert doc["state"] == "paused" and doc["missed"] == 2
            status, _, doc = await lab.http("PATCH", "/agents/2773", {"paused": False})
            assert status == 200 and doc["state"] == "idle"
            assert doc["missed"] == 0        # a fresh count: the next unanswered ring does not pause
            assert [x[5] for x in events_of(lab, "PAUSE")] == ["autopause"]
    run(go())


def test_non_pcmu_offer_gets_488():
    async def go():
        async with AcdLab(cfg()) as lab:
            gw = await lab.gateway()
            pcma = b"v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 4000 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n"
            resp, call = await gw.invite(f"sip:sales@{lab.sip[0]}:{lab.sip[1]}", "gw", body=pcma,
                                         dest=lab.sip)
            assert resp.status == 488 and call is None
            assert lab.acd.counters["rejected_488"] == 1 and not lab.acd.calls
    run(go())


def test_rest_transfer_takes_a_waiting_call_to_any_uri():
    async def go():
        async with AcdLab(cfg()) as lab:
            target = await lab.phone("target", talk_time=0.1)
            gw = await lab.gateway()
            task = asyncio.ensure_future(gw.call(lab.sip, "support", hold=3))
            assert await lab.wait_for(lambda: len(lab.acd.calls) == 1)
            cid = next(iter(lab.acd.calls))
            status, _, doc = await lab.http("POST", f"/calls/{cid}/transfer", {"to": target.contact})
            assert status == 202 and doc["method"].startswith("re-INVITE")
            r = await task
            assert r["connected"] and target.incoming == 1 and r["ended_by"] == "acd"
            assert events_of(lab, "TRANSFER")
            assert await lab.wait_for(lambda: not lab.acd.calls)
    run(go())


def test_agent_bye_lost_is_repaired_from_dialog_notify():
    async def go():
        async with AcdLab(cfg()) as lab:
            p = await lab.phone("p", talk_time=0.15)
            await lab.login(p, "2772")
            p.lose_next_bye = True                  # the agent's BYE never reaches the ACD
            gw = await lab.gateway()
            r = await gw.call(lab.sip, "sales", hold=5)
            # the phone's NOTIFY (call terminated) made the ACD end the caller's leg
            assert r["connected"] and r["ended_by"] == "acd"
            assert await lab.wait_for(lambda: lab.acd.agents["2772"].state == "idle")
            assert not lab.acd.calls
    run(go())


def test_caller_vanishing_is_found_by_options_probe():
    async def go():
        async with AcdLab(cfg(probe_interval=0.2)) as lab:
            gw = await lab.gateway()
            r = await gw.call(lab.sip, "sales", hold=0.1, lose_bye=True)
            assert r["ended_by"] == "lost" and len(lab.acd.calls) == 1
            assert await lab.wait_for(lambda: not lab.acd.calls, timeout=3)
            _, _, q = await lab.http("GET", "/queues/sales/stats")
            assert q["abandoned"] == 1 and q["waiting"] == 0
    run(go())


def test_presence_only_phone_is_subscribed_with_pidf():
    async def go():
        async with AcdLab(cfg()) as lab:
            p = await lab.phone("pres", notify_body="presence", talk_time=0.1)
            assert await lab.login(p, "2771") == "idle"
            assert lab.acd.agents["2771"].sub.event == "presence"
            gw = await lab.gateway()
            assert (await gw.call(lab.sip, "support", hold=3))["connected"]
    run(go())


def test_runtime_queue_and_agent_through_rest_without_restart():
    async def go():
        async with AcdLab(cfg()) as lab:
            st, _, doc = await lab.http("POST", "/queues", {"name": "vip", "strategy": "ringall"})
            assert st == 201 and doc["name"] == "vip" and doc["stats"]["waiting"] == 0
            st, _, doc = await lab.http("POST", "/agents", {"id": "3001", "memberof": ["vip"]})
            assert st == 201 and doc["state"] == "loggedout"
            p = await lab.phone("p", talk_time=0.1)
            await lab.login(p, "3001")
            gw = await lab.gateway()
            assert (await gw.call(lab.sip, "vip", hold=3))["connected"]
            _, _, qs = await lab.http("GET", "/queues")
            assert [q["name"] for q in qs["queues"]] == ["sales", "support", "all", "vip"]
            assert await lab.wait_for(lambda: lab.acd.agents["3001"].call is None)
            st, _, doc = await lab.http("DELETE", "/agents/3001")
            assert st == 200 and doc == {"deleted": "3001"}
            assert (await lab.http("GET", "/agents/3001"))[0] == 404
            assert not p.subs or await lab.wait_for(lambda: not p.subs)   # unsubscribed
            st, _, _ = await lab.http("DELETE", "/queues/vip")
            assert st == 200 and "vip" not in lab.acd.queues
            r = await gw.call(lab.sip, "vip", hold=0.2)
            assert r["status"] == 404
    run(go())


def test_caller_hears_pcmu_prompts_at_20ms():
    """With media on, the ACD's RTP to a waiting caller is PT 0, 20 ms apart, consecutive."""
    async def go():
        async with AcdLab(cfg(media=True)) as lab:
            rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            rtp.bind(("127.0.0.1", 0))
            rtp.setblocking(False)
            gw = await lab.gateway()
            offer = sdp.build("127.0.0.1", rtp.getsockname()[1])
            resp, call = await gw.invite(f"sip:sales@{lab.sip[0]}:{lab.sip[1]}", "gw", body=offer,
                                         dest=lab.sip)
            assert resp.status == 200 and sdp.parse(resp.body).audio.formats == ["0"]
            got = []
            loop = asyncio.get_running_loop()
            end = loop.time() + 1.0
            while loop.time() < end:
                try:
                    got.append((time.monotonic(), rtp.recv(2048)))
                except BlockingIOError:
                    await asyncio.sleep(0.002)
            gw.hangup(call)
            rtp.close()
            report = check_rtp(got, spacing_tolerance_ms=3.0, jitter_tolerance_ms=30.0)
            assert len(got) >= 30 and report.ok, str(report)
            assert await lab.wait_for(lambda: lab.acd.player.active() == 0)
    run(go())


def test_subscription_is_refreshed_and_terminated_notify_logs_out():
    async def go():
        async with AcdLab(cfg(subscribe_expires=1)) as lab:
            p = await lab.phone("p")
            await lab.login(p, "2771")
            sub_key = next(iter(p.subs))
            seq0 = p.subs[sub_key].dialog.remote_seq
            # the ACD refreshes before the phone's grant runs out (here at half of 1 s)
            assert await lab.wait_for(lambda: p.subs[sub_key].dialog.remote_seq > seq0, timeout=3)
            assert lab.acd.agents["2771"].state == "idle" and lab.acd.agents["2771"].sub.active
            # the phone ends the subscription itself (e.g. it is unplugged): agent logged out
            p._notify(sub_key, terminated=True)
            assert await lab.wait_for(lambda: lab.acd.agents["2771"].state == "loggedout")
            assert any("|AGENTLOGOFF|" in ln for ln in lab.acd.qlog.lines)
    run(go())
