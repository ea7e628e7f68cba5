"""Small generic services: a static web server and a TCP echo, for port checks and NAT forwards."""
from __future__ import annotations

from .errors import ServiceError
from .service import Service


class HttpService(Service):
    """`python -m http.server` serving a directory (the topology's `root:`, else the run dir)."""

    kind = "http"

    @property
    def ports(self):  # type: ignore[override]
        return [("tcp", int(self.params.get("port", 80)))]

    def render(self) -> None:
        page = self.run_dir / "index.html"
        page.write_text(self.params.get("page", f"<h1>{self.node.name}</h1>\n"))

    def check(self) -> None:
        port = self.params.get("port", 80)
        if not isinstance(port, int) or not 0 < port < 65536:
            raise ServiceError(self, f"port '{port}' is not a TCP port number (fix: use 1-65535)")

    def start(self) -> None:
        self.spawn([self.python, "-m", "http.server", str(self.params.get("port", 80)),
                    "--bind", str(self.params.get("listen", "0.0.0.0")), "--directory", str(self.run_dir)])

    def listens_on_loopback(self) -> bool:
        return True


class TcpEchoService(HttpService):
    """A TCP echo server (`python -m labkit.lab.echo`), handy to test forwards and ACLs."""

    kind = "tcp-echo"

    @property
    def ports(self):  # type: ignore[override]
        return [("tcp", int(self.params.get("port", 7)))]

    def render(self) -> None:
        pass

    def start(self) -> None:
        self.spawn([self.python, "-m", "labkit.lab.echo", str(self.params.get("port", 7))])
