"""`type: ios` service: apply an IOS config to a router or layer-3 switch node.

In a topology:

    sw3550:
      role: l3switch
      ...
      services:
        - {type: ios, config: sw3550.ios}
    router:
      role: router
      services:
        - {type: ios, config: router.ios, route_mode: peer}  # resolved routes; wan: {Dialer1: 100.64.0.2/30}

render  parse the config (every error with its line), translate, write ruleset.nft,
        dnsmasq.conf, apply.sh and notes.txt into the run dir
check   `nft -c -f ruleset.nft` and `dnsmasq --test` inside the node
start   run the steps of apply.sh inside the node (a failing step names its IOS line),
        then start dnsmasq in the foreground if the node has DHCP pools or `ip dns server`
ready   dnsmasq listens on udp/67 (DHCP) and/or udp/53 (DNS)

Parameters: `config` (the IOS file; else the node's `ios:` file), `wan` (addresses for
`ip address negotiated`; default: the address the topology gives that interface),
`route_mode` (device: IOS interface routes + proxy ARP, the default; peer: resolved; see
labkit.ios.translate).
"""
from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from labkit.diag import Diagnostic, Where, warning
from labkit.lab.errors import ServiceError
from labkit.lab.service import Service
from labkit.procs import WaitTimeout, wait_until

from . import live
from . import show as _show
from .errors import IosConfigError
from .names import linux_name
from .parser import parse
from .source import read, split_lines
from .translate import Translation, translate

STP_SETTLE_S = 30.0   # configure(): how long a re-tagged switch's spanning tree may take to settle


