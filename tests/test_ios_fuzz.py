"""labkit.ios under generated bad input: mutants of the seed configs, and generated layer-2 configs.

Each mutant starts from topologies/router.ios, topologies/sw3550.ios or one of the layer-2
configs below (a router-on-a-stick, a 3550 with trunks and spanning tree, a 2950 access
switch) and deletes, duplicates, swaps or corrupts lines and tokens (keyword lines, random
bytes, control characters, very long tokens, bytes that are not UTF-8, other encodings,
truncation). The generated configs are drawn line by line from templates of the layer-2
commands (sub-interfaces, encapsulation, trunk allowed/native lists, vlan definitions,
spanning-tree lines) filled with good, edge and malformed values. For every one, `load()`
gives a config or raises IosConfigError, never another exception and never a hang (each
example runs under an alarm); every diagnostic prints as one safe, bounded line
`FILE:LINE: ...`; `translate()` of a config that loaded raises only IosConfigError; and
the builder's plan of a config that loaded keeps its promises (a trunk carries only VLANs
the switch has, its native VLAN among them; one sub-interface per VLAN on a port; one
bridge priority, a multiple of 4096). The runs are derandomized, so CI sees the same
inputs every time.
"""
from __future__ import annotations

import re
import signal
from contextlib import contextmanager
from pathlib import Path

from hypothesis import HealthCheck, given, settings, strategies as st

from labkit.diag import Diagnostic
from labkit.ios import IosConfigError, interface_plan, load, parse, port_info, translate

ROOT = Path(__file__).resolve().parents[1]
SEEDS = {name: (ROOT / "topologies" / name).read_bytes() for name in ("router.ios", "sw3550.ios")}
SEEDS["ros.ios"] = b"""hostname router
interface FastEthernet0/0
 description trunk to sw2950 Fa0/1
interface FastEthernet0/0.1
 encapsulation dot1Q 1 native
 ip address 192.168.1.1 255.255.255.0
 ip nat inside
interface Fa0/0.2
 encapsulation dot1Q 2
 ip address 192.168.2.1 255.255.255.0
 ip access-group 102 in
 ip nat inside
interface Dialer1
 ip address negotiated
 ip nat outside
access-list 102 deny ip 192.168.2.0 0.0.0.255 192.168.1.0 0.0.0.255
access-list 102 permit ip any any
access-list 1 permit 192.168.0.0 0.0.255.255
ip nat inside source list 1 interface Dialer1 overload
ip route 0.0.0.0 0.0.0.0 Dialer1
end
"""
SEEDS["trunk3550.ios"] = b"""hostname sw3550
ip routing
vlan 2
 name voice
vlan 10,20-21
spanning-tree mode rapid-pvst
spanning-tree extend system-id
spanning-tree vlan 1-2 priority 4096
spanning-tree vlan 10 priority 8192
spanning-tree portfast default
interface Vlan1
 ip address 192.168.1.1 255.255.255.0
interface Vlan2
 ip address 192.168.2.1 255.255.255.0
interface range fa0/7 - 8
 switchport trunk encapsulation dot1q
 switchport mode trunk
 switchport trunk allowed vlan 1,2,10
 switchport trunk allowed vlan add 20
 switchport trunk native vlan 2
 spanning-tree cost 19
 spanning-tree guard root
interface fa0/2
 switchport mode access
 switchport access vlan 2
 spanning-tree portfast
 spanning-tree bpduguard enable
interface fa0/3
 spanning-tree portfast disable
end
"""
SEEDS["sw2950.ios"] = b"""hostname sw2950
vlan 2
 name voice
spanning-tree mode pvst
spanning-tree vlan 1,2 priority 28672
interface Vlan1
 ip address 192.168.1.3 255.255.255.0
ip default-gateway 192.168.1.1
interface FastEthernet0/1
 switchport mode trunk
 switchport trunk allowed vlan 1,2
interface FastEthernet0/2
 switchport mode trunk
 spanning-tree portfast trunk
interface FastEthernet0/5
 switchport access vlan 2
 spanning-tree portfast
end
"""
#: the device each seed was written for: (platform, layer3)
SEED_PLATFORM = {"router.ios": ("router", True), "sw3550.ios": ("switch", True), "ros.ios": ("router", True),
                 "trunk3550.ios": ("switch", True), "sw2950.ios": ("switch", False)}
