"""Model -> Mininet: namespaces, veth links, per-VLAN bridges, addresses, routes.

Switching choice (figures in docs/machine.md, measured on these machines): a Linux
bridge forwards at ~7.6 Gbit/s against ~1.7 Gbit/s for OVS's userspace datapath,
and this kernel has neither 802.1Q sub-interfaces nor bridge VLAN filtering.
So every access VLAN is a Linux bridge named ``vlanN`` *inside the switch's own
namespace*; an SVI is that bridge's address, exactly as a 3550 treats its SVI as
the VLAN's interface. Nothing of a lab lives in the root namespace, which is also
what keeps lab traffic in the lab. Trunk ports (tagged frames) need OVS and are
refused with a clear message.

Mininet builds the nodes and links: each node is a Mininet `Node` whose shell
runs in a *named* namespace (so the lab outlives this process), and each link is
a Mininet `Link` (a veth pair created straight into the two namespaces).
"""
from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from mininet.link import Link as MnLink
from mininet.node import Node as MnNode

from . import netns
from .errors import TopologyError
from .model import Node, Topology
from .node import LabNode
from .state import LabState

NETNS_ETC = Path("/etc/netns")


class NamedNsNode(MnNode):
    """A Mininet node whose shell enters a named namespace instead of unsharing a new one."""

    def __init__(self, name: str, netns_name: str, **params):
        self.netns_name = netns_name
        super().__init__(name, inNamespace=True, **params)

    def _popen(self, cmd, **params):
        if cmd and cmd[0] == "mnexec" and "n" in cmd[1]:
            cmd = ["ip", "netns", "exec", self.netns_name, "mnexec", cmd[1].replace("n", ""), *cmd[2:]]
        return super()._popen(cmd, **params)

    def mountPrivateDirs(self) -> None:  # labkit nodes share the filesystem; run dirs are per node
        pass

    def unmountPrivateDirs(self) -> None:
        pass


def mac_for(instance: str, node: str, intf: str) -> str:
    """A stable, locally administered MAC, so captures and ARP tables repeat run to run."""
    h = hashlib.sha1(f"{instance}/{node}/{intf}".encode()).digest()
    return "02:" + ":".join(f"{b:02x}" for b in h[:5])


def check_buildable(topo: Topology) -> None:
    """Refuse what this kernel cannot build, before anything is created."""
    for node in topo.nodes.values():
        for intf in node.interfaces.values():
            if intf.trunk is not None:
                raise TopologyError(intf.where or node.where,
                                    f"{node.name}:{intf.name} is a trunk; this kernel has no 802.1Q "
                                    "sub-interfaces or bridge VLAN filtering, so tagged trunks are not built",
                                    "use access ports (one link per VLAN) between switches")


