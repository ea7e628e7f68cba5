"""A labkit agent phone as a daemon: ``python -m labkit.acd.phoned --listen ADDR:PORT
--acd ADDR:PORT [--agent ID] [--policy answer|refuse|ignore] [--talk SECONDS] [--media]``.

It logs in (INFO DTMF) once the ACD answers, answers the ACD's SUBSCRIBE with dialog-info
NOTIFYs, and handles calls by policy until SIGTERM, when it logs out.
"""
from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from .phone import AgentPhone


def _addr(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise SystemExit(f"{text!r}: expected ADDR:PORT")
    return host, int(port)


async def run(args: argparse.Namespace) -> None:
    host, port = _addr(args.listen)
    acd = _addr(args.acd)
    phone = await AgentPhone(args.name, policy=args.policy, talk_time=args.talk,
                             host=host, port=port, media=args.media).start()
    print(f"labkit phone {phone.contact} (policy {args.policy})", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if args.agent:
        for attempt in range(20):          # the ACD may still be starting
            if await phone.login(acd, args.agent):
                print(f"keyed agent id {args.agent} into the ACD at {args.acd}", flush=True)
                break
            try:
                await asyncio.wait_for(stop.wait(), 1.0)
                break
            except asyncio.TimeoutError:
                continue
    await stop.wait()
    if args.agent:
        try:
            await asyncio.wait_for(phone.logout(acd), 2.0)
        except asyncio.TimeoutError:
            pass
    await phone.stop()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m labkit.acd.phoned", description=__doc__)
    p.add_argument("--listen", required=True)
    p.add_argument("--acd", required=True)
    p.add_argument("--name", default="phone")
    p.add_argument("--agent", default="")
    p.add_argument("--policy", default="answer", choices=["answer", "refuse", "ignore"])
    p.add_argument("--talk", type=float, default=None, help="hang up answered calls after this")
    p.add_argument("--media", action="store_true", help="send a tone as PCMU RTP in each call")
    asyncio.run(run(p.parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
