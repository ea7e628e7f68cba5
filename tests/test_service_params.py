"""Every service kind's declared parameters: good values load, bad ones are refused at load.

Each topic service (ios, bind, authdns, resolver, secgroup, postfix, smtpsink, acd,
sipphone) and the core kinds declare their parameters in their plug-in; the loader
validates them before anything starts, so `labkit lint` refuses what `labkit up` or
`labkit check` would. The bad values are generated (a seeded generator per parameter
type: wrong YAML types, out-of-range numbers, garbage strings), and every one must give
a TopologyError naming the exact file:line of the value, never another exception.
"""
from __future__ import annotations

import math
import random
from pathlib import Path

import pytest
import yaml

from labkit import paths
from labkit.lab import TopologyError, load
from labkit.lab.plugins import registry

ROOT = Path(__file__).resolve().parents[1]
SEED = 20261201

HEAD = """\
name: params
nodes:
  h:
    role: host
    interfaces: {eth0: 10.0.0.1/24}
  r:
    role: router
    interfaces: {eth0: 10.0.0.2/24}
"""
LINKS = """\
links:
  - h:eth0 -- r:eth0
"""

# kind -> (node it runs on, the parameters of a good declaration)
GOOD: dict[str, tuple[str, dict]] = {
    "ios": ("r", {"config": "r.ios", "route_mode": "device", "wan": {"Dialer1": "100.64.0.2/30"}}),
    "bind": ("h", {"config": "named.conf", "listen": "10.0.0.1", "port": 53}),
    "authdns": ("h", {"zonefile": {".": "root.zone", "com": "com.zone"}, "workers": 2, "port": 53}),
    "resolver": ("h", {"root": ["198.41.0.4", "199.4.144.2"], "listen": "10.0.0.1"}),
    "secgroup": ("h", {"allow": ["25/tcp", "53/udp", "icmp"]}),
    "postfix": ("h", {"config": "main.cf", "backend": "sqlite", "port": 2525, "myhostname": "mail.x.ca",
                      "quiet": 0.5, "compat": "2.6"}),
    "smtpsink": ("h", {"hostname": "mx.gmail.com", "port": 25, "listen": "10.0.0.1"}),
    "acd": ("h", {"config": "acd.yaml", "sip_port": 5060, "http_port": 242, "media": False,
                  "pbx": "10.0.0.2:5060"}),
    "sipphone": ("h", {"acd": "10.0.0.1:5060", "agent": "2771", "policy": "refuse", "talk": 5, "port": 5062,
                       "pbx": "10.0.0.2:5060", "user": "phone1", "secret": "p1secret"}),
    "http": ("h", {"port": 8080, "listen": "10.0.0.1", "page": "hi"}),
    "tcp-echo": ("h", {"port": 7}),
    "dhcp-client": ("h", {"interface": "eth0"}),
}
FILES = ["r.ios", "named.conf", "root.zone", "com.zone", "main.cf", "acd.yaml"]

# kind -> param -> parameter type, for the generator of bad values
TYPES: dict[str, dict[str, str]] = {
    "ios": {"config": "file", "wan": "wan", "route_mode": "choice:peer,device"},
    "bind": {"config": "file", "listen": "address", "port": "port53"},
    "authdns": {"config": "file", "zonefile": "zonefile", "listen": "address", "port": "port53",
                "workers": "int:1:64"},
    "resolver": {"root": "addresses", "listen": "address", "port": "port53"},
    "secgroup": {"allow": "allow"},
    "postfix": {"config": "file", "backend": "choice:hash,sqlite", "port": "port", "myhostname": "hostname",
                "quiet": "seconds", "listen": "address", "compat": "choice:3.6,2.6"},
    "smtpsink": {"port": "port25", "hostname": "hostname", "listen": "address"},
    "acd": {"config": "file", "sip_port": "port", "http_port": "port", "media": "bool", "listen": "address",
            "timer_scale": "scale", "pbx": "sipaddr"},
    "sipphone": {"acd": "sipaddr", "agent": "agent", "policy": "choice:answer,refuse,ignore", "talk": "seconds",
                 "port": "port", "listen": "address", "media": "bool", "pbx": "sipaddr", "user": "sipuser",
                 "secret": "secret"},
    "http": {"port": "port", "listen": "address", "page": "str"},
    "tcp-echo": {"port": "port", "listen": "address"},
    "dhcp-client": {"interface": "str"},
}
# sipphone needs acd or pbx: which one is the service's own check (labkit.acd.service)
REQUIRED = {("ios", "config"), ("bind", "config"), ("postfix", "config"), ("acd", "config")}

