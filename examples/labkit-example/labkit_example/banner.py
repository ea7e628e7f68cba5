"""The banner service and check. The service is a real process inside its node,
started and stopped by labkit like any daemon; the check's socket is made inside the
source node's namespace, as every labkit check's is."""
from __future__ import annotations

import socket
import sys
from typing import Any

from labkit.lab.netns import open_socket
from labkit.lab.service import Service


class BannerService(Service):
    kind = "banner"

    @property
    def ports(self):  # type: ignore[override]
        return [("tcp", self.params["port"])]

    def listens_on_loopback(self) -> bool:
        return True

    def start(self) -> None:
        self.spawn([self.python, "-m", "labkit_example.banner", str(self.params["port"]), self.params["text"]])


def check(ctx: Any, p: dict[str, Any]) -> tuple[bool, str]:
    dst = ctx.address(p["to"])
    s = open_socket(socket.SOCK_STREAM, ctx.node(p["from"]).netns)
    s.settimeout(p["timeout"])
    try:
        s.connect((dst, p["port"]))
        line = s.makefile("rb").readline(200).decode(errors="replace").strip()
    except OSError as exc:
        return False, f"{dst}:{p['port']} {exc}"
    finally:
        s.close()
    return p["expect"] in line, f"{dst}:{p['port']} said {line!r}"


def serve(port: int, text: str) -> None:
    with socket.create_server(("0.0.0.0", port), reuse_port=True) as srv:
        while True:
            conn, _ = srv.accept()
            with conn:
                try:
                    conn.sendall(text.encode() + b"\n")
                except OSError:
                    pass


if __name__ == "__main__":
    serve(int(sys.argv[1]), sys.argv[2])
