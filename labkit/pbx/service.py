"""The lab's ``pbx`` service: Kamailio playing the seed's Asterisk.

Topology use (see topologies/acd/pbx-lab.yaml)::

    services:
      - {type: pbx, sip_conf: sip.conf, extensions: extensions.conf}

Lifecycle, like every daemon's: render ``kamailio.cfg`` (labkit.pbx.kamailio, from the
dial plan labkit.pbx.dialplan read) and its SQLite files (the subscriber table among them) into
the run directory; dry-run it with ``kamailio -c -f`` (a failure stops bring-up with Kamailio's
own message); start ``kamailio -DD -E`` in the foreground inside the node (its workers
stay in its process group, so stopping the recorded PID's group stops them all, even
after the main process was killed); ready once an OPTIONS sent inside the node gets an
answer.
"""
from __future__ import annotations

import re
import socket
import subprocess
import uuid
from pathlib import Path

from labkit.diag import Diagnostic, error, printable
from labkit.lab.errors import ServiceError
from labkit.lab.netns import open_socket
from labkit.lab.service import Service

from . import dialplan, kamailio

KAMAILIO = "kamailio"


def options_request(addr: str, port: int, src: tuple[str, int]) -> bytes:
    """An OPTIONS to the PBX itself (no user part), from `src`."""
    branch, tag = "z9hG4bK" + uuid.uuid4().hex[:16], uuid.uuid4().hex[:8]
    return (f"OPTIONS sip:{addr}:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {src[0]}:{src[1]};branch={branch}\r\n"
            "Max-Forwards: 70\r\n"
            f"From: <sip:probe@{src[0]}>;tag={tag}\r\n"
            f"To: <sip:{addr}:{port}>\r\n"
            f"Call-ID: {uuid.uuid4().hex}@labkit-probe\r\n"
            "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n").encode()


class PbxService(Service):
    """Kamailio with the topology's sip.conf and extensions.conf, on UDP ``port``."""

    kind = "pbx"
    order = 40            # before the ACD and the phones, which register with it

    @property
    def port(self) -> int:
        return int(self.params.get("port", 5060))

    @property
    def ports(self):  # type: ignore[override]
        return [("udp", self.port)]

    @property
    def cfg_path(self) -> Path:
        return self.run_dir / "kamailio.cfg"

    @property
    def ctl_socket(self) -> Path:
        return self.run_dir / kamailio.CTL_SOCKET

    def plan(self) -> dialplan.Dialplan:
        try:
            return dialplan.load(self.config_path("sip_conf"), self.config_path("extensions"))
        except dialplan.DialplanError as exc:
            first, more = exc.headline()
            raise ServiceError(self, str(first) + more) from None

    def render(self) -> None:
        plan = self.plan()
        addr = self.address() or "127.0.0.1"
        source = f"{self.config_path('sip_conf').name} and {self.config_path('extensions').name}"
        self.cfg_path.write_text(kamailio.render(plan, addr, self.port, self.run_dir, source))
        kamailio.make_db(plan, self.run_dir, addr)

    def check(self) -> None:
        """``kamailio -c``; on failure, Kamailio's own parse error first in the message."""
        p = subprocess.run([KAMAILIO, "-c", "-f", str(self.cfg_path)], capture_output=True, text=True)
        if p.returncode != 0:
            out = p.stdout + p.stderr
            found = re.search(r"(parse error in config file .*|ERROR: .*)", out)
            raise ServiceError(self, "kamailio -c: " + printable(found.group(1) if found else
                                                                  f"exit {p.returncode}", 300), out)

    def start(self) -> None:
        self.spawn([KAMAILIO, "-DD", "-E", "-f", str(self.cfg_path), "-Y", str(self.run_dir)])

    def ready(self) -> bool:
        return self.options_answered()

    def options_answered(self, timeout: float = 0.3) -> bool:
        """True when an OPTIONS sent from inside the node gets a SIP response."""
        addr = self.address() or "127.0.0.1"
        s = open_socket(socket.SOCK_DGRAM, self.node.netns)
        try:
            s.settimeout(timeout)
            s.bind((addr, 0))
            s.sendto(options_request(addr, self.port, s.getsockname()), (addr, self.port))
            data = s.recv(4096)
            return data.startswith(b"SIP/2.0 ")
        except OSError:
            return False
        finally:
            s.close()

    def listens_on_loopback(self) -> bool:
        return False

    # -- what notebooks and tests read ----------------------------------------------
    def kamcmd(self, *command: str) -> str:
        """A Kamailio RPC over its control socket (e.g. ``ul.dump``), as kamcmd prints it."""
        try:
            return kamailio.kamcmd(self.ctl_socket, *command)
        except RuntimeError as exc:
            raise ServiceError(self, str(exc)) from None

    def registrations(self) -> dict[str, list[str]]:
        """AOR -> contacts, from Kamailio's own location table (``kamcmd ul.dump``)."""
        return kamailio.registrations(self.kamcmd("ul.dump"))

    @classmethod
    def lint(cls, spec) -> list[Diagnostic]:
        """`labkit lint`: the dial plan's errors and warnings (the seed's caution about `_.`)."""
        sip_conf, ext = spec.params.get("sip_conf"), spec.params.get("extensions")
        if not isinstance(sip_conf, Path) or not isinstance(ext, Path):
            return [error(spec.where, "pbx service needs 'sip_conf: FILE' and 'extensions: FILE'",
                          "name the Asterisk sip.conf and extensions.conf the PBX translates")]
        return dialplan.lint(sip_conf, ext)