EXAMPLES = 3000
SECONDS_PER_EXAMPLE = 5      # far above the few milliseconds one takes: only a hang trips it
MAX_LINE = 1500              # one printed diagnostic: file name + message + fix, each bounded
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

# Tokens that reach deep into the parser: keywords, edge numbers, near-miss addresses.
VOCAB = ["interface", "range", "ip", "address", "route", "access-list", "access-group", "nat",
         "inside", "outside", "source", "static", "list", "overload", "dhcp", "pool", "network",
         "default-router", "dns-server", "lease", "switchport", "mode", "access", "trunk", "allowed",
         "vlan", "native", "no", "shutdown", "end", "exit", "banner", "motd", "^C", "-", ",",
         "permit", "deny", "host", "any", "eq", "range", "established", "tcp", "udp", "icmp",
         "0.0.0.256", "255.255.255.255", "0.0.0.0", "255.0.255.0", "1.2.3", "/33", "/24",
         "fa0/99", "fa0/0", "Fa0/24", "Gi0/3", "Vlan0", "Vlan4095", "Dialer1", "Null0", "fa0/1.10",
         "0", "-1", "65536", "4294967296", "9" * 40, "\u00b2", "\u0661", "\uff11", "caf\u00e9",
         "secondary", "negotiated", "interface range fa0/2 - 99", "end", "!", "#",
         # layer 2: sub-interfaces, trunks, VLAN definitions, spanning tree
         "encapsulation", "dot1Q", "dot1q", "isl", "native", "second-dot1q", "fa0/0.1", "Fa0/0.4094",
         "fa0/0.4294967296", "fa0/0.0", "Vlan1.2", "name", "except", "add", "remove", "none", "all",
         "1-4094", "4094", "4095", "10-5", "1,,2", "spanning-tree", "portfast", "default", "disable",
         "priority", "4096", "4097", "61440", "root", "primary", "secondary", "cost", "port-priority",
         "rapid-pvst", "pvst", "mst", "configuration", "forward-time", "hello-time", "max-age", "bpduguard",
         "guard", "extend", "system-id", "default-gateway", "routing", "nonegotiate",
         "switchport trunk allowed vlan", "switchport trunk native vlan", "spanning-tree vlan 1-2 priority",
         " encapsulation dot1Q 1 native", "interface fa0/0.10", "spanning-tree mode", "no spanning-tree vlan"]
CONTROLS = [chr(c) for c in range(32)] + ["\x7f", "\x85", "\u2028", "\x1b[31m", "\r", "\x0c"]


@contextmanager
def time_limit(seconds: int):
    def expired(signum, frame):
        raise TimeoutError(f"one config took more than {seconds} s: a hang")
    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def payloads() -> st.SearchStrategy[bytes]:
    """What a corruption puts in: a token, bytes, control characters or a very long run."""
    text = st.one_of(
        st.sampled_from(VOCAB),
        st.tuples(st.sampled_from(["", " "]), st.lists(st.sampled_from(VOCAB), min_size=1, max_size=8))
        .map(lambda t: t[0] + " ".join(t[1])),   # a whole line of keywords, top level or indented
        st.lists(st.sampled_from(CONTROLS), min_size=1, max_size=4).map("".join),
        st.text(max_size=8),
        st.builds(lambda c, n: c * n, st.sampled_from(["A", "9", "1-", "/", ".", "\x1b"]),
                  st.sampled_from([200, 5000, 200_000])),
    )
    raw = st.one_of(st.binary(min_size=1, max_size=12),
                    st.sampled_from([b"\xff", b"\xc3", b"\xe9", b"\x80abc", b"\xed\xa0\x80", b"\x00"]))
    # mostly text: a byte that is not UTF-8 stops the whole file at the decoder
    return st.one_of(*[text.map(lambda t: t.encode("utf-8"))] * 6, raw)


