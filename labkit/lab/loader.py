"""Load and validate a topology YAML file into the model.

Every error is one line, ``file:line: what is wrong (fix: what to do)``, and is
raised before anything is started, so a bad file never leaves a half-built lab.
"""
from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any

from labkit import paths
from labkit.diag import printable, unknown_key_fix

from .errors import TopologyError, Where
from .model import (ROLES, Check, Endpoint, Interface, Link, Node, Route,
                    ServiceSpec, Topology, Vlan)
from .params import validate
from .plugins import registry
from .yamlpos import YList, YMap, load_yaml

NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,11}$")
IFNAME_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9_.-]{0,14}$")
TOP_KEYS = {"name", "title", "vlans", "nodes", "links", "checks"}
NODE_KEYS = {"role", "label", "interfaces", "svis", "routes", "gateway", "services", "pos", "dns"}
INTF_KEYS = {"address", "addresses", "dhcp", "vlan", "trunk", "shutdown"}
FILE_PARAMS = ("config", "zonefile", "files")   # resolved for service kinds that declare no params


def resolve(spec: str | Path) -> Path:
    """`seed` -> the first topologies/seed.yaml on the search path (labkit.paths); else a path."""
    p = Path(spec)
    if p.suffix not in (".yaml", ".yml") and not p.exists():
        p = paths.topology(f"{spec}.yaml")
    return p


def load(spec: str | Path) -> Topology:
    path = resolve(spec)
    if not path.is_file():
        known = ", ".join(sorted({q.stem for d in paths.topologies_dirs() for q in d.glob("*.yaml")}))
        raise TopologyError(None, f"no topology file {path}", f"pick one of: {known or 'none found'}")
    data = load_yaml(path.read_text(), str(path))
    return _Loader(path, data).topology()


def _fail(where: Where, msg: str, fix: str = "") -> TopologyError:
    return TopologyError(where, msg, fix)


def _unknown_keys(m: YMap, allowed: set[str], what: str) -> None:
    for key in m:
        if key not in allowed:
            raise _fail(m.at(key), f"unknown key '{printable(key, 60)}' in {what}", unknown_key_fix(key, allowed))


def parse_interface(text: Any, where: Where) -> ipaddress.IPv4Interface:
    """An address with its prefix length, e.g. 192.168.1.1/24."""
    s = str(text).strip()
    if "/" not in s:
        raise _fail(where, f"address '{s}' has no prefix length", f"write it as {s}/24 (or the right length)")
    try:
        addr = ipaddress.IPv4Interface(s)
    except ValueError as exc:
        raise _fail(where, f"bad address '{s}': {exc}", "use dotted quad/length, e.g. 192.168.1.10/24") from None
    if addr.network.prefixlen < 31 and addr.ip in (addr.network.network_address, addr.network.broadcast_address):
        raise _fail(where, f"address '{s}' is the network or broadcast address of {addr.network}",
                    "pick a host address inside the subnet")
    return addr


def parse_route(text: Any, where: Where) -> Route:
    """`PREFIX via GW`, `PREFIX dev IF` or `default via GW`."""
    words = str(text).split()
    if len(words) != 3 or words[1] not in ("via", "dev"):
        raise _fail(where, f"route '{text}' is not 'PREFIX via GATEWAY' or 'PREFIX dev INTERFACE'",
                    "e.g. 'default via 192.168.1.1' or '192.168.0.0/16 dev eth1'")
    prefix = "0.0.0.0/0" if words[0] == "default" else words[0]
    try:
        net = ipaddress.IPv4Network(prefix)
    except ValueError as exc:
        raise _fail(where, f"bad route prefix '{words[0]}': {exc}",
                    "the prefix must have no host bits set, e.g. 192.168.0.0/16") from None
    if words[1] == "via":
        try:
            return Route(net, via=ipaddress.IPv4Address(words[2]), where=where)
        except ValueError:
            raise _fail(where, f"bad gateway '{words[2]}'", "write the next hop as an IPv4 address") from None
    return Route(net, dev=words[2], where=where)


