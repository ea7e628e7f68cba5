"""A private Open vSwitch per node: ovsdb-server and ovs-vswitchd inside the node's namespace.

Why private: this kernel has no openvswitch module, so OVS runs its userspace datapath
(`datapath_type=netdev`), whose ports are the netdevs ovs-vswitchd sees in *its own*
namespace. The machine-wide daemons live in the root namespace, where no lab interface
may ever be (docs/traffic-safety.md). So each node that needs OVS gets its own pair of
daemons, started inside its namespace, with the database, sockets and logs in the node's
run directory. The lab's record covers them like any daemon: their PIDs are recorded at
spawn, and the namespace sweep of `down`/`clean` ends them whatever happened to the
controller. Nothing is left in any shared OVS database.

One bridge per node, named BRIDGE. Ports:
  access port   tag=N                                (IOS `switchport access vlan N`)
  trunk         trunks=LIST, plus vlan_mode=native-untagged tag=N for a native VLAN
  internal      type=internal, tag=N: a tap device in the namespace that carries an SVI
                (`vlanN`) or a router's sub-interface (`fa0-0.10`) address

Userspace TSO (`other_config:userspace-tso-enable`) is set before ovs-vswitchd starts (it
is read only then). With it, TCP works with the veths' TX offload left on and runs at
veth speed; without it the veths need TX offload off (or TCP hangs) and OVS forwards at
about a seventh of that (figures in docs/machine.md).
"""
from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from labkit.procs import WaitTimeout, wait_until

from .errors import TopologyError
from .model import Node

BRIDGE = "lkbr"
#: the devices OVS makes in the namespace for itself (the netdev datapath's and the bridge's
#: own port): not ports of the modelled switch, so `labkit capture --list` leaves them out
OWN_DEVICES = ("ovs-netdev", BRIDGE)
SCHEMA = Path("/usr/share/openvswitch/vswitch.ovsschema")


@dataclass(frozen=True)
class OvsPaths:
    """Where a node's private OVS keeps its files: all under the node's run directory."""

    dir: Path

    @classmethod
    def of(cls, run_dir: Path) -> "OvsPaths":
        return cls(Path(run_dir) / "ovs")

    @property
    def db(self) -> Path:
        return self.dir / "conf.db"

    @property
    def db_sock(self) -> Path:
        return self.dir / "db.sock"

    @property
    def db_ctl(self) -> Path:
        return self.dir / "ovsdb-server.ctl"

    @property
    def ctl(self) -> Path:
        return self.dir / "ovs-vswitchd.ctl"

    def vsctl(self, *args: str) -> list[str]:
        """argv of ovs-vsctl against this node's database (waits for vswitchd to apply it)."""
        return ["ovs-vsctl", "--timeout=20", f"--db=unix:{self.db_sock}", *args]

    def appctl(self, *args: str) -> list[str]:
        """argv of ovs-appctl against this node's ovs-vswitchd, e.g. appctl("fdb/show", BRIDGE)."""
        return ["ovs-appctl", f"--target={self.ctl}", *args]


def env(paths: OvsPaths) -> dict[str, str]:
    """OVS_RUNDIR and friends: a bridge's mgmt sockets and the logs stay in the run directory."""
    import os

    d = str(paths.dir)
    return {**os.environ, "OVS_RUNDIR": d, "OVS_LOGDIR": d, "OVS_DBDIR": d, "OVS_SYSCONFDIR": d}


def available() -> str | None:
    """None when OVS can be used here, else why not (for a clear error before building)."""
    import shutil

    missing = [t for t in ("ovsdb-server", "ovs-vswitchd", "ovs-vsctl", "ovsdb-tool") if shutil.which(t) is None]
    if missing:
        return f"Open vSwitch is not installed (missing {', '.join(missing)}); run ./run setup"
    if not SCHEMA.is_file():
        return f"Open vSwitch's schema {SCHEMA} is missing; reinstall openvswitch-switch"
    return None


def is_port(node: Node, name: str) -> bool:
    """Whether interface `name` of an "ovs" node is a port of its bridge: access ports,
    trunks and internal ports are; a routed port (no VLAN, no trunk) stays a plain
    interface of the namespace, or OVS would make it a trunk for every VLAN."""
    intf = node.interfaces[name]
    return intf.internal or intf.trunk is not None or intf.vlan is not None


