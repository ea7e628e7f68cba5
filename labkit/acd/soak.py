"""A soak of the ACD: thousands of calls with random no-answers, hang-ups while queued or
ringing, lost BYEs on both sides, and agents logging out and in, all in one process on loopback
with compressed SIP timers.  At the end nothing may be left: no call, no leg, no offer, no
transaction, and every agent idle or logged out as its phone says.

``python -m labkit.acd.soak --calls 5000`` prints the summary as JSON.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import random
import time

from .harness import AcdLab
from .phone import random_policy
from .sip.transaction import Timers

SOAK_CONFIG = {
    "queues": [{"name": "sales"}, {"name": "support"}, {"name": "all", "strategy": "ringall"}],
    "ring_timeout": 0.15, "wrapup": 0.01, "autopause_after": 0, "probe_interval": 0.4,
    "login_hangup_delay": 0.02, "media": False, "digit_timeout": 0.2,
}


async def soak(calls: int = 5000, agents: int = 20, concurrency: int = 100, seed: int = 7,
               timer_scale: float = 0.05) -> dict:
    rng = random.Random(seed)
    cfg = dict(SOAK_CONFIG)
    queues = [q["name"] for q in cfg["queues"]]
    cfg["agents"] = [{"id": str(5000 + i),
                      "memberof": rng.sample(queues, rng.randint(1, 3))} for i in range(agents)]
    timers = Timers.scaled(timer_scale)
    t0 = time.monotonic()
    async with AcdLab(cfg, timers=timers) as lab:
        phones = []
        for i in range(agents):
            p = await lab.phone(f"a{i}", policy=random_policy(random.Random(seed + i), 0.08, 0.08, (0.0, 0.05)),
                                talk_time=rng.uniform(0.02, 0.08))
            p.bye_loss = 0.03
            phones.append(p)
        for i, p in enumerate(phones):
            await lab.login(p, str(5000 + i))
        gws = [await lab.gateway() for _ in range(4)]
        results: list[dict] = []
        sem = asyncio.Semaphore(concurrency)
        logged_out: set[int] = set()

        async def one(n: int) -> None:
            async with sem:
                r = rng.random()
                hold = rng.uniform(0.005, 0.15) if r < 0.3 else rng.uniform(0.5, 1.5)
                lose = rng.random() < 0.03
                res = await gws[n % len(gws)].call(lab.sip, rng.choice(queues), hold=hold, lose_bye=lose)
                results.append(res)

        async def churn() -> None:
            """Agents log out and back in while calls flow: one toggle per 1% of the calls.

            Paced by calls completed, not by the clock, and drawn from a generator of its
            own, so a loaded machine sees the same churn as an idle one.
            """
            pick = random.Random(seed + 10_000)
            step = max(1, calls // 100)
            for mark in range(step, calls, step):
                await lab.wait_for(lambda: len(results) >= mark, timeout=600)
                i = pick.randrange(agents)
                p = phones[i]
                if i in logged_out:
                    await p.login(lab.sip, str(5000 + i))
                    logged_out.discard(i)
                elif not p.busy:
                    await p.logout(lab.sip)
                    logged_out.add(i)

        churner = asyncio.ensure_future(churn())
        await asyncio.gather(*(one(n) for n in range(calls)))
        churner.cancel()
        if not logged_out:  # the end of a shift: one agent always leaves, so logout is checked
            await lab.wait_for(lambda: not phones[0].busy, timeout=30)
            await phones[0].logout(lab.sip)
            logged_out.add(0)
        # let ring timeouts, wrap-ups, probes and transaction timers run out
        acd = lab.acd
        quiet = await lab.wait_for(lambda: acd.leaks()["calls"] == 0 and not acd.offers,
                                   timeout=timers.timeout * 4 + 5)
        await lab.wait_for(lambda: all(a.state in ("idle", "loggedout") for a in acd.agents.values()),
                           timeout=timers.timeout * 2 + 2)
        await lab.wait_for(lambda: acd.ep.idle, timeout=timers.timeout * 10)
        _, _, qdoc = await lab.http("GET", "/queues")
        _, _, adoc = await lab.http("GET", "/agents")
        _, _, sdoc = await lab.http("GET", "/stats")
        expected = {str(5000 + i): ("loggedout" if i in logged_out else "idle") for i in range(agents)}
        actual = {a["id"]: a["state"] for a in adoc["agents"]}
        stats = {q: s for q, s in sdoc["queues"].items()}
        return {
            "calls": len(results),
            "answered_200": sum(1 for r in results if r["status"] == 200),
            "connected": sum(1 for r in results if r["connected"]),
            "ended_by_acd": sum(1 for r in results if r["ended_by"] == "acd"),
            "caller_hangups": sum(1 for r in results if r["ended_by"] == "caller"),
            "caller_lost_byes": sum(1 for r in results if r["ended_by"] == "lost"),
            "quiet": quiet,
            "stale_calls": sum(len(q["calls"]) for q in qdoc["queues"]),
            "agents_expected": expected,
            "agents_actual": actual,
            "leaks": acd.leaks(),
            "queue_stats": stats,
            "sip": dict(acd.ep.stats),
            "rna": sum(1 for ln in acd.qlog.lines if "|RINGNOANSWER|" in ln),
            "seconds": round(time.monotonic() - t0, 1),
        }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--calls", type=int, default=5000)
    ap.add_argument("--agents", type=int, default=20)
    ap.add_argument("--concurrency", type=int, default=100)
    args = ap.parse_args()
    out = asyncio.run(soak(args.calls, args.agents, args.concurrency))
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