class IosService(Service):
    kind = "ios"
    ports = ()

    translation: Translation | None = None

    # -- inputs ------------------------------------------------------------------
    def ios_path(self) -> Path:
        value = self.params.get("config") or self.node.spec.configs.get("ios")
        if not isinstance(value, Path):
            raise ServiceError(self, "needs 'config: FILE.ios' (or 'ios: FILE' on the node)")
        return value

    def platform(self) -> str | None:
        return {"l3switch": "switch", "switch": "switch", "router": "router"}.get(self.node.spec.role)

    def layer3(self) -> bool:
        """A `role: switch` node is a layer-2 access switch (a 2950): see labkit.ios.parser.parse."""
        return self.node.spec.role != "switch"

    def wan(self, negotiated: list[str]) -> dict[str, str]:
        """Addresses for `ip address negotiated`: the `wan:` parameter, else the topology's."""
        given = self.params.get("wan") or {}
        if not isinstance(given, dict):
            raise ServiceError(self, "'wan' must map interfaces to addresses, e.g. {Dialer1: 100.64.0.2/30}")
        out: dict[str, str] = {}
        for k, v in given.items():
            try:
                out[linux_name(str(k))] = str(v)
            except ValueError:
                out[str(k)] = str(v)
        for linux in negotiated:
            intf = self.node.spec.interfaces.get(linux)
            if linux not in out and intf is not None and intf.addresses:
                out[linux] = str(intf.addresses[0])
        return out

    def topology_mismatches(self) -> list[str]:
        """Ports the builder wired differently from what the IOS config says.

        The builder follows the topology (it makes the bridges and enslaves the
        ports); the IOS config only configures them, so the two must agree.
        """
        t = self.translation
        assert t is not None
        out = []
        for p in t.interfaces:
            intf = self.node.spec.interfaces.get(p.linux)
            if intf is None:
                continue
            line = t.config.interfaces[p.ios_name].line
            where = f"{t.config.file}:{line}"
            fix = f"(fix: make '{p.linux}' in the topology and 'interface {p.ios_name}' agree)"
            if p.kind == "access" and intf.vlan is not None and intf.vlan != p.vlan:
                out.append(f"{where}: {p.ios_name} is an access port in VLAN {p.vlan}, but the "
                           f"topology puts {p.linux} in VLAN {intf.vlan} {fix}")
            elif p.kind == "access" and intf.vlan is None and intf.trunk is None:
                out.append(f"{where}: {p.ios_name} is a switchport, but the topology gives {p.linux} "
                           f"no VLAN {fix}")
            elif p.kind == "access" and intf.trunk is not None:
                out.append(f"{where}: {p.ios_name} is an access port in VLAN {p.vlan}, but the topology "
                           f"makes {p.linux} a trunk {fix}")
            elif p.kind == "trunk" and intf.trunk is None:
                out.append(f"{where}: {p.ios_name} is an 802.1Q trunk, but the topology does not make "
                           f"{p.linux} one {fix}")
            elif p.kind == "subif" and not (intf.internal and intf.vlan == p.vlan):
                out.append(f"{where}: {p.ios_name} is a sub-interface in VLAN {p.vlan}, but the topology "
                           f"does not make {p.linux} an internal port tagged {p.vlan} {fix}")
            elif p.kind in ("routed", "wan") and intf.vlan is not None:
                out.append(f"{where}: {p.ios_name} is a routed port, but the topology puts "
                           f"{p.linux} in VLAN {intf.vlan} {fix}")
        return out

    def static_addresses(self) -> list[str]:
        """Static addresses of the other topology nodes: DHCP's emulated conflict table."""
        topo = self.topology
        if topo is None:
            return []
        return [str(a.ip) for node in topo.nodes.values() if node.name != self.node.name
                for intf in node.interfaces.values() for a in intf.addresses]

    def static_hosts_in_pools(self) -> list[str]:
        """Topology hosts with a static address that a DHCP pool may also hand out."""
        from .dhcp import pool_ranges
        t = self.translation
        topo = self.topology
        if t is None or topo is None:
            return []
        out = []
        for pool in t.config.pools.values():
            if pool.network is None:
                continue
            ranges = pool_ranges(t.config, pool)
            for node in topo.nodes.values():
                for intf in node.interfaces.values():
                    for a in intf.addresses:
                        if any(lo <= a.ip <= hi for lo, hi in ranges):
                            out.append(str(warning(
                                Where(t.config.file, pool.line),
                                f"{node.name} has the static address {a.ip}, inside the free range "
                                f"of dhcp pool {pool.name}; IOS pings before offering and the lab "
                                "keeps it out of the offers (the conflict table), but on a real "
                                "switch a host that is off can lose its address to a lease",
                                "add an 'ip dhcp excluded-address' for the static hosts")))
        return out

    @property
    def lease_file(self) -> Path:
        return self.run_dir / "dnsmasq.leases"

    @classmethod
    def lint(cls, spec) -> list[Diagnostic]:
        """`labkit lint`: every error, warning and translation note of the IOS file."""
        path = spec.params.get("config")
        if not isinstance(path, Path):
            return []   # the node's `ios:` file; checked at bring-up
        layer3 = spec.params.get("layer3") is not False   # False: the expander's, for a `role: switch`
        try:
            cfg = parse(read(path), str(path), None if layer3 else "switch", layer3)
        except IosConfigError as e:   # unreadable, or not UTF-8 text
            return list(e.diagnostics)
        found = list(cfg.errors) + list(cfg.warnings)
        if not cfg.errors:
            wan = {i.linux: "192.0.2.2/30" for i in cfg.interfaces.values() if i.negotiated}
            wan.update({str(k): str(v) for k, v in (spec.params.get("wan") or {}).items()})
            try:
                t = translate(cfg, Path("/nonexistent"), wan=wan,
                              route_mode=str(spec.params.get("route_mode", "device")))
                found += [n for n in t.notes if "192.0.2." not in n.message]
            except IosConfigError as e:
                found += e.diagnostics
        return found

    # -- lifecycle ------------------------------------------------------------------
    def render(self) -> None:
        path = self.ios_path()
        try:
            text = read(path)
        except IosConfigError as e:
            raise ServiceError(self, f"cannot read {path}", str(e)) from None
        cfg = parse(text, str(path), self.platform(), self.layer3())
        if cfg.errors:
            raise ServiceError(self, f"{len(cfg.errors)} error(s) in {path.name}",
                               "\n".join(str(e) for e in cfg.errors))
        negotiated = [i.linux for i in cfg.interfaces.values() if i.negotiated]
        try:
            self.translation = translate(cfg, self.run_dir, wan=self.wan(negotiated),
                                         route_mode=str(self.params.get("route_mode", "device")),
                                         in_use=self.static_addresses())
        except Exception as e:  # IosConfigError, bad wan address, bad route_mode
            raise ServiceError(self, f"cannot translate {path.name}", str(e)) from None
        mismatches = self.topology_mismatches()
        if mismatches:
            raise ServiceError(self, f"{path.name} and the topology disagree about "
                               f"{self.node.name}'s ports", "\n".join(mismatches))
        self.translation.write()
        notes = [str(w) for w in cfg.warnings + self.translation.notes] + self.static_hosts_in_pools()
        (self.run_dir / "notes.txt").write_text("\n".join(notes) + ("\n" if notes else ""))

    def check(self) -> None:
        t = self._t()
        if t.nft:
            self.run_checked(["nft", "-c", "-f", str(t.nft_path)], inside=True)
        if t.dnsmasq:
            self.run_checked(t.dnsmasq.test_argv, inside=True)

    def start(self) -> None:
        self.reapply()
        t = self._t()
        if t.dnsmasq:
            self.spawn(t.dnsmasq.argv)

    def reapply(self) -> None:
        """Run the translation's steps (addresses, routes, nft) without (re)starting dnsmasq.

        start() uses it; a notebook uses it to power a device back on after its links
        were set down (Linux drops the routes of a link that goes down, IOS reinstalls
        its static routes when the interface comes back).
        """
        t = self._t()
        self._run_steps(t, t.steps)

    def _run_steps(self, t: Translation, steps: list) -> None:
        """Run translation steps inside the node; a step on an interface the lab lacks is
        skipped with a note, a failing step raises ServiceError naming its IOS line."""
        links = set(self._links())
        skipped: list[str] = []
        for step in steps:
            where = f"{t.config.file}:{step.line}" if step.line else t.config.file
            if step.dev and step.dev not in links:
                skipped.append(f"{where}: skipped '{step.shell()}': the lab has no interface "
                               f"{step.dev} on {self.node.name}")
                continue
            p = self.node.run(step.argv)
            if p.returncode != 0:
                if step.optional:
                    skipped.append(f"{where}: '{step.shell()}' failed (optional): {p.stderr.strip()}")
                    continue
                raise ServiceError(self, f"{where}: '{step.shell()}' failed ({step.why})",
                                   p.stdout + p.stderr)
        if skipped:
            with open(self.run_dir / "notes.txt", "a") as f:
                f.write("\n".join(skipped) + "\n")

    def ready(self) -> bool:
        t = self.translation
        if t is None or t.dnsmasq is None:
            return True
        want = ([67] if t.dnsmasq.dhcp else []) + ([53] if t.dnsmasq.dns else [])
        return all(self.port_answers("udp", port) for port in want)

    # -- for notebooks -------------------------------------------------------------
    @property
    def notes(self) -> list[str]:
        p = self.run_dir / "notes.txt"
        return p.read_text().splitlines() if p.exists() else []

    def show(self, command: str) -> str:
        """`svc.show("sh ip int br")`: the IOS show commands against this node's live state
        (its private Open vSwitch when the node has one, the config's VLAN names)."""
        from labkit.lab.ovs import OvsPaths
        ovs = OvsPaths.of(self.node.run_dir) if self.node.spec.switching == "ovs" else None
        return _show.show(self.node.cmd, command, lease_file=str(self.lease_file), ovs=ovs,
                          vlan_names=self._t().config.vlans, platform=self.platform())

    def replace_acl(self, name: str, lines: str) -> list[str]:
        """Retype numbered ACL `name` live, as `no access-list N` + new lines would on IOS.

        The node's config file is left alone: its `access-list N` lines are swapped
        for `lines` in memory, the result is parsed and translated like at bring-up,
        and only the nft table is reloaded (atomically, counters start at 0).
        Raises IosConfigError (file:line of every error) before touching the node.
        Returns the warnings of the new lines.
        """
        path = self.ios_path()
        keep = [l for l in self._running_lines()
                if not re.match(rf"\s*access-list\s+{re.escape(name)}\s", l)]
        end = max((i for i, l in enumerate(keep) if l.strip() == "end"), default=len(keep))
        new = [l.strip() for l in lines.strip().splitlines() if l.strip()]
        for l in new:
            if not re.match(rf"access-list\s+{re.escape(name)}\s", l):
                raise ValueError(f"'{l}': every line must start 'access-list {name} '")
        text = "\n".join(keep[:end] + new + keep[end:]) + "\n"
        cfg = parse(text, f"{path.name} (access-list {name} retyped)", self.platform(), self.layer3())
        if cfg.errors:
            raise IosConfigError(cfg.errors)
        t = self._translate(cfg)
        t.nft_path.write_text(t.nft)
        self.run_checked(["nft", "-f", str(t.nft_path)], inside=True)
        self.translation = t
        first = end + 1
        return [str(w) for w in cfg.warnings if w.line >= first]

    def configure(self, lines: str) -> list[str]:
        """`configure terminal`: change switch ports and static routes live, e.g.

            sw.configure("interface FastEthernet0/1\n switchport trunk allowed vlan add 2")
            sw.configure("ip route 0.0.0.0 0.0.0.0 192.168.254.1")

        Takes `interface` blocks of switchport lines (mode, access VLAN, trunk allowed and
        native VLANs), `shutdown`/`no shutdown` and descriptions, and global `ip route ...` /
        `no ip route ...` lines, in any IOS abbreviation; `end` ends the input, as it leaves
        configuration mode on IOS. Anything else is refused (ValueError naming its line),
        since it would need the lab rebuilt. The lines change the running config (the node's
        file plus earlier live changes, kept in running.ios in the run dir, so another process
        attached to the lab continues from it; see labkit.ios.live), the whole is parsed,
        checked and translated like at bring-up (IosConfigError: the new lines' errors by
        their line in `lines`), and only then is each changed port re-tagged on the node's
        Open vSwitch (or moved to its VLAN's bridge) and set up or down, and, after a route
        line, the node's static routes replaced by the running config's, with bring-up's
        own route translation (labkit.ios.translate). Returns the new lines' warnings and
        translation notes (a route that is not installed says why).
        """
        from labkit.lab.ovs import PrivateOvs

        from .plugin import switchport_fields
        from .translate import interface_plan

        self._t()                       # rendered from the node's file before its model changes
        running = self._running_lines()
        edit = live.edit_running(running, lines, self.platform(), self.layer3(), self.ios_path().name)
        spec = self.node.spec
        ports = lambda cfg: {p.linux: p for p in interface_plan(cfg)                      # noqa: E731
                             if p.kind in ("access", "trunk") and p.linux in spec.interfaces}
        now = live.parse_running(running, self.platform(), self.layer3(), live.end_of(running))
        for linux, port in ports(now).items():                          # the ports as they run now
            switchport_fields(spec.interfaces[linux], port)
            spec.interfaces[linux].shutdown = port.shutdown
        cfg = edit.config
        changed = []
        for linux, port in ports(cfg).items():
            intf = spec.interfaces[linux]
            probe = type(intf)(name=linux)
            switchport_fields(probe, port)
            retag = (probe.vlan, probe.trunk, probe.native) != (intf.vlan, intf.trunk, intf.native)
            if retag and spec.switching != "ovs" and (probe.trunk is not None or f"vlan{probe.vlan}" not in
                                                      self._links()):
                raise ValueError(f"{port.ios_name}: {spec.name} was built with one Linux bridge per VLAN "
                                 "(it had no trunk); a trunk or a new VLAN needs Open vSwitch: put the "
                                 f"lines in {self.ios_path().name} and bring the lab up again")
            if retag or port.shutdown != intf.shutdown:
                changed.append((intf, port, retag))
        routed = self._translate(cfg) if edit.routes else None      # can still refuse: nothing changed yet
        ovs = PrivateOvs.of(self.node)
        for intf, port, retag in changed:     # everything checked: now change the node
            switchport_fields(intf, port)
            intf.shutdown = port.shutdown
            if retag and spec.switching == "ovs":
                ovs.reset_port(intf.name)
            elif retag:
                self.run_checked(["ip", "link", "set", "dev", intf.name, "master", f"vlan{intf.vlan}"], inside=True)
            self.run_checked(["ip", "link", "set", "dev", intf.name, "down" if intf.shutdown else "up"], inside=True)
        if routed is not None:
            self._run_steps(routed, routed.routes)
            self.translation = routed
        else:
            self._t().config = cfg
        (self.run_dir / "running.ios").write_text("\n".join(edit.text) + "\n")
        if spec.switching == "ovs" and spec.stp is not None and any(retag for _, _, retag in changed):
            # OVS may restart a re-tagged port's spanning-tree machines: give the tree a bounded
            # moment to settle again, so traffic flows when configure returns (as a switch
            # does once its ports have converged); past the bound the change stands anyway.
            try:
                wait_until(ovs.stp_settled, STP_SETTLE_S, 0.05, what=f"{spec.name}'s spanning tree")
            except WaitTimeout:
                pass
        found = list(cfg.warnings) + (routed.notes if routed is not None else [])
        return [str(replace(w, file=live.CONFIGURE, line=n)) for w in found
                if (n := edit.input_line(w.line)) is not None]

    def _translate(self, cfg) -> Translation:
        """Bring-up's translation of a (running) config, for this node."""
        negotiated = [i.linux for i in cfg.interfaces.values() if i.negotiated]
        return translate(cfg, self.run_dir, wan=self.wan(negotiated),
                         route_mode=str(self.params.get("route_mode", "device")), in_use=self.static_addresses())

    def running_config(self) -> str:
        """The running config (what `show running-config` lists): the node's IOS file with
        every live change made by configure(), from this process or another."""
        return "\n".join(self._running_lines()) + "\n"

    def running_ports(self) -> dict:
        """Each interface as the running config has it (translate.PortInfo by IOS name: kind,
        access VLAN, trunk allowed/native VLANs, shutdown): what the *config* says, whatever
        was done to the node by other means."""
        from .translate import interface_plan

        running = self._running_lines()
        cfg = live.parse_running(running, self.platform(), self.layer3(), live.end_of(running))
        return {p.ios_name: p for p in interface_plan(cfg)}

    def _running_lines(self) -> list[str]:
        """The running config: the node's IOS file, or what live changes made of it."""
        running = self.run_dir / "running.ios"
        return split_lines(read(running if running.exists() else self.ios_path()))

    # -- helpers ------------------------------------------------------------------
    def _t(self) -> Translation:
        if self.translation is None:
            self.render()
        assert self.translation is not None
        return self.translation

    def _links(self) -> list[str]:
        import json
        out = self.node.run(["ip", "-j", "link", "show"]).stdout
        try:
            return [link["ifname"].split("@")[0] for link in json.loads(out or "[]")]
        except (ValueError, KeyError):
            return []

