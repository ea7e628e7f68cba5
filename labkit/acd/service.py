"""Lab services: ``acd`` (the ACD daemon) and ``sipphone`` (a labkit agent phone).

Topology use (see topologies/acd/lab.yaml)::

    services:
      - {type: acd, config: acd/acd.yaml, sip_port: 5060, http_port: 242}
      - {type: sipphone, acd: 192.168.2.10:5060, agent: "2771", policy: answer, talk: 5}

With a PBX in front (PBX mode, labkit.acd.pbx_client)::

      - {type: acd, config: acd/acd.yaml, pbx: "192.168.2.5:5060"}     # pbx_secret in acd.yaml
      - {type: sipphone, pbx: "192.168.2.5:5060", user: phone1, secret: "...", agent: "2771"}

Both run in the foreground inside their node (``python -m labkit.acd.serve`` /
``python -m labkit.acd.phoned``), so the engine's recorded PID is the daemon.
"""
from __future__ import annotations

import os

from labkit.lab.errors import ServiceError
from labkit.lab.service import Service

from .core import ConfigError
from .daemon import AcdDaemon, parse_addr


def _port(svc: Service, key: str, default: int) -> int:
    value = svc.params.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 65536:
        raise ServiceError(svc, f"{key} '{value}' is not a port number (fix: use 1-65535)")
    return value


class AcdService(Service):
    """The seed's ACD: SIP on UDP ``sip_port`` of the node's address, REST on TCP ``http_port``."""

    kind = "acd"

    def daemon(self) -> AcdDaemon:
        """This service's ACD: the node's address for SIP, every address for REST."""
        return AcdDaemon(config=self.config_path("config"),
                         sip=(self.address() or "127.0.0.1", _port(self, "sip_port", 5060)),
                         http=("0.0.0.0", _port(self, "http_port", 242)),
                         queue_log=self.run_dir / "queue_log",
                         media=self.params.get("media") is not False, python=self.python,
                         timer_scale=float(self.params.get("timer_scale", 1.0)),
                         pbx=parse_addr(self.params["pbx"], "pbx") if self.params.get("pbx") else None)

    @property
    def ports(self):  # type: ignore[override]
        return self.daemon().ports

    def check(self) -> None:
        try:
            self.daemon().load()
        except ConfigError as exc:
            raise ServiceError(self, str(exc)) from None

    def start(self) -> None:
        self.spawn(self.daemon().argv())

    def listens_on_loopback(self) -> bool:
        return False


class PhoneService(Service):
    """A labkit agent phone that logs in (INFO digits) and answers the ACD's calls."""

    kind = "sipphone"
    order = 60            # after the ACD

    @property
    def ports(self):  # type: ignore[override]
        return [("udp", _port(self, "port", 5060))]

    @property
    def secret_file(self):
        return self.run_dir / "sip-secret"

    def render(self) -> None:
        """The PBX password goes to a file only this node's phone reads, not on its command line."""
        if self.params.get("secret"):
            fd = os.open(self.secret_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(str(self.params["secret"]) + "\n")

    def check(self) -> None:
        if self.params.get("pbx"):
            if not self.params.get("secret"):
                raise ServiceError(self, "pbx is set but secret is not (fix: secret: the phone's "
                                         "password on the PBX)")
        else:
            acd = str(self.params.get("acd", ""))
            host, _, port = acd.rpartition(":")
            if not host or not port.isdigit():
                raise ServiceError(self, f"acd '{acd}' must be ADDR:PORT of the ACD, or give pbx "
                                         "(fix: acd: 192.168.2.10:5060, or pbx: 192.168.2.5:5060)")
        policy = self.params.get("policy", "answer")
        if policy not in ("answer", "refuse", "ignore"):
            raise ServiceError(self, f"policy '{policy}' unknown (fix: answer, refuse or ignore)")
        agent = self.params.get("agent")
        if agent is not None and not str(agent).isdigit():
            raise ServiceError(self, f"agent '{agent}' must be the digits of an agent id")

    def start(self) -> None:
        addr = self.address() or "127.0.0.1"
        argv = [self.python, "-m", "labkit.acd.phoned", "--listen", f"{addr}:{_port(self, 'port', 5060)}",
                "--name", str(self.params.get("name", self.node.name)),
                "--policy", str(self.params.get("policy", "answer"))]
        if self.params.get("pbx"):
            argv += ["--pbx", str(self.params["pbx"]), "--user", str(self.params.get("user") or self.node.name)]
            if self.params.get("secret"):
                argv += ["--secret-file", str(self.secret_file)]
        else:
            argv += ["--acd", str(self.params["acd"])]
        if self.params.get("agent") is not None:
            argv += ["--agent", str(self.params["agent"])]
        if self.params.get("talk") is not None:
            argv += ["--talk", str(self.params["talk"])]
        if self.params.get("media"):
            argv.append("--media")
        self.spawn(argv)

    def listens_on_loopback(self) -> bool:
        return False
