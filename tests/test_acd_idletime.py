"""Figures the ACD measures in time: ``idletime`` (whole SECONDS since the agent became idle,
in GET /agents) and the queue's service level (answered within ``service_level`` seconds).

The ACD's clock is injected, so the expected value is exact and nothing sleeps: a
milliseconds (or any other unit) mistake shows as a wrong number, not only as a non-"0".
"""
from __future__ import annotations

import asyncio

from labkit.acd.core import config_from_dict
from labkit.acd.events import DeviceState
from labkit.acd.harness import AcdLab
from labkit.acd.legs import Subscription
from labkit.acd.rest import RestApi
from labkit.acd.server import AcdServer
from labkit.acd.sip.endpoint import Dialog
from labkit.acd.sip.transaction import Timers

CFG = {"queues": [{"name": "queue1"}],
       "agents": [{"id": "2771", "memberof": ["queue1"]}, {"id": "2772", "memberof": ["queue1"]}],
       "media": False, "login_hangup_delay": 0.02}


class FakeClock:
    """A monotonic clock that moves only when the test says so."""

    def __init__(self, t: float = 5000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def idletimes(doc) -> dict[str, str]:
    return {a["id"]: a["idletime"] for a in doc["agents"]}


def logging_in(acd: AcdServer, agent_id: str) -> tuple:
    """An agent whose login is pending and the subscription its device's NOTIFYs arrive on."""
    agent = acd.agents[agent_id]
    agent.state, agent.device = "pending", f"sip:{agent_id}@127.0.0.1:5999"
    dialog = Dialog(call_id="c1", local_tag="t1", remote_tag="", local_uri="<sip:acd@127.0.0.1>",
                    remote_uri=f"<{agent.device}>", remote_target=agent.device,
                    local_contact="sip:acd@127.0.0.1")
    return agent, Subscription(agent=agent, dialog=dialog)


def test_idletime_counts_seconds_from_the_idle_notify():
    clock = FakeClock()
    acd = AcdServer(config_from_dict(CFG, "<test>"), clock=clock)
    agent, sub = logging_in(acd, "2771")
    acd._device_state(sub, DeviceState(idle=True), -1)   # the phone says: idle
    assert agent.state == "idle"
    api = RestApi(acd)
    assert idletimes(api.get_agents()[1].to_python()) == {"2771": "0", "2772": "0"}
    clock.t += 42.7
    assert idletimes(api.get_agents()[1].to_python()) == {"2771": "42", "2772": "0"}
    clock.t += 3600
    assert idletimes(api.get_agents()[1].to_python())["2771"] == "3642"


def test_agent_busy_on_its_own_call_is_idle_again_with_a_fresh_idletime():
    clock = FakeClock()
    acd = AcdServer(config_from_dict(CFG, "<test>"), clock=clock)
    agent, sub = logging_in(acd, "2771")
    api = RestApi(acd)
    acd._device_state(sub, DeviceState(idle=True), -1)
    clock.t += 10
    acd._device_state(sub, DeviceState(idle=False), -1)   # the agent dials out itself
    assert agent.state == "busy"
    clock.t += 60
    acd._device_state(sub, DeviceState(idle=True), -1)    # and hangs up
    assert agent.state == "idle"
    clock.t += 5
    assert idletimes(api.get_agents()[1].to_python())["2771"] == "5"


def test_service_level_counts_calls_answered_within_its_seconds():
    clock = FakeClock()
    cfg = dict(CFG, wrapup=0)

    async def answered_after(lab, gw, seconds: float, make_available) -> dict:
        """A call that waits exactly ``seconds`` on the ACD's clock before an agent is free."""
        task = asyncio.ensure_future(gw.call(lab.sip, "queue1", hold=5))
        assert await lab.wait_for(lambda: any(c.state == "waiting" for c in lab.acd.calls.values()))
        clock.t += seconds
        await make_available()
        r = await task
        assert r["connected"] and r["ended_by"] == "acd"
        assert await lab.wait_for(lambda: lab.acd.agents["2771"].state == "idle")
        _, _, doc = await lab.http("GET", "/queues/queue1/stats")
        return doc

    async def go():
        async with AcdLab(cfg, timers=Timers.scaled(0.05), clock=clock) as lab:
            phone, gw = await lab.phone("p1", talk_time=0.05), await lab.gateway()

            async def log_in():
                await lab.login(phone, "2771")

            async def unpause():
                assert (await lab.http("PATCH", "/agents/2771", {"paused": False}))[0] == 200

            # exactly 20 s (the default service level) still counts as within
            st = await answered_after(lab, gw, 20.0, log_in)
            assert (st["answered"], st["service_level"], st["max_wait"]) == (1, 100.0, 20.0)
            assert st["service_level_s"] == 20.0
            assert (await lab.http("PATCH", "/agents/2771", {"paused": True}))[0] == 200
            st = await answered_after(lab, gw, 20.5, unpause)   # half a second too late
            assert (st["answered"], st["service_level"], st["max_wait"]) == (2, 50.0, 20.5)
            assert st["avg_wait"] == 20.25

    asyncio.run(asyncio.wait_for(go(), 20))


def test_idletime_over_http_after_a_real_login():
    clock = FakeClock()

    async def go():
        async with AcdLab(CFG, timers=Timers.scaled(0.05), clock=clock) as lab:
            assert await lab.login(await lab.phone("p1"), "2771") == "idle"
            clock.t += 7.9
            st, _, doc = await lab.http("GET", "/agents")
            assert st == 200 and idletimes(doc) == {"2771": "7", "2772": "0"}
            clock.t += 120
            st, _, doc = await lab.http("GET", "/agents/2771")
            assert st == 200 and doc["idletime"] == "127"

    asyncio.run(asyncio.wait_for(go(), 20))
