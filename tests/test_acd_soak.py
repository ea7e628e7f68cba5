"""Soak: 5,000 calls through the ACD with random no-answers, refusals, hang-ups while queued or
ringing, BYEs lost on both sides, and agents logging out and in meanwhile.

Real UDP on loopback, labkit phones and gateways in-process, SIP timers compressed 20x.  At the
end: every agent is idle or logged out exactly as its phone left it, /queues lists no call, and
the ACD holds no call, leg, offer, transaction or media port.
"""
from __future__ import annotations

import asyncio

from labkit.acd.soak import soak


def test_soak_5000_calls_leaves_nothing_behind():
    out = asyncio.run(asyncio.wait_for(soak(calls=5000, agents=20, concurrency=100, seed=11), 300))
    assert out["calls"] == 5000
    assert out["answered_200"] == 5000                 # the ACD answered every caller
    # the random mix really happened
    assert out["connected"] > 1000 and out["caller_hangups"] > 500
    assert out["caller_lost_byes"] > 50 and out["rna"] > 20
    # nothing stale
    assert out["quiet"] and out["stale_calls"] == 0
    assert all(v == 0 for v in out["leaks"].values()), out["leaks"]
    assert out["agents_actual"] == out["agents_expected"]
    assert any(s == "loggedout" for s in out["agents_expected"].values())
    # every call that entered a queue was either answered or abandoned, never lost
    for name, st in out["queue_stats"].items():
        assert st["entered"] == st["answered"] + st["abandoned"], (name, st)
        assert st["waiting"] == 0
    assert out["sip"]["handler_errors"] == 0 and out["sip"]["malformed"] == 0