def ops() -> st.SearchStrategy[tuple]:
    where = st.floats(0, 1, allow_nan=False)
    return st.one_of(
        st.tuples(st.just("delete"), where),
        st.tuples(st.just("duplicate"), where),
        st.tuples(st.just("swap"), where, where),
        st.tuples(st.just("insert"), where, payloads()),
        st.tuples(st.just("token"), where, where, payloads()),
        st.tuples(st.just("bytes"), where, payloads()),
        st.tuples(st.just("truncate"), where),
    )


def _at(seq_len: int, f: float) -> int:
    return min(int(f * seq_len), max(seq_len - 1, 0))


def mutate(data: bytes, edits: list[tuple], encoding: str) -> bytes:
    lines = data.split(b"\n")
    for op in edits:
        if not lines:
            lines = [b""]
        i = _at(len(lines), op[1])
        if op[0] == "delete":
            del lines[i]
        elif op[0] == "duplicate":
            lines.insert(i, lines[i])
        elif op[0] == "swap":
            j = _at(len(lines), op[2])
            lines[i], lines[j] = lines[j], lines[i]
        elif op[0] == "insert":
            lines.insert(i, op[2])
        elif op[0] == "token":
            words = lines[i].split(b" ")
            words[_at(len(words), op[2])] = op[3]
            lines[i] = b" ".join(words)
        elif op[0] == "bytes":
            pos = _at(len(lines[i]) + 1, op[1])
            lines[i] = lines[i][:pos] + op[2] + lines[i][pos:]
        elif op[0] == "truncate":
            joined = b"\n".join(lines)
            lines = joined[:int(op[1] * len(joined))].split(b"\n")
    out = b"\n".join(lines)
    if encoding != "utf-8":   # the same text saved in another encoding
        out = out.decode("utf-8", "replace").encode(encoding, "replace")
    return out


def check_diagnostic(d: Diagnostic, path: Path) -> None:
    shown = str(d)
    assert "\n" not in shown and not CONTROL.search(shown), repr(shown[:300])
    assert len(shown) <= MAX_LINE, f"{len(shown)} characters: {shown[:200]}..."
    assert re.match(re.escape(str(path)) + r":[1-9][0-9]*: ", shown), shown[:300]
    for part in (d.message, d.fix):   # also safe for callers that print the fields alone
        assert not CONTROL.search(part) and len(part) <= 700, repr(part[:300])
    assert "internal error" not in d.message, shown


@settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(seed=st.sampled_from(sorted(SEEDS)), edits=st.lists(ops(), min_size=1, max_size=4),
       encoding=st.sampled_from(["utf-8"] * 20 + ["utf-16", "utf-16-le", "latin-1", "cp1252"]),
       platform=st.sampled_from(["seed"] * 6 + [None, None, "switch", "router", "l2"]))
def test_mutated_configs_load_or_fail_with_one_line_each(tmp_path_factory, seed, edits, encoding, platform):
    path = tmp_path_factory.mktemp("fuzz") / seed
    path.write_bytes(mutate(SEEDS[seed], edits, encoding))
    layer3 = True
    if platform == "seed":   # mostly the device the seed was written for
        platform, layer3 = SEED_PLATFORM[seed]
    elif platform == "l2":
        platform, layer3 = "switch", False
    load_and_translate(path, platform, layer3)


def load_and_translate(path: Path, platform: str | None, layer3: bool) -> None:
    """The fuzz tests' oracle: a config or one IosConfigError, safe diagnostics, a plan that holds."""
    with time_limit(SECONDS_PER_EXAMPLE):
        try:
            cfg = load(path, platform=platform, layer3=layer3)
        except IosConfigError as e:
            assert e.diagnostics, "an IosConfigError with no diagnostics"
            for d in e.diagnostics:
                check_diagnostic(d, path)
            return
        for d in cfg.warnings:
            check_diagnostic(d, path)
        try:
            t = translate(cfg, path.parent / "run", wan={"Dialer1": "100.64.0.2/30"})
        except IosConfigError as e:
            for d in e.diagnostics:
                check_diagnostic(d, path)
            return
        t.script()
        for d in t.notes:
            check_diagnostic(d, path)
        check_plan(cfg)