class Builder:
    def __init__(self, topo: Topology, instance: str, state: LabState, nodes: dict[str, LabNode]):
        self.topo = topo
        self.instance = instance
        self.state = state
        self.nodes = nodes
        self.mn: dict[str, NamedNsNode] = {}
        self.step = 0

    def build(self) -> None:
        check_buildable(self.topo)
        state = self.state
        if not NETNS_ETC.exists():
            state.add("dirs", str(NETNS_ETC))
        names = [self.nodes[n].netns for n in self.topo.nodes]
        state.netns += names                      # recorded before they exist (write-ahead)
        state.files += [str(NETNS_ETC / ns) for ns in names]
        state.save()
        netns.add_many(names, lambda pid: state.add_proc(pid, "netns-add/tool"))
        for node in self.topo.nodes.values():
            etc = NETNS_ETC / self.nodes[node.name].netns
            etc.mkdir(parents=True, exist_ok=True)
            # Processes in the node read this resolv.conf (ip netns exec bind-mounts it):
            # nothing in a lab may ask the machine's real resolver. `dns:` in the topology
            # names the node's servers; a DHCP host rewrites it from its lease.
            servers = [str(a) for a in node.dns] or ["127.0.0.1"]
            (etc / "resolv.conf").write_text("# labkit: lab node resolver\n"
                                             + "".join(f"nameserver {a}\n" for a in servers))
        # Each node's shell starts and waits for its prompt: start them side by side.
        with ThreadPoolExecutor(max_workers=8) as pool:
            shells = pool.map(lambda n: NamedNsNode(n.name, self.nodes[n.name].netns),
                              self.topo.nodes.values())
            for node, mn in zip(self.topo.nodes.values(), shells):
                state.add_proc(mn.pid, f"{node.name}/shell")
                self.mn[node.name] = mn
        self.parallel({n.name: self.sysctl_script(n) for n in self.topo.nodes.values()})
        for link in self.topo.links:
            a, b = link.a, link.b
            MnLink(self.mn[a.node], self.mn[b.node], intfName1=a.intf, intfName2=b.intf,
                   addr1=mac_for(self.instance, a.node, a.intf),
                   addr2=mac_for(self.instance, b.node, b.intf))
        self.parallel({n.name: self.config_script(n) for n in self.topo.nodes.values()})

    def parallel(self, scripts: dict[str, str]) -> None:
        """Run one shell script per node, all nodes at once; fail with the node's output."""
        for name, script in scripts.items():
            path = self.nodes[name].run_dir / f"build-{self.step}.sh"
            path.write_text(script + "\n")
            self.mn[name].sendCmd(f"sh {path} 2>&1; echo __rc=$?")
        self.step += 1
        errors = []
        for name in scripts:
            out = self.mn[name].waitOutput()
            if "__rc=0" not in out:
                errors.append(f"{name}: {out.strip()}")
        if errors:
            raise TopologyError(None, "configuring nodes failed:\n" + "\n".join(errors),
                                "check the addresses and routes named above")

    @staticmethod
    def sysctl_script(node: Node) -> str:
        """Shell builtins writing /proc/sys of the node's namespace: no process per setting."""
        settings = {"ipv6/conf/all/disable_ipv6": 1, "ipv6/conf/default/disable_ipv6": 1,
                    "ipv4/ip_forward": 1 if node.forwards else 0,
                    "ipv4/conf/all/rp_filter": 0, "ipv4/conf/default/rp_filter": 0}
        return "\n".join(f"echo {v} > /proc/sys/net/{k}" for k, v in settings.items())

    def config_script(self, node: Node) -> str:
        """Bridges, addresses, routes (one `ip -batch`) and offload settings for one node."""
        lines = ["link set dev lo up"]
        vlans = sorted({i.vlan for i in node.interfaces.values()
                        if i.vlan is not None and self.topo.link_of(node.name, i.name)} | set(node.svis))
        for vid in vlans:
            lines += [f"link add vlan{vid} type bridge forward_delay 0",
                      f"link set dev vlan{vid} address {mac_for(self.instance, node.name, f'vlan{vid}')}",
                      f"link set dev vlan{vid} up"]
        l3 = not node.managed_by  # e.g. an IOS node gets its addresses and routes from its ios service
        for vid, addrs in node.svis.items():
            lines += [f"addr add {a} dev vlan{vid}" for a in addrs if l3]
        linked = [i for i in node.interfaces.values() if self.topo.link_of(node.name, i.name)]
        for intf in linked:
            if intf.vlan is not None:
                lines.append(f"link set dev {intf.name} master vlan{intf.vlan}")
            lines += [f"addr add {a} dev {intf.name}" for a in intf.addresses if l3]
            lines.append(f"link set dev {intf.name} {'down' if intf.shutdown else 'up'}")
        for r in node.routes:
            target = "default" if r.prefix.prefixlen == 0 else str(r.prefix)
            lines.append(f"route replace {target} " + (f"via {r.via}" if r.via else f"dev {r.dev}"))
        batch = self.nodes[node.name].run_dir / "ip.batch"
        batch.write_text("\n".join(lines) + "\n")
        # TX checksum offload off on every veth end, or TCP through the lab can hang (docs/machine.md)
        offload = [f"ethtool -K '{i.name}' tx off >/dev/null 2>&1 || true" for i in linked]
        return "\n".join([f"ip -batch {batch} || exit 1", *offload])

    def close_shells(self) -> None:
        """The Mininet shells are only needed while building; the named namespaces stay."""
        for mn in self.mn.values():
            try:
                mn.stop()
            except Exception:
                pass
