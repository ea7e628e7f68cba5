"""A host interface that leases its address from the lab's DHCP server (busybox udhcpc).

udhcpc runs in the foreground inside the host, so its PID is recorded and stopped like
any daemon. Its event script applies the lease with `ip` and writes the offered DNS
server into the node's own resolv.conf (/etc/netns/NS/resolv.conf, never the machine's).
"""
from __future__ import annotations

import shlex

from .errors import ServiceError
from .service import Service

SCRIPT = """#!/bin/sh
# udhcpc event script written by labkit: apply the lease inside this node only.
case "$1" in
  deconfig)
    ip addr flush dev "$interface"
    ip link set dev "$interface" up
    ;;
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/${{mask:-24}}" dev "$interface"
    if [ -n "$router" ]; then ip route replace default via "${{router%% *}}" dev "$interface"; fi
    {{ echo "# leased by labkit udhcpc on $interface"; for d in $dns; do echo "nameserver $d"; done; }} > {resolv}
    {{ echo "ip=$ip"; echo "mask=$mask"; echo "router=$router"; echo "dns=$dns"; echo "lease=$lease"; echo "serverid=$serverid"; }} > {lease}.tmp
    mv {lease}.tmp {lease}
    ;;
  leasefail|nak)
    echo "labkit: no lease ($1)" >&2
    ;;
esac
exit 0
"""


class DhcpClientService(Service):
    kind = "dhcp-client"
    order = 90  # after the routers and switches whose DHCP servers it needs
    ready_timeout = 25.0

    @property
    def interface(self) -> str:
        return str(self.params.get("interface", "eth0"))

    @property
    def lease_file(self):
        return self.run_dir / "lease.env"

    def render(self) -> None:
        resolv = f"/etc/netns/{self.node.netns}/resolv.conf"
        script = self.run_dir / "udhcpc.script"
        script.write_text(SCRIPT.format(resolv=shlex.quote(resolv), lease=shlex.quote(str(self.lease_file))))
        script.chmod(0o755)
        self.lease_file.unlink(missing_ok=True)

    def check(self) -> None:
        self.run_checked(["sh", "-n", str(self.run_dir / "udhcpc.script")])

    def start(self) -> None:
        # -f foreground, -t/-T/-A: retry every second; -x hostname lets dnsmasq show the host
        self.spawn(["udhcpc", "-f", "-i", self.interface, "-s", str(self.run_dir / "udhcpc.script"),
                    "-t", "20", "-T", "1", "-A", "1", "-x", f"hostname:{self.node.name}"])

    def ready(self) -> bool:
        return self.lease_file.exists()

    def lease(self) -> dict[str, str]:
        """The lease as udhcpc reported it: ip, mask, router, dns, lease, serverid."""
        if not self.lease_file.exists():
            raise ServiceError(self, "has no lease yet")
        return dict(line.split("=", 1) for line in self.lease_file.read_text().splitlines() if "=" in line)