def check_plan(cfg) -> None:
    """What the node expander builds from a config that loaded keeps the layer-2 promises."""
    plan = interface_plan(cfg)
    known = cfg.known_vlans()
    per_port: dict[str, list[int]] = {}
    for p in plan:
        assert len(p.linux) <= 15 and "/" not in p.linux, p.linux
        if p.kind == "trunk":
            assert p.vlans is not None and p.vlans == sorted(set(p.vlans))
            assert p.native is None or p.native in p.vlans, p
            if cfg.platform == "switch":
                assert set(p.vlans) <= known, p
        elif p.kind == "subif":
            assert cfg.platform == "router" and p.parent and 1 <= p.vlan <= 4094, p
            per_port.setdefault(p.parent, []).append(p.vlan)
        elif p.kind == "access":
            assert p.vlan == 1 or p.vlan in cfg.vlans, p
    for parent, vlans in per_port.items():
        assert len(vlans) == len(set(vlans)), (parent, vlans)
        trunk = next(p for p in plan if p.linux == parent)
        assert trunk.kind == "trunk" and trunk.vlans == sorted(vlans), trunk
    st = cfg.stp
    if st.run:
        assert cfg.platform == "switch" and any(p.kind == "trunk" for p in plan)
        assert st.lab_mode in ("stp", "rstp")
        assert st.priority is None or (0 <= st.priority <= 61440 and st.priority % 4096 == 0)
    if not cfg.layer3:
        assert not cfg.ip_routing and not cfg.routes and not cfg.pools and not cfg.nat_pat
        assert sum(1 for i in cfg.interfaces.values() if i.addresses) <= 1
    for name in ("Fa0/1", "Fa0/24", "Vlan1"):
        try:
            port_info(cfg, name)
        except ValueError:
            pass


def test_the_mutator_makes_what_it_says():
    base = b"a b\nc d\ne f\n"
    assert mutate(base, [("delete", 0.0)], "utf-8") == b"c d\ne f\n"
    assert mutate(base, [("swap", 0.0, 0.3)], "utf-8") == b"c d\na b\ne f\n"
    assert mutate(base, [("token", 0.0, 0.9, b"\xff")], "utf-8") == b"a \xff\nc d\ne f\n"
    assert mutate(base, [("truncate", 0.5)], "utf-8") == b"a b\nc "
    assert mutate(base, [("duplicate", 0.0)], "utf-16").startswith(b"\xff\xfe")


def test_lint_and_bring_up_read_the_file_as_load_does(tmp_path):
    """The ios service reads the same file at lint and at render: same decoder, same error."""
    from labkit.ios.service import IosService
    from labkit.lab.errors import ServiceError
    from labkit.lab.model import ServiceSpec

    p = tmp_path / "r.ios"
    p.write_bytes(b"hostname r\n description caf\xe9\n")
    spec = ServiceSpec(kind="ios", name="ios", params={"config": p}, where="topo.yaml:1")
    (d,) = IosService.lint(spec)
    assert str(d) == f"{p}:2: the file is not UTF-8 text: byte 0xe9 (byte offset 27) " \
                     "(fix: save the file as UTF-8 (or plain ASCII) text)"
    node = type("Node", (), {"name": "n1", "run_dir": tmp_path, "spec": None})()
    svc = IosService(node, spec)
    svc.ios_path = lambda: p
    try:
        svc.render()
    except ServiceError as e:
        assert "byte offset 27" in str(e)
    else:
        raise AssertionError("render() accepted a file that is not UTF-8")