def port_columns(node: Node, name: str) -> list[str]:
    """The Port columns that give interface `name` of `node` its VLANs: tag for an access or
    internal port; trunks (and the native VLAN's tag, untagged) for a trunk."""
    intf = node.interfaces[name]
    if intf.trunk is not None:
        trunks = sorted(set(intf.trunk) | ({intf.native} if intf.native else set()))
        cols = [f"trunks={','.join(map(str, trunks))}" if trunks else "trunks=4095"]
        if intf.native is not None:
            cols += [f"tag={intf.native}", "vlan_mode=native-untagged"]
        return cols
    return [f"tag={intf.vlan}"] if intf.vlan is not None else []


def port_settings(node: Node, name: str) -> list[str]:
    """The ovs-vsctl words that make interface `name` of `node` a port of BRIDGE."""
    intf = node.interfaces[name]
    words = ["--", "add-port", BRIDGE, name, *port_columns(node, name)]
    if intf.internal:
        words += ["--", "set", "interface", name, "type=internal"]
    return words


def svi_settings(vid: int, mac: str) -> list[str]:
    """An SVI `vlanN`: an internal port tagged N, with a stable MAC."""
    name = f"vlan{vid}"
    return ["--", "add-port", BRIDGE, name, f"tag={vid}",
            "--", "set", "interface", name, "type=internal", f"mac=\"{mac}\""]


def stp_settings(node: Node, linked: set[str]) -> list[str]:
    """Spanning tree on BRIDGE and its ports, from node.stp (none when it is None)."""
    if node.stp is None:
        return []
    proto = node.stp.mode
    words = ["--", "set", "bridge", BRIDGE, f"other_config:{proto}-priority={node.stp.priority or 32768}"]
    # The switch's own ports (the bridge port, SVIs, sub-interfaces) are not links: they take
    # no part in the tree, or each would sit out the forward delay like a cabled port.
    own = [BRIDGE, *(f"vlan{v}" for v in sorted(node.svis)),
           *(i.name for i in node.interfaces.values() if i.internal)]
    for name in own:
        words += ["--", "set", "port", name, f"other_config:{proto}-enable=false"]
    # Port numbers (the low half of a port ID, the tie-break between two equal paths) follow
    # the interfaces' natural order, as a switch numbers its front panel: fa0-7 before fa0-8
    # before fa0-10, whatever order OVS happened to add them in.
    ports = sorted((i for i in node.interfaces.values() if i.name in linked and is_port(node, i.name)),
                   key=lambda i: natural_key(i.name))
    for num, intf in enumerate(ports, 1):
        cfg = [f"other_config:{proto}-port-num={intf.stp_port or num}"]
        if intf.stp_cost is not None:
            cfg.append(f"other_config:{proto}-path-cost={intf.stp_cost}")
        if intf.stp_edge and proto == "rstp":
            cfg += ["other_config:rstp-port-admin-edge=true", "other_config:rstp-port-auto-edge=false"]
        elif proto == "rstp" and not node.stp.auto_edge:
            cfg += ["other_config:rstp-port-auto-edge=false"]
        elif out_of_tree(node, intf.name):
            cfg += ["other_config:stp-enable=false"]
        words += ["--", "set", "port", intf.name, *cfg]
    return words


def out_of_tree(node: Node, name: str) -> bool:
    """OVS's 802.1D has no edge ports; portfast's point (a host port forwards at once instead
    of after 2 x forward delay) is had by leaving the port out of the tree."""
    return node.stp is not None and node.stp.mode == "stp" and node.interfaces[name].stp_edge


def natural_key(name: str) -> list:
    """fa0-10 after fa0-9: digits compare as numbers."""
    import re

    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]




def config_words(node: Node, linked: set[str], mac_for: Callable[[str], str]) -> list[str]:
    """One ovs-vsctl transaction: the bridge, every linked or internal port, the SVIs, STP."""
    words = ["--", "add-br", BRIDGE, "--", "set", "bridge", BRIDGE, "datapath_type=netdev",
             f"other_config:hwaddr=\"{mac_for(BRIDGE)}\""]
    for name, intf in node.interfaces.items():
        if is_port(node, name) and (intf.internal or name in linked):
            words += port_settings(node, name)
            if intf.internal:
                words += [f"mac=\"{mac_for(name)}\""]
    for vid in sorted(node.svis):
        words += svi_settings(vid, mac_for(f"vlan{vid}"))
    return words + stp_settings(node, linked)


DB_TIMEOUT = 10.0   # seconds ovsdb-server may take to accept connections on its socket


