"""Remote mail hosts (gmail.com, yahoo.com in the lab): an SMTP sink that keeps everything.

Each accepted message is stored once per envelope recipient in a Maildir
`STORE/<recipient>/`, with Return-Path and Delivered-To prepended, so a test reads it
back with the stdlib `mailbox` module exactly like a mailbox Postfix delivered to. The
message is written (Maildir's tmp -> new rename) before "250" is sent, so nothing that
the sender considers delivered is lost. Malformed commands get aiosmtpd's 5xx replies and
never stop the server.

    python -m labkit.mail.sink --listen 0.0.0.0:25 --store DIR [--hostname mx.gmail.com]

The first line on stdout is `listening on HOST:PORT` (useful with port 0).
"""
from __future__ import annotations

import argparse
import asyncio
import mailbox
import signal
from pathlib import Path

from aiosmtpd.smtp import SMTP, Envelope, Session


def _safe_dir(rcpt: str) -> str:
    r = rcpt.strip().strip("<>").lower()
    if not r or "/" in r or r.startswith(".") or "\0" in r:
        raise ValueError(rcpt)
    return r


class MaildirHandler:
    """aiosmtpd handler: one Maildir per recipient under `store`."""

    def __init__(self, store: Path):
        self.store = Path(store)
        self.store.mkdir(parents=True, exist_ok=True)
        self.count = 0
        self.boxes: dict[str, mailbox.Maildir] = {}

    def box(self, rcpt: str) -> mailbox.Maildir:
        name = _safe_dir(rcpt)
        if name not in self.boxes:
            self.boxes[name] = mailbox.Maildir(self.store / name, create=True)
        return self.boxes[name]

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        try:
            _safe_dir(address)
        except ValueError:
            return "553 5.1.3 recipient not storable here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        sender = envelope.mail_from or ""
        for rcpt in envelope.rcpt_tos:
            head = f"Return-Path: <{sender}>\r\nDelivered-To: {rcpt}\r\n".encode()
            self.box(rcpt).add(head + data)
        self.count += 1
        return "250 2.0.0 Ok: stored"


def parse_listen(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise SystemExit(f"--listen {text!r}: expected HOST:PORT, e.g. 0.0.0.0:25")
    return host.strip("[]"), int(port)


async def serve(host: str, port: int, store: Path, hostname: str) -> None:
    handler = MaildirHandler(store)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname=hostname, enable_SMTPUTF8=True,
                     data_size_limit=50 * 1024 * 1024),
        host=host, port=port)
    addr = server.sockets[0].getsockname()
    print(f"listening on {addr[0]}:{addr[1]}", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()
    await server.wait_closed()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m labkit.mail.sink", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--listen", required=True, help="HOST:PORT to listen on")
    ap.add_argument("--store", required=True, type=Path, help="directory of Maildirs")
    ap.add_argument("--hostname", default="mx.sink.example",
                    help="name in the greeting; must differ from the Postfix myhostname, "
                         "or Postfix reports a mail loop")
    a = ap.parse_args(argv)
    host, port = parse_listen(a.listen)
    asyncio.run(serve(host, port, a.store, a.hostname))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