class _Loader:
    """One load of one file. Also the ParamContext that typed parameters validate against."""

    def __init__(self, path: Path, data: Any):
        self.path = path
        self.data = data
        self.reg = registry()
        self.topo: Topology | None = None

    # -- params.ParamContext ---------------------------------------------------------
    def node_names(self) -> list[str]:
        return list(self.topo.nodes) if self.topo is not None else []

    def resolve_file(self, value: Any, where: Where) -> Path:
        return self.file(value, where)

    def topology(self) -> Topology:
        d = self.data
        top_where = Where(str(self.path), 1)
        if not isinstance(d, YMap):
            raise _fail(top_where, "a topology file must be a mapping with 'nodes' and 'links'",
                        "start from topologies/seed.yaml")
        _unknown_keys(d, TOP_KEYS, "the topology")
        if "nodes" not in d:
            raise _fail(top_where, "the topology has no 'nodes'", "add a 'nodes:' mapping")
        name = str(d.get("name", self.path.stem))
        if not NAME_RE.match(name):
            raise _fail(d.at("name"), f"lab name '{name}' is not a short lowercase name",
                        "use up to 12 of a-z, 0-9 and '-', starting with a letter")
        topo = Topology(name=name, path=self.path.resolve(), title=str(d.get("title", "")))
        self.topo = topo
        self.vlans(topo, d.get("vlans") or YMap())
        nodes = d["nodes"]
        if not isinstance(nodes, YMap):
            raise _fail(d.at("nodes"), "'nodes' must be a mapping of name -> node", "see topologies/seed.yaml")
        for nname, spec in nodes.items():
            topo.nodes[str(nname)] = self.node(topo, str(nname), spec, nodes.at(nname))
        for i, item in enumerate(self._list(d, "links")):
            topo.links.append(self.link(topo, item, d["links"].item_where[i]))
        self.cross_checks(topo)
        for i, item in enumerate(self._list(d, "checks")):
            topo.checks.append(self.check(topo, item, d["checks"].item_where[i]))
        return topo

    def _list(self, d: YMap, key: str) -> list:
        value = d.get(key)
        if value is None:
            return []
        if not isinstance(value, YList):
            raise _fail(d.at(key), f"'{key}' must be a list", f"write each of the {key} on a line starting with '- '")
        return value

    def vlans(self, topo: Topology, spec: Any) -> None:
        if not isinstance(spec, YMap):
            raise _fail(self.data.at("vlans"), "'vlans' must map VLAN numbers to names", "e.g. 'vlans: {1: data, 2: voice}'")
        for vid, name in spec.items():
            if not isinstance(vid, int) or not 1 <= vid <= 4094:
                raise _fail(spec.at(vid), f"VLAN id '{vid}' is not a number from 1 to 4094", "use the 802.1Q VLAN number")
            topo.vlans[vid] = Vlan(vid, str(name), spec.at(vid))

    def node(self, topo: Topology, name: str, spec: Any, where: Where) -> Node:
        if not NAME_RE.match(name):
            raise _fail(where, f"node name '{name}' is not a short lowercase name",
                        "use up to 12 of a-z, 0-9 and '-', starting with a letter")
        if not isinstance(spec, YMap):
            raise _fail(where, f"node '{name}' must be a mapping with at least 'role'", "e.g. 'role: host'")
        _unknown_keys(spec, NODE_KEYS | set(self.reg.expanders), f"node '{name}'")
        role = spec.get("role")
        if role not in ROLES:
            raise _fail(spec.at("role"), f"node '{name}' has role '{role}'", f"use one of: {', '.join(ROLES)}")
        node = Node(name=name, role=role, where=where, label=str(spec.get("label", "")))
        if "pos" in spec:
            pos = spec["pos"]
            if not (isinstance(pos, YList) and len(pos) == 2 and all(isinstance(v, (int, float)) for v in pos)):
                raise _fail(spec.at("pos"), "'pos' must be [x, y]", "e.g. 'pos: [2, 1]'")
            node.pos = (float(pos[0]), float(pos[1]))
        for iname, ispec in (spec.get("interfaces") or YMap()).items():
            node.interfaces[str(iname)] = self.interface(topo, node, str(iname), ispec, spec["interfaces"].at(iname))
        for key, expander in self.reg.expanders.items():
            if key not in spec:
                continue
            if role not in expander.roles:
                raise _fail(spec.at(key), f"node '{name}' is a {role}; only a {' or '.join(expander.roles)} "
                            f"takes '{key}:'", f"set 'role: {expander.roles[0]}' or remove '{key}:'")
            path = self.file(spec[key], spec.at(key))
            node.configs[key] = path
            expander.expand(topo, node, path, spec.at(key))
        svis = spec.get("svis") or YMap()
        if svis and role != "l3switch":
            raise _fail(spec.at("svis"), f"node '{name}' is a {role}; only an l3switch has SVIs", "set 'role: l3switch' or move the address to an interface")
        for vid, addr in svis.items():
            if vid not in topo.vlans:
                raise _fail(svis.at(vid), f"SVI for VLAN {vid}, which is not defined", f"add '{vid}: NAME' under 'vlans:'")
            node.svis[vid] = [parse_interface(addr, svis.at(vid))]
            node.svi_where[vid] = svis.at(vid)
        for i, rspec in enumerate(spec.get("routes") or []):
            node.routes.append(parse_route(rspec, spec["routes"].item_where[i]))
        if "dns" in spec:
            servers = spec["dns"] if isinstance(spec["dns"], list) else [spec["dns"]]
            for server in servers:
                try:
                    node.dns.append(ipaddress.IPv4Address(str(server)))
                except ValueError:
                    raise _fail(spec.at("dns"), f"DNS server '{server}' is not an IPv4 address",
                                "e.g. 'dns: 100.64.1.53'") from None
        if "gateway" in spec:
            node.routes.append(parse_route(f"default via {spec['gateway']}", spec.at("gateway")))
        for i, sspec in enumerate(spec.get("services") or []):
            node.services.append(self.service(node, sspec, spec["services"].item_where[i]))
        for intf in node.interfaces.values():  # a DHCP interface gets its client daemon
            if intf.dhcp:
                node.services.append(ServiceSpec("dhcp-client", f"dhcp-{intf.name}", {"interface": intf.name},
                                                 intf.where or where))
        return node

    def interface(self, topo: Topology, node: Node, iname: str, spec: Any, where: Where) -> Interface:
        if not IFNAME_RE.match(iname):
            raise _fail(where, f"interface name '{iname}' is not a Linux interface name",
                        "use at most 15 letters, digits, '-', '_' or '.', e.g. eth0 or fa0-1")
        intf = Interface(name=iname, where=where)
        if spec is None:
            return intf
        if isinstance(spec, str) and spec == "dhcp":
            spec = YMap({"dhcp": True})
            spec.where, spec.key_where = where, {}
        elif not isinstance(spec, YMap):
            spec = YMap({"address": spec})
            spec.where, spec.key_where = where, {}
        _unknown_keys(spec, INTF_KEYS, f"interface {node.name}:{iname}")
        addrs = spec.get("addresses") or ([spec["address"]] if "address" in spec else [])
        intf.addresses = [parse_interface(a, spec.at("address") if "address" in spec else spec.at("addresses")) for a in addrs]
        intf.dhcp = bool(spec.get("dhcp", False))
        intf.shutdown = bool(spec.get("shutdown", False))
        if intf.dhcp and node.role != "host":
            raise _fail(where, f"{node.name}:{iname} asks for DHCP, but only hosts lease addresses", "give the interface a static address")
        for key in ("vlan", "trunk"):
            if key in spec and node.role not in ("switch", "l3switch"):
                raise _fail(spec.at(key), f"{node.name} is a {node.role}; only switch ports have '{key}'",
                            "put the VLAN on the switch port this host connects to")
        if "vlan" in spec:
            intf.vlan = self.vlan_ref(topo, spec["vlan"], spec.at("vlan"))
        if "trunk" in spec:
            vids = spec["trunk"]
            vids = list(vids) if isinstance(vids, list) else [vids]
            intf.trunk = [self.vlan_ref(topo, v, spec.at("trunk")) for v in vids]
        return intf

    def vlan_ref(self, topo: Topology, vid: Any, where: Where) -> int:
        if vid not in topo.vlans:
            known = ", ".join(str(v) for v in sorted(topo.vlans)) or "none"
            raise _fail(where, f"VLAN {vid} is not defined (defined: {known})", f"add '{vid}: NAME' under 'vlans:' or fix the number")
        return int(vid)

    def file(self, rel: Any, where: Where) -> Path:
        p = (self.path.parent / str(rel)).resolve()
        if not p.is_file():
            raise _fail(where, f"config file '{rel}' does not exist (looked for {p})",
                        f"create it or fix the path; paths are relative to {self.path.parent}")
        return p

    def service(self, node: Node, spec: Any, where: Where) -> ServiceSpec:
        kinds = ", ".join(sorted(self.reg.services))
        if isinstance(spec, str):
            spec = YMap({"type": spec})
            spec.where, spec.key_where = where, {}
        if not isinstance(spec, YMap) or "type" not in spec:
            raise _fail(where, f"a service of '{node.name}' has no 'type'", f"use one of: {kinds}")
        kind = str(spec["type"])
        if kind not in self.reg.services:
            raise _fail(spec.at("type"), f"unknown service type '{kind}'", f"use one of: {kinds}")
        decl = self.reg.service(kind).params
        given = {k: v for k, v in spec.items() if k not in ("type", "name")}
        name = str(spec.get("name", kind))
        if decl is not None:
            shaped = YMap(given)
            shaped.where, shaped.key_where = where, {k: spec.at(k) for k in given}
            params = validate(decl, shaped, where, self, f"service '{kind}'")
        else:
            params = {}
            for key, value in given.items():
                if key in FILE_PARAMS:
                    if isinstance(value, YList):
                        value = [self.file(v, value.item_where[i]) for i, v in enumerate(value)]
                    elif isinstance(value, YMap):
                        value = {k: self.file(v, value.at(k)) for k, v in value.items()}
                    else:
                        value = self.file(value, spec.at(key))
                params[str(key)] = value
        if any(s.name == name for s in node.services):
            raise _fail(where, f"'{node.name}' has two services named '{name}'", "give one of them a 'name:'")
        return ServiceSpec(kind=kind, name=name, params=params, where=where)

    def endpoint(self, topo: Topology, text: Any, where: Where, used: set[tuple[str, str]]) -> Endpoint:
        s = str(text).strip()
        nname, _, iname = s.partition(":")
        if nname not in topo.nodes:
            raise _fail(where, f"link to unknown node '{nname}'", f"define '{nname}' under 'nodes:' or fix the name (known: {', '.join(topo.nodes)})")
        node = topo.nodes[nname]
        if not iname:
            n = 0
            while (nname, f"eth{n}") in used or f"eth{n}" in node.interfaces and topo.link_of(nname, f"eth{n}"):
                n += 1
            iname = f"eth{n}"
        if (nname, iname) in used:
            raise _fail(where, f"interface {nname}:{iname} is already used by another link", "each interface takes one link; use another interface name")
        if iname not in node.interfaces:
            if not IFNAME_RE.match(iname):
                raise _fail(where, f"interface name '{iname}' is not a Linux interface name", "use at most 15 characters, e.g. eth1 or fa0-2")
            made = None
            for key in node.configs:
                if key in self.reg.expanders:
                    made = made or self.reg.expanders[key].implicit_port(node, iname)
            node.interfaces[iname] = made or Interface(name=iname, where=where)
        used.add((nname, iname))
        return Endpoint(nname, iname)

    def link(self, topo: Topology, item: Any, where: Where) -> Link:
        if isinstance(item, str) and "--" in item:
            ends = [e for e in item.split("--")]
        elif isinstance(item, list) and len(item) == 2:
            ends = list(item)
        else:
            raise _fail(where, f"link '{item}' is not 'A -- B' or [A, B]", "e.g. 'router:fa0-0 -- sw3550:fa0-1'")
        used = {(e.node, e.intf) for link in topo.links for e in (link.a, link.b)}
        a = self.endpoint(topo, ends[0], where, used)
        b = self.endpoint(topo, ends[1], where, used)
        if a.node == b.node:
            raise _fail(where, f"link joins '{a.node}' to itself", "connect two different nodes")
        return Link(a, b, where)

    def cross_checks(self, topo: Topology) -> None:
        seen: dict[ipaddress.IPv4Address, str] = {}
        for node in topo.nodes.values():
            for intf in node.interfaces.values():
                declared_here = intf.where is not None and intf.where.file == str(self.path)
                if topo.link_of(node.name, intf.name) is None and declared_here:
                    raise _fail(intf.where, f"interface {node.name}:{intf.name} is in no link",
                                f"add a link such as '{node.name}:{intf.name} -- OTHER' or remove the interface")
            places = [(a, i.where) for i in node.interfaces.values() for a in i.addresses]
            places += [(a, node.svi_where.get(vid, node.where)) for vid, addrs in node.svis.items() for a in addrs]
            for addr, where in places:
                if addr.ip in seen:
                    raise _fail(where or node.where, f"address {addr.ip} is used twice ({seen[addr.ip]} and {node.name})",
                                "give each interface its own address")
                seen[addr.ip] = node.name
            connected = [a.network for a, _ in places]
            for route in node.routes:
                if route.via is not None:
                    if not any(route.via in net for net in connected) and not any(i.dhcp for i in node.interfaces.values()):
                        raise _fail(route.where or node.where, f"next hop {route.via} of {node.name} is on none of its subnets ({', '.join(map(str, connected)) or 'no addresses'})",
                                    "use a gateway address inside one of the node's connected subnets")
                if route.dev is not None and route.dev not in node.interfaces:
                    raise _fail(route.where or node.where, f"route of {node.name} uses interface '{route.dev}', which it does not have",
                                f"use one of: {', '.join(node.interfaces) or 'none'}")

    def check(self, topo: Topology, item: Any, where: Where) -> Check:
        kinds = ", ".join(sorted(self.reg.checks))
        if not isinstance(item, YMap) or len(item) != 1:
            raise _fail(where, "a check is one mapping such as 'reach: {from: pc1, to: 1.2.3.4}'", f"kinds: {kinds}")
        kind, params = next(iter(item.items()))
        if kind not in self.reg.checks:
            raise _fail(where, f"unknown check '{kind}'", f"use one of: {kinds}")
        if not isinstance(params, YMap):
            raise _fail(where, f"check '{kind}' needs a mapping of parameters", "e.g. {from: pc1, to: ec2}")
        decl = self.reg.check(kind)
        values = validate(decl.params, params, where, self, f"check '{kind}'")
        return Check(kind=str(kind), params=values, where=where, label=decl.label(values))
