"""Model -> Mininet: namespaces, veth links, switching, addresses, routes.

Switching is chosen per node (`Node.switching`, shown by `labkit status`), with the
figures of docs/machine.md behind it:

- "bridge": every access VLAN is a Linux bridge named ``vlanN`` *inside the switch's own
  namespace*; an SVI is that bridge's address, as a 3550 treats its SVI as the VLAN's
  interface. The fast path (a Linux bridge forwards at ~7.6 Gbit/s), and enough for any
  switch whose ports are all access ports, like the seed's 3550.
- "ovs": a node with an 802.1Q trunk or a tagged internal port (a router's sub-interface)
  gets a private Open vSwitch in its namespace (labkit.lab.ovs), because this kernel has
  neither 802.1Q sub-interfaces nor bridge VLAN filtering. SVIs and sub-interfaces are OVS
  internal ports with the same names (`vlanN`, `fa0-0.10`), so whatever configures the node
  afterwards (an IOS service, the addresses below) does not care which way it was built.

Nothing of a lab lives in the root namespace, which is also what keeps lab traffic in the lab.

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

from . import netns, ovs
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
    """Refuse what this machine cannot build, before anything is created."""
    needs_ovs = [n.name for n in topo.nodes.values() if n.switching == "ovs"]
    why = ovs.available() if needs_ovs else None
    if why:
        node = topo.nodes[needs_ovs[0]]
        raise TopologyError(node.where, f"{', '.join(needs_ovs)} need Open vSwitch (802.1Q trunks or "
                            f"sub-interfaces): {why}", "install it, or use access ports only")


class Builder:
    def __init__(self, topo: Topology, instance: str, state: LabState, nodes: dict[str, LabNode],
                 progress=lambda _: None):
        self.progress = progress
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
        self.start_switches()
        self.parallel({n.name: self.config_script(n) for n in self.topo.nodes.values()})
        self.wait_spanning_tree()

    def linked(self, node: Node) -> set[str]:
        return {i for i in node.interfaces if self.topo.link_of(node.name, i)}

    def private_ovs(self, node: Node) -> ovs.PrivateOvs:
        return ovs.PrivateOvs(self.nodes[node.name], self.linked(node),
                              lambda intf: mac_for(self.instance, node.name, intf))

    def start_switches(self) -> None:
        """Each "ovs" node's private Open vSwitch, all side by side; its ports exist on return."""
        switches = [self.private_ovs(n) for n in self.topo.nodes.values() if n.switching == "ovs"]
        if not switches:
            return
        self.progress(f"starting Open vSwitch in {', '.join(s.spec.name for s in switches)}")
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(ovs.PrivateOvs.start, switches))

    def wait_spanning_tree(self, timeout: float = 60.0) -> None:
        """Return once every spanning tree has settled (ports forward, or are blocked as
        alternates), so a lab is usable when `up` returns. 802.1D takes 2 x forward delay
        (30 s by default); RSTP settles in about a second (edge ports at once)."""
        from labkit.procs import WaitTimeout

        switches = [self.private_ovs(n) for n in self.topo.nodes.values() if n.stp is not None
                    and n.switching == "ovs"]
        if not switches:
            return
        self.progress(f"waiting for spanning tree ({', '.join(s.spec.name for s in switches)})")
        for s in switches:
            s.kick_edge_ports()
        try:
            ovs.wait_settled(switches, timeout)
        except WaitTimeout as e:
            raise TopologyError(None, str(e), "check the switches' spanning-tree lines") from None

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
        linked = [i for i in node.interfaces.values() if i.name in self.linked(node)]
        l3 = not node.managed_by  # e.g. an IOS node gets its addresses and routes from its ios service
        if node.switching == "ovs":
            # labkit.lab.ovs made the SVIs and sub-interfaces (internal ports); bring them up
            own = [f"vlan{vid}" for vid in sorted(node.svis)] + [i.name for i in node.interfaces.values()
                                                                 if i.internal]
            lines += [f"link set dev {name} up" for name in own]
        else:
            vlans = sorted({i.vlan for i in linked if i.vlan is not None} | set(node.svis))
            for vid in vlans:
                lines += [f"link add vlan{vid} type bridge forward_delay 0",
                          f"link set dev vlan{vid} address {mac_for(self.instance, node.name, f'vlan{vid}')}",
                          f"link set dev vlan{vid} up"]
        for vid, addrs in node.svis.items():
            lines += [f"addr add {a} dev vlan{vid}" for a in addrs if l3]
        for intf in node.interfaces.values():
            if intf.internal:
                lines += [f"addr add {a} dev {intf.name}" for a in intf.addresses if l3]
        for intf in linked:
            if intf.vlan is not None and node.switching != "ovs":
                lines.append(f"link set dev {intf.name} master vlan{intf.vlan}")
            lines += [f"addr add {a} dev {intf.name}" for a in intf.addresses if l3]
            lines.append(f"link set dev {intf.name} {'down' if intf.shutdown else 'up'}")
        for r in node.routes:
            target = "default" if r.prefix.prefixlen == 0 else str(r.prefix)
            lines.append(f"route replace {target} " + (f"via {r.via}" if r.via else f"dev {r.dev}"))
        batch = self.nodes[node.name].run_dir / "ip.batch"
        batch.write_text("\n".join(lines) + "\n")
        # TX checksum offload off on veth ends, or TCP through a Linux bridge path can hang
        # (docs/machine.md) -- except on links to a private OVS, whose userspace TSO needs it
        # on and then runs TCP at veth speed (labkit.lab.ovs).
        offload = [f"ethtool -K '{i.name}' tx off >/dev/null 2>&1 || true" for i in linked
                   if not self.touches_ovs(node, i.name)]
        return "\n".join([f"ip -batch {batch} || exit 1", *offload])

    def touches_ovs(self, node: Node, intf: str) -> bool:
        """True when either end of the link on node:intf is a port of a private OVS."""
        peer = self.topo.peer(node.name, intf)
        ends = [(node, intf)] + ([(self.topo.nodes[peer.node], peer.intf)] if peer else [])
        return any(n.switching == "ovs" and ovs.is_port(n, i) for n, i in ends)

    def close_shells(self) -> None:
        """The Mininet shells are only needed while building; the named namespaces stay."""
        for mn in self.mn.values():
            try:
                mn.stop()
            except Exception:
                pass