CONTAINERS = [[], {}, [1, 2], {"a": 1}, None]


def garbage(rng: random.Random) -> str:
    """A short string with at least one character no name, number or address may hold."""
    text = "".join(rng.choice("abcxyz019./:-_") for _ in range(rng.randint(0, 12)))
    at = rng.randint(0, len(text))
    return text[:at] + rng.choice(" @#!\t\x1b\u00e9") + text[at:]


def bad_values(kind: str, rng: random.Random, n: int = 12) -> list:
    """At least `n` values that a parameter of type `kind` must refuse."""
    out: list = list(CONTAINERS)
    if kind.startswith("port"):
        fixed = {"port53": 53, "port25": 25}.get(kind)
        out += [0, -1, 65536, 99999, True, "eighty", "80", 80.5, math.inf]
        out += [rng.choice([rng.randint(-10**6, 0), rng.randint(65536, 10**7)]) for _ in range(n)]
        if fixed:
            out += [p for p in (rng.randint(1, 65535) for _ in range(n)) if p != fixed]
    elif kind.startswith("int:"):
        lo, hi = map(int, kind.split(":")[1:])
        out += [lo - 1, hi + 1, True, 1.5, "2", math.nan]
        out += [rng.choice([rng.randint(-1000, lo - 1), rng.randint(hi + 1, 10**6)]) for _ in range(n)]
    elif kind == "seconds":
        out += [0, 0.0, -1, 600.5, 601, math.inf, -math.inf, math.nan, True, "soon", "2"]
        out += [rng.choice([-rng.random() * 1000, 600 + rng.random() * 1e6]) for _ in range(n)]
    elif kind == "bool":
        out += ["yes please", 0, 1, 2.5, "true", "off"]
    elif kind.startswith("choice:"):
        good = kind.split(":", 1)[1].split(",")
        out += [g.upper() for g in good if g.upper() != g] + [1, 2.5, True]   # "3.6".upper() is "3.6"
        out += [w for w in (garbage(rng) for _ in range(n)) if w not in good]
    elif kind == "file":
        out += [1, True, 2.5]
        out += [f"missing-{rng.randint(0, 10**9)}.{rng.choice(['conf', 'cf', 'yaml', 'ios'])}" for _ in range(n)]
    elif kind in ("address", "addresses"):
        out += ["10.0.0.256", "10.0.0", "1.2.3.4/24", "localhost", 1, 2.5, True, "::1"]
        out += [".".join(str(rng.randint(0, 999)) for _ in range(4)) + "x" for _ in range(n // 2)]
        out += [".".join(str(rng.randint(256, 999)) for _ in range(4)) for _ in range(n // 2)]
        if kind == "addresses":
            out += [["1.2.3.4", garbage(rng)] for _ in range(n // 2)]
    elif kind == "hostname":
        out += [".", "*.x.ca", "a..b", "a b.ca", "-x.ca", "x-.ca", "a" * 64 + ".ca", ("a" * 60 + ".") * 5,
                "\u00e9.ca", "x\x1b.ca", 1, 2.5, True, ""]
        out += [garbage(rng) for _ in range(n)]
    elif kind == "allow":
        out += ["25/tcpx", "0/tcp", "65536/udp", "eighty/tcp", "port: eighty", "icmpx", "25", 25, True,
                ["25/tcp", "25/tcpx"], ["icmp", {"port": 80}], [None]]
        out += [[f"{rng.randint(65536, 10**6)}/tcp"] for _ in range(n // 2)]
        out += [[f"{rng.randint(1, 65535)}/{rng.choice(['tcpx', 'sctp', 'ud', 'TCP/'])}"] for _ in range(n // 2)]
        out += [[garbage(rng)] for _ in range(n // 2)]
    elif kind == "zonefile":
        out += ["root.zone", 1, ["root.zone"], {".": "nope.zone"}, {"a..b": "root.zone"}, {".": 5},
                {"a" * 64: "root.zone"}, {1: "root.zone"}, {".": ["root.zone"]}, {".": None}]
        out += [{garbage(rng): "root.zone"} for _ in range(n // 2)]
        out += [{"com": f"missing-{rng.randint(0, 10**6)}.zone"} for _ in range(n // 2)]
    elif kind == "wan":
        out += ["Dialer1", 1, {"Dialer1": "100.64.0.2"}, {"Dialer1": "100.64.0.300/30"}, {"Bogus7": "1.2.3.4/30"},
                {"Fa0/1.5": "1.2.3.4/30"}, {"Dialer1": None}, {"Dialer1": ["1.2.3.4/30"]}, {1: "1.2.3.4/30"}]
        out += [{"Dialer1": f"{garbage(rng)}/30"} for _ in range(n // 2)]
        out += [{"Dialer1": f"1.2.3.4/{rng.randint(33, 999)}"} for _ in range(n // 2)]
    elif kind == "sipaddr":
        out += ["10.0.0.1", "10.0.0.1:", ":5060", "10.0.0.1:99999", "10.0.0.1:0", "acd:5060", "10.0.0.300:5060",
                5060, True, "10.0.0.1:50x0", "pbx.lab:5060", "10.0.0.1:5060 "]
        out += [f"{garbage(rng)}:{rng.randint(1, 65535)}" for _ in range(n)]
    elif kind == "sipuser":
        out += ["", "a b", "phone@1", "a" * 65, True, 2.5, "ph\u00f6ne", "x:y", "<sip:x>"]
        out += [garbage(rng) for _ in range(n)]
    elif kind == "secret":
        out += ["", "a\nb", "tab\there", "\u00e9t\u00e9", "x" * 129, True, 2.5, "nul\x00"]
        out += [garbage(rng) + "\x1b" for _ in range(n)]
    elif kind == "agent":
        out += ["27a1", "", "-1", True, 2.5, "2771 ", "1" * 17]
        out += [garbage(rng) for _ in range(n)]
    elif kind == "scale":
        out += [0, 0.0099, 1.0001, 2, -1, math.inf, math.nan, True, "0.1", "fast"]
        out += [rng.choice([rng.uniform(-10, 0.0099), rng.uniform(1.0001, 1e6)]) for _ in range(n)]
    elif kind == "str":
        out = [v for v in CONTAINERS]
    else:
        raise AssertionError(kind)
    return out


def good_values(kind: str, rng: random.Random) -> list:
    """Values a parameter of type `kind` must accept."""
    if kind in ("port53", "port25"):
        return [int(kind[4:])]
    if kind == "port":
        return [1, 65535] + [rng.randint(1, 65535) for _ in range(4)]
    if kind.startswith("int:"):
        lo, hi = map(int, kind.split(":")[1:])
        return [lo, hi, rng.randint(lo, hi)]
    if kind == "seconds":
        return [0.001, 600, 2] + [rng.uniform(0.001, 600) for _ in range(3)]
    if kind == "bool":
        return [True, False]
    if kind.startswith("choice:"):
        return kind.split(":", 1)[1].split(",")
    if kind == "address":
        return ["10.0.0.1", "0.0.0.0"]
    if kind == "addresses":
        return ["198.41.0.4", ["198.41.0.4"], ["1.2.3.4", "5.6.7.8"]]
    if kind == "hostname":
        return ["mx.gmail.com", "mail.exampledomain.ca.", "a" * 63 + ".ca", "x_y.example"]
    if kind == "allow":
        return ["icmp", ["25/tcp"], ["1/udp", "65535/tcp", "ICMP", "53/UDP"]]
    if kind == "zonefile":
        return [{".": "root.zone"}, {"com.": "com.zone", "gmail.com": "root.zone"}]
    if kind == "wan":
        return [{"Dialer1": "100.64.0.2/30"}, {"dialer1": "100.64.0.2/30"}, {"fa0-1": "10.1.1.1/24"}]
    if kind == "sipaddr":
        return ["10.0.0.1:5060", "192.168.2.10:1"]
    if kind == "sipuser":
        return ["phone1", "acd-server.2", 2771, "*44"]
    if kind == "secret":
        return ["s3cret", "with space and \"quotes\"", 1234, "x" * 128]
    if kind == "agent":
        return ["2771", 2772, "0001"]
    if kind == "scale":
        return [0.01, 1, 0.1, rng.uniform(0.01, 1)]
    if kind == "str":
        return ["x", 5, "eth0"]
    raise AssertionError(kind)


def flow(value) -> str:
    """`value` as one line of YAML (flow style)."""
    text = yaml.safe_dump([value], default_flow_style=True, width=10**6, allow_unicode=False).strip()
    assert text.startswith("[") and text.endswith("]")
    return text[1:-1]


def topology(tmp_path: Path, kind: str, params: dict) -> tuple[Path, int]:
    """A topology with one service of `kind`; returns the file and the service's line."""
    for name in FILES:
        (tmp_path / name).touch()
    node = GOOD[kind][0]
    inner = ", ".join(f"{k}: {flow(v)}" for k, v in params.items())
    body = HEAD.replace(f"  {node}:\n    role:", f"  {node}:\n    services:\n      - {{type: {kind}"
                        + (f", {inner}" if inner else "") + "}\n    role:")
    text = body + LINKS
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "- {type:" in t)
    path = tmp_path / "params.yaml"
    path.write_text(text)
    return path, line


def refused(path: Path, line: int) -> str:
    with pytest.raises(TopologyError) as info:
        load(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}:{line}: "), msg
    assert "\n" not in msg and len(msg) > len(f"{path}:{line}: ") + 10 and "(fix: " in msg, msg
    return msg


def test_every_service_kind_is_declared_and_covered():
    reg = registry()
    for name, kind in reg.services.items():
        if name in GOOD:
            assert kind.params is not None, f"{name} accepts any parameters"
            assert set(kind.params) == set(TYPES[name]), name
    assert {"ios", "bind", "authdns", "resolver", "secgroup", "postfix", "smtpsink", "acd",
            "sipphone"} <= set(reg.services)


@pytest.mark.parametrize("kind", sorted(GOOD))
def test_a_good_declaration_loads_with_its_values_converted(tmp_path, kind):
    path, _ = topology(tmp_path, kind, GOOD[kind][1])
    topo = load(path)
    spec = next(s for s in topo.nodes[GOOD[kind][0]].services if s.kind == kind)
    assert set(GOOD[kind][1]) <= set(spec.params)
    for key, value in spec.params.items():
        if TYPES[kind][key] == "file":
            assert isinstance(value, Path) and value.is_file()


def test_defaults_are_the_ones_the_services_used():
    reg = registry()
    d = {k: {p: v.default for p, v in s.params.items() if v.default is not None}
         for k, s in reg.services.items() if k in GOOD}
    assert d["bind"] == {"port": 53} and d["resolver"] == {"root": ("198.41.0.4",), "port": 53}
    assert d["authdns"] == {"port": 53, "workers": 1} and d["secgroup"] == {"allow": ("25/tcp", "53/tcp", "53/udp")}
    assert d["postfix"] == {"backend": "hash", "port": 25, "myhostname": "mail.exampledomain.ca", "quiet": 0.3,
                            "compat": "3.6"}
    assert d["smtpsink"] == {"port": 25} and d["ios"] == {"route_mode": "device"}
    assert d["acd"] == {"sip_port": 5060, "http_port": 242, "media": True, "timer_scale": 1.0}
    assert d["sipphone"] == {"policy": "answer", "port": 5060, "media": False}


def _cases():
    rng = random.Random(SEED)
    for kind in sorted(TYPES):
        for param, ptype in TYPES[kind].items():
            for value in bad_values(ptype, rng):
                yield kind, param, value


CASES = list(_cases())


def test_there_are_hundreds_of_generated_cases():
    assert len(CASES) >= 500


@pytest.mark.parametrize("kind", sorted(TYPES))
def test_every_bad_value_is_refused_at_its_line(tmp_path, kind):
    """All generated bad values of all of `kind`'s parameters (one test per kind keeps it fast)."""
    count = 0
    for k, param, value in CASES:
        if k != kind:
            continue
        params = dict(GOOD[kind][1])
        params[param] = value
        path, line = topology(tmp_path, kind, params)
        msg = refused(path, line)
        assert msg, (param, value)
        count += 1
    assert count >= 10 * len(TYPES[kind]) or kind in ("dhcp-client", "http", "tcp-echo")


@pytest.mark.parametrize("kind", sorted(TYPES))
def test_generated_good_values_load(tmp_path, kind):
    rng = random.Random(SEED + 1)
    for param, ptype in TYPES[kind].items():
        if ptype == "file":
            continue
        for value in good_values(ptype, rng):
            params = dict(GOOD[kind][1])
            params[param] = value
            path, _ = topology(tmp_path, kind, params)
            load(path)


@pytest.mark.parametrize("kind", sorted(TYPES))
def test_unknown_and_missing_keys(tmp_path, kind):
    rng = random.Random(SEED + 2)
    for _ in range(5):
        key = "".join(rng.choice("abcdefghij_") for _ in range(rng.randint(3, 9)))
        if key in TYPES[kind]:
            continue
        path, line = topology(tmp_path, kind, {**GOOD[kind][1], key: 1})
        assert f"unknown key '{key}' in service '{kind}'" in refused(path, line)
    for k, param in REQUIRED:
        if k == kind:
            params = {p: v for p, v in GOOD[kind][1].items() if p != param}
            path, line = topology(tmp_path, kind, params)
            assert f"service '{kind}' needs '{param}'" in refused(path, line)


# -- block style: a bad item or entry is named at its own line ----------------------
@pytest.mark.parametrize("kind,block,needle,words", [
    ("secgroup", "allow:\n          - 25/tcp\n          - 25/tcpx\n          - icmp", "25/tcpx",
     "security group entry '25/tcpx'"),
    ("secgroup", "allow:\n          - icmp\n          - port: eighty", "port: eighty", "security group entry"),
    ("authdns", "zonefile:\n          .: root.zone\n          com: nope.zone", "com: nope.zone", "does not exist"),
    ("authdns", "zonefile:\n          .: root.zone\n          a..b: com.zone", "a..b", "is not a DNS name"),
    ("ios", "config: r.ios\n        wan:\n          Dialer1: 100.64.0.2/30\n          Dialer2: 1.2.3/30",
     "Dialer2", "not an IPv4 address with a prefix length"),
    ("resolver", "root:\n          - 198.41.0.4\n          - 198.41.0.400", "198.41.0.400", "is not an IPv4 address"),
])
def test_nested_errors_name_the_offending_line(tmp_path, kind, block, needle, words):
    for name in FILES:
        (tmp_path / name).touch()
    text = HEAD.replace("  h:\n    role:", f"  h:\n    services:\n      - type: {kind}\n        {block}\n    role:") + LINKS
    line = next(i for i, t in enumerate(text.splitlines(), 1) if needle in t)
    path = tmp_path / "block.yaml"
    path.write_text(text)
    assert words in refused(path, line)


# -- check kinds: every value run time converts is bounded at load -------------------
CHECK_GOOD = {
    "dns": {"from": "h", "server": "10.0.0.2", "name": "exampledomain.ca", "type": "MX", "rcode": "NOERROR",
            "timeout": 2, "expect": "10 mail.exampledomain.ca."},
    "reach": {"from": "h", "to": "r", "timeout": 1},
    "port_open": {"from": "h", "to": "10.0.0.2", "port": "25/tcp", "timeout": 1.5},
}
CHECK_BAD = {
    "dns": {"name": "hostname", "timeout": "seconds", "server": "address"},
    "reach": {"timeout": "seconds"},
    "port_open": {"timeout": "seconds"},
}


def test_check_params_bad_values_refused(tmp_path):
    rng = random.Random(SEED + 3)
    count = 0
    extra = {("dns", "type"): ["BOGUS", 1, [], "MXX"], ("dns", "rcode"): ["NOPE", {}, 99],
             ("port_open", "port"): ["99999/tcp", "25/tcpx", "eighty", 25, "0/udp", [], None]}
    cases = [(k, p, v) for k, ps in CHECK_BAD.items() for p, t in ps.items()
             for v in bad_values(t, rng) if not (p == "name" and v in (".", "*.x.ca"))]
    cases += [(k, p, v) for (k, p), vs in extra.items() for v in vs]
    for kind, param, value in cases:
        params = {**CHECK_GOOD[kind], param: value}
        text = HEAD + LINKS + "checks:\n  - " + kind + ": {" + ", ".join(f"{k}: {flow(v)}" for k, v in params.items()) + "}\n"
        path = tmp_path / "checks.yaml"
        path.write_text(text)
        refused(path, len(text.splitlines()))
        count += 1
    assert count >= 80


# -- what ships still loads -----------------------------------------------------------
NOT_TOPOLOGIES = {"topologies/acd/acd.yaml",   # the ACD's own configs, not labs
                  "tests/topologies/acd-pbx-acd.yaml"}


def shipped() -> list[Path]:
    files = sorted(ROOT.glob("topologies/*.yaml")) + sorted(ROOT.glob("topologies/*/*.yaml"))
    files += sorted(ROOT.glob("tests/topologies/*.yaml"))
    return [f for f in files if str(f.relative_to(ROOT)) not in NOT_TOPOLOGIES]


@pytest.mark.parametrize("path", shipped(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_shipped_topology_still_loads(path):
    topo = load(path)
    assert topo.nodes


def test_the_seed_loads_with_the_parameters_its_services_read():
    topo = load(paths.topology("seed.yaml"))
    by_kind = {s.kind: s.params for n in topo.nodes.values() for s in n.services}
    assert by_kind["secgroup"]["allow"] == ["25/tcp", "53/tcp", "53/udp"]
    assert by_kind["acd"]["sip_port"] == 5060 and by_kind["acd"]["media"] is True
    assert by_kind["postfix"]["backend"] == "hash" and by_kind["smtpsink"]["port"] == 25
    assert set(by_kind["ios"]) == {"config", "wan"}          # made by the IOS expander
