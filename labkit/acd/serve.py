"""Run the ACD: ``python -m labkit.acd.serve --config topologies/acd/acd.yaml --sip 127.0.0.1:5060
--http 127.0.0.1:8242``.

Runs in the foreground (the lab engine records its PID); SIGTERM/SIGINT stop it cleanly.
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import signal
import sys
import time

from .core import ConfigError
from .daemon import AcdDaemon


async def run(args: argparse.Namespace) -> None:
    daemon = AcdDaemon.from_args(args)
    acd, api = daemon.build()        # ConfigError (one line) before anything listens
    try:
        await daemon.start(acd, api)
    except OSError as exc:       # the port is taken, the address is not this host's, ...
        await api.stop()
        await acd.stop()
        raise ConfigError(f"cannot listen on SIP udp {args.sip} / REST tcp {args.http}: "
                          f"{exc.strerror or exc}") from None
    http_host = daemon.http[0]
    # Everything built so far (modules, config, prompts) lives as long as the process: freeze it
    # out of the collector, or each full collection scans it (an 89 ms pause measured under
    # 300 calls/s, which is what REST p99 then shows).
    gc.collect()
    gc.freeze()
    # RFC 3261 keeps every transaction 64*T1 (32 s): at 300 calls/s that is ~10^5 live objects,
    # and each full collection walks them.  Collect less often (measured: REST p99 follows).
    gc.set_threshold(5_000, 40, 40)
    print(f"labkit ACD: SIP udp {acd.ep.host}:{acd.ep.port}, REST http://{http_host}:{api.port}, "
          f"{len(acd.queues)} queues, {len(acd.agents)} agents"
          + (f", PBX {acd.pbx[0]}:{acd.pbx[1]}" if acd.pbx else ""), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    lag: list[float] = []

    async def lag_monitor() -> None:
        """How late the event loop wakes (a 5 ms sleep): the ACD's own latency floor."""
        while True:
            t = loop.time()
            await asyncio.sleep(0.005)
            lag.append((loop.time() - t - 0.005) * 1000)
    monitor = asyncio.ensure_future(lag_monitor()) if args.lag_stats else None
    gc_pause = {0: 0.0, 1: 0.0, 2: 0.0}
    gc_t0 = [0.0]

    def gc_timer(phase: str, info: dict) -> None:
        if phase == "start":
            gc_t0[0] = time.perf_counter()
        else:
            g = info["generation"]
            gc_pause[g] = max(gc_pause[g], (time.perf_counter() - gc_t0[0]) * 1000)
    if args.lag_stats:
        gc.callbacks.append(gc_timer)
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    if monitor is not None:
        monitor.cancel()
        lag.sort()
        n = len(lag)
        if n:
            print(f"loop lag ms: p50 {lag[n // 2]:.1f} p99 {lag[int(n * .99)]:.1f} "
                  f"p99.9 {lag[int(n * .999)]:.1f} max {lag[-1]:.1f} ({n} samples); "
                  f"longest gc pause per generation ms: "
                  f"{ {g: round(v, 1) for g, v in gc_pause.items()} }", flush=True)
    await api.stop()
    await acd.stop()


def _scale(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.001 <= value <= 10:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number from 0.001 to 10")
    return value


def parser() -> argparse.ArgumentParser:
    """The daemon's options; AcdDaemon.argv() writes them, AcdDaemon.from_args() reads them."""
    p = argparse.ArgumentParser(prog="python -m labkit.acd.serve", description=__doc__)
    p.add_argument("--config", required=True, help="ACD YAML (queues, agents)")
    p.add_argument("--sip", default="127.0.0.1:5060", help="UDP ADDR:PORT for SIP")
    p.add_argument("--http", default="127.0.0.1:8242", help="TCP ADDR:PORT for the REST API")
    p.add_argument("--no-media", action="store_true", help="no RTP (signalling-only runs)")
    p.add_argument("--queue-log", default="", help="append queue_log lines to this file")
    p.add_argument("--timer-scale", type=_scale, default=1.0,
                   help="scale SIP T1/T2/T4, from 0.001 to 10 (tests run them faster)")
    p.add_argument("--lag-stats", action="store_true", help="print event-loop lag percentiles at exit")
    p.add_argument("--pbx", default="", help="PBX mode: UDP ADDR:PORT of the PBX to register with "
                                             "(pbx_user/pbx_secret from the config)")
    p.add_argument("-v", "--verbose", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        asyncio.run(run(args))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