def accepting(sock: Path) -> bool:
    """Whether a server accepts connections on unix socket `sock` now. The socket file
    appears at bind(), before listen(): until then a client is refused (ECONNREFUSED)."""
    import socket

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        try:
            s.connect(str(sock))
        except (FileNotFoundError, ConnectionRefusedError):
            return False
    return True


def wait_for_db(paths: OvsPaths, db: subprocess.Popen, node: Node, timeout: float = DB_TIMEOUT) -> None:
    """Return once ovsdb-server (process `db`) accepts a connection on its socket; a
    TopologyError naming the node and the server's log if it exits or never does."""
    log = paths.dir / "ovsdb-server.log"
    try:
        wait_until(lambda: db.poll() is not None or accepting(paths.db_sock), timeout, 0.01,
                   what="ovsdb-server accepting connections")
    except WaitTimeout:
        raise TopologyError(node.where, f"{node.name}: ovsdb-server did not accept connections on "
                            f"{paths.db_sock} within {timeout:g} s", f"see {log}") from None
    if db.poll() is not None:
        raise TopologyError(node.where, f"{node.name}: ovsdb-server exited ({db.returncode})", f"see {log}")


class PrivateOvs:
    """Start, configure and query the private OVS of one node (a labkit.lab.node.LabNode)."""

    def __init__(self, lab_node, linked: set[str], mac_for: Callable[[str], str]):
        self.node = lab_node
        self.spec: Node = lab_node.spec
        self.linked = linked
        self.mac_for = mac_for
        self.paths = OvsPaths.of(lab_node.run_dir)

    @classmethod
    def of(cls, lab_node) -> "PrivateOvs":
        """The private OVS of a node that is up, for use after bring-up (lessons, live IOS
        changes): its cabled interfaces count as linked; nothing is added, so no MACs are made."""
        return cls(lab_node, {i.name for i in lab_node.spec.interfaces.values() if not i.internal}, str)

    def run(self, argv: list[str], what: str) -> str:
        p = self.node.run(argv, timeout=30)
        if p.returncode != 0:
            raise TopologyError(self.spec.where, f"{self.spec.name}: {what} failed: "
                                f"{(p.stderr or p.stdout).strip()[:500]}",
                                f"see the OVS logs in {self.paths.dir}")
        return p.stdout

    def spawn(self, argv: list[str], what: str) -> subprocess.Popen:
        log = open(self.paths.dir / f"{what}.out", "ab")
        proc = self.node.popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                               env=env(self.paths), start_new_session=True)
        log.close()
        self.node.record_pid(proc.pid, what)
        return proc

    def start(self) -> None:
        """Database, then the whole config (so userspace TSO is set before vswitchd reads it),
        then ovs-vswitchd; returns once vswitchd has applied the config (ports exist)."""
        d = self.paths
        d.dir.mkdir(parents=True, exist_ok=True)
        self.run(["ovsdb-tool", "create", str(d.db), str(SCHEMA)], "ovsdb-tool create")
        db = self.spawn(["ovsdb-server", str(d.db), f"--remote=punix:{d.db_sock}", f"--unixctl={d.db_ctl}",
                         "--no-chdir", f"--log-file={d.dir / 'ovsdb-server.log'}", "-vconsole:off"],
                        "ovsdb-server")
        wait_for_db(d, db, self.spec)
        self.run(d.vsctl("--no-wait", "init", "--", "set", "Open_vSwitch", ".",
                         "other_config:userspace-tso-enable=true",
                         *config_words(self.spec, self.linked, self.mac_for)), "ovs-vsctl (bridge and ports)")
        sw = self.spawn(["ovs-vswitchd", f"unix:{d.db_sock}", f"--unixctl={d.ctl}", "--no-chdir",
                         f"--log-file={d.dir / 'ovs-vswitchd.log'}", "-vconsole:off"], "ovs-vswitchd")
        # A transaction without --no-wait returns once ovs-vswitchd has applied everything before it.
        self.run(d.vsctl("set", "Open_vSwitch", ".", "external_ids:labkit=up"), "waiting for ovs-vswitchd")
        if self.spec.stp is not None:
            self.run(d.vsctl("set", "bridge", BRIDGE, f"{self.spec.stp.mode}_enable=true"), "starting spanning tree")
        if sw.poll() is not None:
            raise TopologyError(self.spec.where, f"{self.spec.name}: ovs-vswitchd exited ({sw.returncode})",
                                f"see {d.dir / 'ovs-vswitchd.log'}")

    def kick_edge_ports(self) -> list[str]:
        """Take each portfast (admin-edge) port down and up again, once, at bring-up.

        RSTP's bridge detection machine makes an admin-edge port an edge port at BEGIN, or
        while the port is disabled. OVS starts a port's machines before it applies
        `rstp-port-admin-edge`, so a port whose link was already up can stay non-edge and
        sit out the forward delay (seen here on one port in a few bring-ups). Disabled once
        with the setting in place, it comes back as the edge port it is configured to be."""
        if self.spec.stp is None or self.spec.stp.mode != "rstp":
            return []
        # Every portfast port, not only those that look stuck: the port states in the database
        # lag behind ovs-vswitchd's, and a bounce costs a few milliseconds before any service runs.
        stuck = [i.name for i in self.spec.interfaces.values()
                 if i.stp_edge and not i.shutdown and i.name in self.linked]
        if stuck:
            self.run(["sh", "-c", "; ".join(f"ip link set dev {n} down" for n in stuck)], "edge ports down")
            wait_until(lambda: self.link_states(stuck) == {n: "down" for n in stuck}, 10.0, 0.01,
                       what="ovs-vswitchd seeing the edge ports down")
            self.run(["sh", "-c", "; ".join(f"ip link set dev {n} up" for n in stuck)], "edge ports up")
        return stuck

    def reset_port(self, name: str) -> None:
        """Give a port the VLANs its model now says (after a live `switchport` change): one
        transaction, applied by ovs-vswitchd before this returns."""
        cols = port_columns(self.spec, name)
        words = ["clear", "port", name, "tag", "trunks", "vlan_mode"] + (["--", "set", "port", name, *cols] if cols else [])
        self.run(self.paths.vsctl(*words), f"re-tagging {name}")

    def link_states(self, names: list[str]) -> dict[str, str]:
        """Interface -> "up"/"down" as ovs-vswitchd last saw its link."""
        out = self.run(self.paths.vsctl("--format=csv", "--no-headings", "--columns=name,link_state",
                                        "list", "interface", *names), "ovs-vsctl list interface")
        return dict(line.split(",", 1) for line in out.splitlines())

    def stp_ports(self) -> dict[str, tuple[str, str]]:
        """Port -> (role, state) of spanning tree as OVS reports it; {} when STP is off."""
        import json

        if self.spec.stp is None:
            return {}
        col = "rstp_status" if self.spec.stp.mode == "rstp" else "status"
        out = json.loads(self.run(self.paths.vsctl("--format=json", "--columns=name," + col, "list", "port"),
                                  "ovs-vsctl list port"))
        ports = {}
        for name, status in out["data"]:
            kv = dict(status[1]) if isinstance(status, list) and status and status[0] == "map" else {}
            if self.spec.stp.mode == "rstp":
                ports[name] = (kv.get("rstp_port_role", ""), kv.get("rstp_port_state", ""))
            else:
                ports[name] = (kv.get("stp_role", ""), kv.get("stp_state", ""))
        return ports

    def unsettled(self) -> dict[str, tuple[str, str]]:
        """The tree ports that neither forward nor are blocked for a reason (alternate, backup,
        disabled): port -> (role, state). A port left out of the tree (802.1D portfast, see
        stp_settings) has no state: it forwards."""
        out = {}
        for name, (role, state) in self.stp_ports().items():
            if name not in self.linked or not is_port(self.spec, name) or out_of_tree(self.spec, name):
                continue
            if state.lower() not in ("forwarding", "blocking", "discarding", "disabled") or \
                    (state.lower() == "discarding" and role.lower() not in ("alternate", "backup", "disabled")):
                out[name] = (role, state)
        return out

    def stp_settled(self) -> bool:
        """Every spanning-tree port of this switch forwards or is blocked for a reason."""
        return not self.unsettled()


def wait_settled(switches: list[PrivateOvs], timeout: float) -> None:
    """Return once every switch's spanning tree has settled (PrivateOvs.stp_settled); after
    `timeout` seconds raise WaitTimeout naming the ports still waiting at that moment."""
    try:
        wait_until(lambda: all(s.stp_settled() for s in switches), timeout, 0.1, what="spanning tree")
    except WaitTimeout:
        waiting = {s.spec.name: s.unsettled() for s in switches if not s.stp_settled()}
        raise WaitTimeout(f"spanning tree did not settle in {timeout:.0f} s: {waiting}") from None