# Generated layer-2 configs, block by block: a global line, or a block header (`interface ...`,
# `vlan ...`) with a few of the lines that belong under it, for one kind of device. Half the configs
# use good values only; in the other half one hole in BAD_ONE_IN gets an edge or malformed value and
# one line in ten is a malformed or misplaced one. So many configs load and the plan checks run on
# them, and many fail, each with its line.
BLOCKS = {
    "router": [
        ("interface {s}", [" encapsulation dot1Q {v}", " encapsulation dot1Q {v} native", " encap dot1q {v}",
                           " ip address 10.{o}.{o}.1 255.255.255.0", " shutdown", " ip nat inside",
                           " ip access-group 1{o} in", " description {w}", " spanning-tree portfast"]),
        ("interface {s}\n encapsulation dot1Q {v}", [" ip address 10.{o}.{o}.1 255.255.255.0", " shutdown"]),
        ("interface fa0/0", [" no ip address", " shutdown", " description {w}"]),
        ("ip route 10.{o}.0.0 255.255.0.0 {s}", []), ("ip route 10.{o}.0.0 255.255.0.0 fa0/0", []),
        ("spanning-tree mode {m}", []),
    ],
    "switch": [
        ("interface {i}", [" switchport mode trunk", " switchport mode access", " switchport access vlan {v}",
                           " switchport trunk encapsulation dot1q", " switchport trunk allowed vlan {l}",
                           " switchport trunk allowed vlan add {l}", " switchport trunk allowed vlan remove {l}",
                           " switchport trunk allowed vlan except {l}", " switchport trunk allowed vlan all",
                           " switchport trunk allowed vlan none", " switchport trunk native vlan {v}",
                           " spanning-tree portfast", " spanning-tree portfast trunk", " spanning-tree portfast disable",
                           " spanning-tree cost {c}", " spanning-tree vlan {l} cost {c}",
                           " spanning-tree bpduguard enable", " spanning-tree guard root", " shutdown",
                           " description {w}"]),
        ("interface range fa0/{port} - {port}", [" switchport mode trunk", " switchport trunk encapsulation dot1q",
                                                 " switchport access vlan {v}", " spanning-tree portfast"]),
        ("interface Vlan{v}", [" ip address 10.{o}.{o}.2 255.255.255.0", " shutdown"]),
        ("vlan {l}", [" name {w}"]),
        ("spanning-tree mode {m}", []), ("spanning-tree vlan {l} priority {p}", []),
        ("spanning-tree vlan {l} root primary", []), ("spanning-tree vlan {l} forward-time {t}", []),
        ("spanning-tree portfast default", []), ("spanning-tree extend system-id", []),
        ("no spanning-tree vlan {l}", []), ("spanning-tree mst configuration\n instance 1 vlan {l}", []),
        ("ip default-gateway 10.{o}.{o}.1", []),
    ],
}
BLOCKS["l2"] = BLOCKS["switch"]
BAD_LINES = ["{W}", " {W} {W}", " encapsulation {W} {V}", "spanning-tree {W}", " spanning-tree {W} {W}",
             "spanning-tree vlan {L} {W} {C}", "interface {S}", " switchport trunk allowed vlan {W}",
             " encapsulation dot1Q {v}", "ip routing", "ip route 0.0.0.0 0.0.0.0 10.1.1.1", " no switchport",
             "ip dhcp pool p", " ip address 10.{o}.{o}.3 255.255.255.0"]
BAD_ONE_IN = 9
GOOD = {"v": ["1", "2", "3", "10", "20", "4094"], "l": ["1", "1,2", "1-3", "2,10", "2-20", "1-4094", "1 - 2", "3"],
        "p": ["0", "4096", "8192", "24576", "32768", "61440"], "c": ["1", "19", "100", "200000000"],
        "t": ["4", "15", "30"], "o": [str(n) for n in range(1, 255, 7)], "w": ["voice", "data", "to-router", "X_1"],
        "m": ["pvst", "rapid-pvst", "mst", "rapid"], "port": ["1", "2", "7", "8", "24"],
        "i": ["fa0/1", "fa0/2", "Fa0/7", "fa0/8", "fa0/24", "Gi0/1", "fast 0/3"],
        "s": ["fa0/0.1", "fa0/0.2", "Fa0/0.10", "fa0/1.20", "FastEthernet0/0.30", "fa0/0.4094"]}
BAD = {"v": ["0", "4095", "99999", "-1", "2a", "1.5", ""], "l": ["10-5", "1,,2", ",", "0-3", "x", "4095", ""],
       "p": ["4097", "65536", "100", "-4096", "x"], "c": ["0", "200000001", "x"], "t": ["3", "31", "x"],
       "o": ["0", "255", "256", "x"], "w": ["x" * 40, "caf\u00e9", "\x1b[1m", "", "-", ",", "two words"],
       "m": ["stp", "rstp", "", "pvst2"], "port": ["0", "25", "99999", "x"],
       "i": ["fa0/99", "Vlan0", "Dialer1", "fa0/0.10", "Serial0", "bogus"],
       "s": ["fa0/0.4294967295", "fa0/0.0", "fa0/24.5", "Vlan1.1", "fa0/0.10.1", "fa0/5.1"]}


