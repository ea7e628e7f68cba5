"""A soak of the ACD: thousands of calls from callers and agents that do not all cooperate,
in one process on loopback with compressed SIP timers.  At the end nothing may be left: no
call, no leg, no offer, no transaction past its timers, and every agent idle or logged out
exactly as its phone left it.

The peers, each the way independent testing met it:

- callers that take the ACD's re-INVITE, refuse it (488, 501), ignore it, or never get one
  (no ``Allow``, like sipp's built-in uac: their media is relayed);
- callers that hang up in every state: while queued, while an agent rings, while the
  re-INVITE is pending, once connected, after a relay fallback, and before their ACK (never
  ACKing); some BYEs are lost, some have their tags swapped (sipp's abort BYE);
- agents whose phones answer late, refuse or ignore calls, lose BYEs, take or refuse the
  fallback re-INVITE; agents that log out and in meanwhile; phones that never NOTIFY (200 to
  the SUBSCRIBE, then silence) or never answer the SUBSCRIBE; phones that log in and vanish.

``python -m labkit.acd.soak --calls 5000`` prints the summary as JSON.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time

from labkit.digits import count_arg

from .harness import AcdLab
from .phone import random_policy
from .sip.transaction import Timers

SOAK_CONFIG = {
    "queues": [{"name": "sales"}, {"name": "support"}, {"name": "all", "strategy": "ringall"}],
    "ring_timeout": 0.15, "wrapup": 0.01, "autopause_after": 0, "probe_interval": 0.4,
    "login_hangup_delay": 0.02, "media": False, "digit_timeout": 0.2,
    # refreshed every second, so a phone that vanished is found even if no call reaches it
    "subscribe_expires": 2,
}
#: The callers: (Allow listed?, what they do with a re-INVITE), chosen per call.
CALLERS = [(True, "accept")] * 5 + [(True, "refuse"), (True, 501), (True, "ignore"), (False, "accept")]
#: Phones that do not play along: they never become available and must end up logged out.
MUTE = {"silent": "subscribe-silent", "ignore": "subscribe-ignored"}


async def soak(calls: int = 5000, agents: int = 20, concurrency: int = 100, seed: int = 7,
               timer_scale: float = 0.05, mute: int = 2, vanish: int = 2) -> dict:
    """``mute`` phones answer the ACD's SUBSCRIBE and never NOTIFY, ``mute`` more never answer
    it; ``vanish`` agents log in and their phones vanish during the run."""
    rng = random.Random(seed)
    cfg = dict(SOAK_CONFIG)
    queues = [q["name"] for q in cfg["queues"]]
    n_all = agents + 2 * mute
    cfg["agents"] = [{"id": str(5000 + i),
                      "memberof": rng.sample(queues, rng.randint(1, 3))} for i in range(n_all)]
    timers = Timers.scaled(timer_scale)
    t0 = time.monotonic()
    async with AcdLab(cfg, timers=timers) as lab:
        phones = []
        for i in range(agents):
            p = await lab.phone(f"a{i}", policy=random_policy(random.Random(seed + i), 0.08, 0.08, (0.0, 0.05)),
                                talk_time=rng.uniform(0.02, 0.08) if i % 4 else rng.uniform(0.5, 3.0),
                                reinvite="refuse" if i % 5 == 0 else "accept")
            p.bye_loss = 0.03
            phones.append(p)
        for i, p in enumerate(phones):
            await lab.login(p, str(5000 + i))
        mutes = []
        for j in range(2 * mute):            # log in, then never become available
            p = await lab.phone(f"m{j}", subscribe="silent" if j < mute else "ignore")
            await p.login(lab.sip, str(5000 + agents + j))
            mutes.append(p)
        gws = {(allow, kind): await lab.gateway(allow="INVITE, ACK, BYE, CANCEL" if allow else None,
                                                reinvite=kind)
               for allow, kind in sorted(set(CALLERS), key=str)}
        results: list[dict] = []
        sem = asyncio.Semaphore(concurrency)
        logged_out: set[int] = set()
        vanished: set[int] = set(range(1, 1 + vanish))      # a1, a2: gone half way through

        async def one(n: int) -> None:
            async with sem:
                allow, kind = rng.choice(CALLERS)
                r = rng.random()
                hold = rng.uniform(0.005, 0.15) if r < 0.3 else \
                    rng.uniform(0.5, 1.5) if r < 0.85 else rng.uniform(2.0, 4.0)
                how = rng.random()
                res = await gws[allow, kind].call(
                    lab.sip, rng.choice(queues), hold=hold, lose_bye=how < 0.03,
                    swap_tags=0.03 <= how < 0.06, ack=not 0.06 <= how < 0.08,
                    hangup_on_reinvite=0.08 <= how < 0.11 and kind != "accept")
                res["caller"] = str(kind) if allow else "no-allow"
                results.append(res)

        async def churn() -> None:
            """Agents log out and back in while calls flow: one toggle per 1% of the calls;
            half way through, the phones of ``vanish`` agents disappear without a word.

            Paced by calls completed, not by the clock, and drawn from a generator of its
            own, so a loaded machine sees the same churn as an idle one.
            """
            pick = random.Random(seed + 10_000)
            step = max(1, calls // 100)
            for mark in range(step, calls, step):
                await lab.wait_for(lambda: len(results) >= mark, timeout=600)
                if mark >= calls // 2:
                    for i in vanished:
                        if not phones[i].stopped:
                            await phones[i].stop()
                i = pick.randrange(agents)
                p = phones[i]
                if i in vanished:
                    continue
                if i in logged_out:
                    await p.login(lab.sip, str(5000 + i))
                    logged_out.discard(i)
                elif not p.busy:
                    await p.logout(lab.sip)
                    logged_out.add(i)

        churner = asyncio.ensure_future(churn())
        await asyncio.gather(*(one(n) for n in range(calls)))
        churner.cancel()
        if not logged_out - vanished:  # the end of a shift: one agent always leaves
            await lab.wait_for(lambda: not phones[0].busy, timeout=30)
            await phones[0].logout(lab.sip)
            logged_out.add(0)
        # let ring timeouts, wrap-ups, probes, Timer N and transaction timers run out
        acd = lab.acd
        quiet = await lab.wait_for(lambda: acd.leaks()["calls"] == 0 and not acd.offers,
                                   timeout=timers.timeout * 4 + 5)
        expected = {str(5000 + i): ("loggedout" if i in logged_out | vanished else "idle")
                    for i in range(agents)}
        expected.update({str(5000 + agents + j): "loggedout" for j in range(2 * mute)})
        settled = await lab.wait_for(
            lambda: {a.id: a.state for a in acd.agents.values()} == expected,
            timeout=timers.lifetime + 5)
        _, _, qdoc = await lab.http("GET", "/queues")
        _, _, adoc = await lab.http("GET", "/agents")
        _, _, sdoc = await lab.http("GET", "/stats")
        actual = {a["id"]: a["state"] for a in adoc["agents"]}
        overdue = acd.ep.overdue()
        # the end of the shift: everyone logs out, and then not one transaction is left
        for i, p in enumerate(phones):
            if i not in logged_out | vanished:
                await p.logout(lab.sip)
        idle = await lab.wait_for(lambda: acd.ep.idle and not acd.subs, timeout=timers.lifetime + 5)
        by_caller: dict[str, int] = {}
        for r in results:
            by_caller[r["caller"]] = by_caller.get(r["caller"], 0) + 1
        return {
            "calls": len(results),
            "answered_200": sum(1 for r in results if r["status"] == 200),
            "connected": sum(1 for r in results if r["connected"]),
            "ended_by_acd": sum(1 for r in results if r["ended_by"] == "acd"),
            "caller_hangups": sum(1 for r in results if r["ended_by"] == "caller"),
            "caller_lost_byes": sum(1 for r in results if r["ended_by"] == "lost"),
            "caller_no_ack": sum(1 for r in results if r["ended_by"] == "no-ack"),
            "callers": by_caller,
            "quiet": quiet,
            "settled": settled,
            "stale_calls": sum(len(q["calls"]) for q in qdoc["queues"]),
            "agents_expected": expected,
            "agents_actual": actual,
            "overdue_txns": overdue,
            "idle_at_end": idle,
            "leaks": acd.leaks(),
            "counters": dict(acd.counters),
            "logouts": dict(acd.logouts),
            "queue_stats": dict(sdoc["queues"]),
            "sip": dict(acd.ep.stats),
            "rna": acd.qlog.counts["RINGNOANSWER"],
            "fallbacks": acd.qlog.counts["RELAYFALLBACK"],
            "seconds": round(time.monotonic() - t0, 1),
        }


def verdict(out: dict) -> list[str]:
    """What went wrong in a soak, in words (empty: nothing stale, nothing leaked)."""
    bad = []
    if out["answered_200"] != out["calls"]:
        bad.append(f"{out['calls'] - out['answered_200']} callers not answered 200")
    if not out["quiet"] or out["stale_calls"]:
        bad.append(f"{out['stale_calls']} calls still queued")
    if out["agents_actual"] != out["agents_expected"]:
        bad.append("agents not as their phones left them: " + ", ".join(
            f"{k} {v} (want {out['agents_expected'][k]})" for k, v in out["agents_actual"].items()
            if v != out["agents_expected"][k]))
    if out["overdue_txns"]:
        bad.append(f"{out['overdue_txns']} transactions past their timers")
    if not out["idle_at_end"] or any(out["leaks"].values()):
        bad.append(f"left behind: {out['leaks']}")
    if out["sip"]["handler_errors"]:
        bad.append(f"{out['sip']['handler_errors']} handler errors")
    return bad


def main() -> int:
    ap = argparse.ArgumentParser(prog="python -m labkit.acd.soak", description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=count_arg, default=5000, help="calls to place (default 5000)")
    ap.add_argument("--agents", type=count_arg, default=20, help="agents with cooperative phones")
    ap.add_argument("--concurrency", type=count_arg, default=100, help="calls up at once, at most")
    ap.add_argument("--seed", type=int, default=7, help="the random mix (same seed, same mix)")
    args = ap.parse_args()
    if args.agents < 3:
        ap.error("--agents: at least 3 (two of them vanish half way through)")
    out = asyncio.run(soak(args.calls, args.agents, args.concurrency, args.seed))
    out["problems"] = verdict(out)
    print(json.dumps(out, indent=1))
    print("soak: " + ("nothing stale, nothing left" if not out["problems"]
                      else "PROBLEMS: " + "; ".join(out["problems"])), file=sys.stderr)
    return 1 if out["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
