"""SIP probes run inside a lab node: place a call into the ACD as the seed's FXO gateway."""
from __future__ import annotations

import asyncio

from labkit.lab.safety import require_lab_netns


def source_address(host: str) -> str:
    """The address this node sends from towards `host` (the kernel's route lookup, no packet)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect((host, 5060))
        return s.getsockname()[0]


def call(acd: str, target: str, hold: float = 1.0, local: str = "",
         reinvite: str | int = "accept", allow: bool = True, media: bool = False) -> dict:
    """Call ``sip:target@acd`` with labkit's Gateway UA and hang up after ``hold`` seconds
    (unless the ACD hangs up first).  Returns status, connected (the ACD's media re-INVITE
    came and was taken, so an agent answered), ended_by and the Call-ID (to find the call in a
    capture), and how many re-INVITEs came.  ``reinvite`` (accept, refuse, ignore or a status),
    ``allow=False`` (list no methods, like sipp's built-in uac) and ``media`` (send a tone as
    PCMU RTP) play the callers that independent testing met (labkit.acd.phone)."""
    require_lab_netns("SIP call")
    from labkit.acd.phone import ALLOW_UA, Gateway

    host, _, port = acd.rpartition(":")
    # Via, Contact, From and the SDP carry this address, so it must be one the far end can
    # reach: by default the node's own address towards the callee, never 0.0.0.0.
    local = local or source_address(host)

    async def run() -> dict:
        gw = await Gateway(host=local, port=0, reinvite=reinvite, media=media,
                           allow=ALLOW_UA if allow else None).start()
        try:
            out = await gw.call((host, int(port)), target, hold=hold)
            out.pop("rtp", None)                 # captures show the media; keep the answer small
            # our BYE has its answer (or its Timer F) before the UA closes: bounded, not a nap
            await _until(lambda: not any(t.request.method == "BYE" and not t.final.done()
                                         for t in gw.ep.client_txns.values()), 2 * 32 * gw.timers.t1)
            return out
        finally:
            await gw.stop()
    return asyncio.run(run())


async def _until(pred, timeout: float) -> bool:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not pred() and loop.time() < end:
        await asyncio.sleep(0.01)
    return pred()
