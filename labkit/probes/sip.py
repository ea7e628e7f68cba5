"""SIP probes run inside a lab node: place a call into the ACD as the seed's FXO gateway."""
from __future__ import annotations

import asyncio

from labkit.lab.safety import require_lab_netns


def call(acd: str, target: str, hold: float = 1.0, local: str = "0.0.0.0") -> dict:
    """Call ``sip:target@acd`` with labkit's Gateway UA and hang up after ``hold`` seconds
    (unless the ACD hangs up first).  Returns status, connected (the ACD's media re-INVITE
    came, so an agent answered), ended_by and the Call-ID (to find the call in a capture)."""
    require_lab_netns("SIP call")
    from labkit.acd.phone import Gateway

    host, _, port = acd.rpartition(":")

    async def run() -> dict:
        gw = await Gateway(host=local, port=0).start()
        try:
            out = await gw.call((host, int(port)), target, hold=hold)
            await asyncio.sleep(0.5)     # let our BYE and its 200 OK cross before closing
            return out
        finally:
            await gw.stop()
    return asyncio.run(run())
