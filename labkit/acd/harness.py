"""An ACD, its REST API and labkit phones in one asyncio loop on loopback.

Tests, the soak, the benchmark and notebook 04 share this instead of each wiring sockets.
Everything binds 127.0.0.1 on ephemeral ports, so runs never collide and never leave loopback.
"""
from __future__ import annotations

import asyncio
import json
import time
from typing import Any, Callable

from .daemon import AcdDaemon
from .phone import AgentPhone, Gateway
from .sip.transaction import Timers


class AcdLab:
    """The ACD (described by an AcdDaemon, run in this loop) with its phones and gateways."""

    def __init__(self, config: dict, timers: Timers = Timers(), host: str = "127.0.0.1",
                 clock: Callable[[], float] = time.monotonic,
                 pbx: tuple[str, int] | None = None) -> None:
        self.daemon = AcdDaemon(config, sip=(host, 0), http=(host, 0), pbx=pbx)
        self.timers = timers
        self.host = host
        self.acd, self.api = self.daemon.build(timers=timers, clock=clock)
        self.cfg = self.acd.cfg
        self.phones: list[AgentPhone] = []
        self.gateways: list[Gateway] = []

    async def __aenter__(self) -> "AcdLab":
        await self.daemon.start(self.acd, self.api)
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def close(self) -> None:
        for p in self.phones + self.gateways:
            await p.stop()
        await self.api.stop()
        await self.acd.stop()

    @property
    def sip(self) -> tuple[str, int]:
        return (self.acd.ep.host, self.acd.ep.port)

    async def phone(self, name: str, **kw) -> AgentPhone:
        p = await AgentPhone(name, timers=self.timers, host=self.host, **kw).start()
        self.phones.append(p)
        return p

    async def gateway(self, **kw) -> Gateway:
        """A gateway UA (kw: reinvite, allow, media; see labkit.acd.phone)."""
        g = await Gateway(timers=self.timers, host=self.host, **kw).start()
        self.gateways.append(g)
        return g

    async def login(self, phone: AgentPhone, agent_id: str, **kw) -> str:
        """Log ``phone`` in as ``agent_id`` and wait until the ACD shows a settled state."""
        await phone.login(self.sip, agent_id, **kw)
        agent = self.acd.agents[agent_id]
        await self.wait_for(lambda: agent.state not in ("pending", "busy"), timeout=2)
        return self.acd.agents[agent_id].state

    async def wait_for(self, pred: Callable[[], bool], timeout: float = 5.0, step: float = 0.01) -> bool:
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while loop.time() < end:
            if pred():
                return True
            await asyncio.sleep(step)
        return bool(pred())

    async def http(self, method: str, path: str, body: Any = None, raw: bytes | None = None,
                   headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
        """One HTTP/1.1 request to the REST API; returns (status, headers, parsed JSON)."""
        return await http_request(self.host, self.api.port, method, path, body, raw, headers)


async def http_request(host: str, port: int, method: str, path: str, body: Any = None,
                       raw: bytes | None = None, headers: dict[str, str] | None = None
                       ) -> tuple[int, dict[str, str], Any]:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        hdrs = {"Host": f"{host}:{port}", "Connection": "close"}
        data = b""
        if body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        if raw is not None:
            data = raw
        if data:
            hdrs["Content-Length"] = str(len(data))
        hdrs.update(headers or {})
        head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items())
        writer.write(head.encode() + b"\r\n" + data)
        await writer.drain()
        resp = await reader.read()
    finally:
        writer.close()
    head, _, payload = resp.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    rh = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        rh[k.strip().lower()] = v.strip()
    return status, rh, json.loads(payload) if payload.strip() else None