class _Holes(dict):
    """Fills {v} (VLAN), {l} (VLAN list), {p} (priority), {c} (cost), {t} (timer), {o} (octet), {w} (word),
    {m} (mode), {port}, {i} (port name), {s} (sub-interface) from a stream of picks: good values, or with
    `malformed` one pick in BAD_ONE_IN an edge or malformed one; an upper-case hole ({W}) is always bad."""

    def __init__(self, picks, malformed: bool):
        super().__init__()
        self.picks, self.malformed = picks, malformed

    def __missing__(self, key: str) -> str:
        r = next(self.picks, 0)
        bad = key.isupper() or (self.malformed and r % BAD_ONE_IN == 0)
        pool = (BAD if bad else GOOD)[key.lower()]
        return pool[(r // BAD_ONE_IN) % len(pool)]


def generate(device: str, blocks: list[tuple[int, list[int], list[int]]], vlans: str, malformed: bool) -> str:
    """One config for `device` from picks: (block, its sub-line picks, hole picks)."""
    grammar = BLOCKS[device]
    out = [] if device == "router" else [vlans]
    holes = _Holes(iter([]), malformed)
    for pick, subs, fill in blocks:
        holes = _Holes(iter(fill), malformed)
        header, under = grammar[pick % len(grammar)]
        lines = [header] + [under[k % len(under)] for k in subs] if under else [header]
        if malformed and pick % 10 == 0:
            lines.insert(pick % (len(lines) + 1), BAD_LINES[(pick // 10) % len(BAD_LINES)])
        out += [line.format_map(holes) for line in lines]
    return "\n".join(out) + "\n"


@settings(max_examples=1000, derandomize=True, database=None, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(device=st.sampled_from(["router", "switch", "l2"]),
       blocks=st.lists(st.tuples(st.integers(0, 10**6), st.lists(st.integers(0, 10**6), max_size=5),
                                 st.lists(st.integers(0, 10**6), min_size=12, max_size=12)), min_size=1, max_size=12),
       vlans=st.sampled_from(["", "vlan 2-30\n", "vlan 2\n name voice\nvlan 10,20\n"]),
       malformed=st.booleans(), platform=st.sampled_from(["device"] * 5 + [None, "switch", "router"]))
def test_generated_layer2_configs_load_or_fail_with_one_line_each(tmp_path_factory, device, blocks, vlans, malformed,
                                                                   platform):
    path = tmp_path_factory.mktemp("l2fuzz") / f"{device}.ios"
    path.write_text(generate(device, blocks, vlans, malformed), encoding="utf-8")
    layer3 = True
    if platform == "device":   # mostly the device the lines were drawn for
        platform, layer3 = ("router", True) if device == "router" else ("switch", device == "switch")
    load_and_translate(path, platform, layer3)


def test_the_generator_makes_configs_that_load_and_configs_that_fail():
    """Without this the plan checks above could be starved: count both outcomes on a fixed sample."""
    import random
    rng = random.Random(13)
    outcome = {True: 0, False: 0}
    kinds = set()
    for n in range(300):
        device = ("router", "switch", "l2")[n % 3]
        blocks = [(rng.randrange(10**6), [rng.randrange(10**6) for _ in range(rng.randrange(5))],
                   [rng.randrange(10**6) for _ in range(12)]) for _ in range(rng.randint(1, 10))]
        text = generate(device, blocks, "vlan 2-30\n", malformed=n % 2 == 1)
        try:
            cfg = parse(text, "gen.ios", "router" if device == "router" else "switch", layer3=device != "l2")
        except Exception as e:   # parse() never raises on bad input
            raise AssertionError(f"{e!r} on:\n{text}") from None
        outcome[cfg.ok] += 1
        if cfg.ok:
            kinds |= {p.kind for p in interface_plan(cfg)} | ({"stp"} if cfg.stp.run else set())
    assert outcome[True] >= 60 and outcome[False] >= 60, outcome
    assert {"trunk", "subif", "access", "svi", "stp"} <= kinds, kinds
