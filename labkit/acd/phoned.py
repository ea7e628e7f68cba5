"""A labkit agent phone as a daemon: ``python -m labkit.acd.phoned --listen ADDR:PORT
(--acd ADDR:PORT | --pbx ADDR:PORT [--user USER] [--secret-file FILE]) [--agent ID]
[--policy answer|refuse|ignore] [--talk SECONDS] [--media]``.

Directly (``--acd``) it logs in (INFO DTMF) once the ACD answers, answers the ACD's SUBSCRIBE
with dialog-info NOTIFYs, and handles calls by policy until SIGTERM, when it logs out.

Through a PBX (``--pbx``) it first registers ``sip:USER@PBX`` (digest with the password read
from ``--secret-file``: a file, so the password is not on a command line; refreshed at half the
grant), then logs in by calling ``sip:*44@PBX`` and keying the agent id as INFO digits, answers
the calls the PBX routes to it (Record-Route honoured), and at SIGTERM calls ``sip:*45@PBX`` and
un-registers.
"""
from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

from .phone import LOGIN_CODE, LOGOUT_CODE, AgentPhone


def _addr(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise SystemExit(f"{text!r}: expected ADDR:PORT")
    return host, int(port)


async def _waiting(stop: asyncio.Event, seconds: float) -> bool:
    """Wait ``seconds`` unless ``stop`` comes first; True when it did."""
    try:
        await asyncio.wait_for(stop.wait(), seconds)
        return True
    except asyncio.TimeoutError:
        return False


async def run(args: argparse.Namespace) -> None:
    host, port = _addr(args.listen)
    pbx = _addr(args.pbx) if args.pbx else None
    target = pbx or _addr(args.acd)
    secret = Path(args.secret_file).read_text().strip() if args.secret_file else ""
    phone = await AgentPhone(args.user or args.name, policy=args.policy, talk_time=args.talk,
                             host=host, port=port, media=args.media, pbx=pbx, secret=secret).start()
    codes = {"login_user": LOGIN_CODE} if pbx else {}
    print(f"labkit phone {phone.contact} (policy {args.policy})", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if pbx:
        reg = phone.register(args.expires)
        while not reg.registered and not await _waiting(stop, 0.5):
            pass
        if reg.registered:
            print(f"registered {reg.aor} at the PBX {args.pbx}", flush=True)
    if args.agent and not stop.is_set():
        for attempt in range(20):          # the ACD may still be starting
            if await phone.login(target, args.agent, **codes):
                print(f"keyed agent id {args.agent} into the ACD at {args.pbx or args.acd}", flush=True)
                break
            if await _waiting(stop, 1.0):
                break
    await stop.wait()
    if args.agent:
        codes = {"logout_user": LOGOUT_CODE} if pbx else {}
        try:
            await asyncio.wait_for(phone.logout(target, **codes), 2.0)
        except asyncio.TimeoutError:
            pass
    await phone.unregister()
    await phone.stop()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m labkit.acd.phoned", description=__doc__)
    p.add_argument("--listen", required=True)
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--acd", help="ADDR:PORT of the ACD (no PBX)")
    where.add_argument("--pbx", help="ADDR:PORT of the PBX to register with and call through")
    p.add_argument("--name", default="phone")
    p.add_argument("--user", default="", help="SIP user on the PBX (default: --name)")
    p.add_argument("--secret-file", default="", help="file holding the password on the PBX")
    p.add_argument("--expires", type=int, default=300, help="registration expiry asked for (s)")
    p.add_argument("--agent", default="")
    p.add_argument("--policy", default="answer", choices=["answer", "refuse", "ignore"])
    p.add_argument("--talk", type=float, default=None, help="hang up answered calls after this")
    p.add_argument("--media", action="store_true", help="send a tone as PCMU RTP in each call")
    asyncio.run(run(p.parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
