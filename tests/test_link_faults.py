"""Link faults without a lab: the validation of every value and link, and the nft/tc commands
rendered from them (labkit.lab.faults). The lab test is tests/test_link_faults_lab.py."""
from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from labkit import cli
from labkit.lab import loader
from labkit.lab.faults import (FaultError, LOSS_STEPS, describe_line, drop_rules, format_rate,
                               parse_loss, parse_rate, refuse_netem, render_nft, resolve_link,
                               route_argv, tbf_argv, tbf_burst, DropRule)

from labtest import labkit_cli

TOPO = Path(__file__).parent / "topologies"


# -- loss ----------------------------------------------------------------------------------
@pytest.mark.parametrize("value, frac", [
    ("20%", 0.2), ("0%", 0.0), ("100%", 1.0), ("0.5%", 0.005), (" 5 % ", 0.05), (".25%", 0.0025),
    ("12.34%", 0.1234), (0.05, 0.05), (0, 0.0), (1, 1.0), (0.2, 0.2),
])
def test_loss_accepted(value, frac):
    assert parse_loss(value) == pytest.approx(frac)


@pytest.mark.parametrize("value, says", [
    ("5", "not a percentage"), ("0.05", "not a percentage"), ("-5%", "loss -5% is outside 0-100%"),
    ("-0.01%", "outside 0-100%"), ("+101%", "outside 0-100%"),
    ("101%", "outside 0-100%"), ("100.01%", "outside 0-100%"), ("5%%", "not a percentage"),
    ("abc", "not a percentage"), ("", "not a percentage"), ("nan%", "not a percentage"),
    (5, "outside 0..1"), (1.5, "outside 0..1"), (-0.1, "outside 0..1"), (float("nan"), "outside 0..1"),
    (float("inf"), "outside 0..1"), (True, "not a number"), (None, "not a number"), ([5], "not a number"),
    ("0.001%", "finer than 0.01%"), (0.00001, "finer than 0.01%"),
])
def test_loss_refused_with_one_line(value, says):
    with pytest.raises(FaultError) as exc:
        parse_loss(value)
    assert says in str(exc.value) and "\n" not in str(exc.value)


# -- rate ----------------------------------------------------------------------------------
@pytest.mark.parametrize("value, bits", [
    ("10mbit", 10_000_000), ("10Mbit", 10_000_000), ("1.5mbit", 1_500_000), ("512kbit", 512_000),
    ("1gbit", 10**9), ("8000bit", 8000), (" 2 mbit ", 2_000_000), (10_000_000, 10_000_000),
])
def test_rate_accepted(value, bits):
    assert parse_rate(value) == bits


@pytest.mark.parametrize("value, says", [
    ("10mbps", "ambiguous"), ("10MB/s", "ambiguous"), ("10kbps", "ambiguous"), ("10", "no known unit"),
    ("10mb", "no known unit"), ("10 furlongs", "no known unit"), ("mbit", "not a rate"),
    ("-1mbit", "outside"), ("1kbit", "outside 8kbit-100gbit"), ("101gbit", "outside"),
    (0, "outside"), (10.5, "not a rate"), (None, "not a rate"), (True, "not a rate"), ("", "not a rate"),
])
def test_rate_refused_with_one_line(value, says):
    with pytest.raises(FaultError) as exc:
        parse_rate(value)
    assert says in str(exc.value) and "\n" not in str(exc.value)


def test_format_rate_round_trips():
    for bits in (8000, 10_000_000, 1_500_000, 10**9, 12_345):
        assert parse_rate(format_rate(bits)) == bits
    assert format_rate(10_000_000) == "10mbit"


# -- generated bad values: always FaultError, never another exception ------------------------
_junk = st.one_of(st.text(max_size=12), st.floats(allow_nan=True, allow_infinity=True),
                  st.integers(min_value=-10**12, max_value=10**12), st.none(), st.booleans())


@settings(max_examples=400, deadline=None)
@given(_junk)
def test_generated_loss_values_parse_or_fail_clearly(value):
    try:
        frac = parse_loss(value)
    except FaultError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("loss ")
    else:
        assert 0 <= frac <= 1 and abs(frac * LOSS_STEPS - round(frac * LOSS_STEPS)) < 1e-9


@settings(max_examples=400, deadline=None)
@given(_junk)
def test_generated_rate_values_parse_or_fail_clearly(value):
    try:
        bits = parse_rate(value)
    except FaultError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("rate ")
    else:
        assert 8000 <= bits <= 100 * 10**9


def test_seeded_out_of_range_values_are_all_refused():
    rng = random.Random(14)
    for _ in range(500):
        pct = rng.choice([rng.uniform(100.01, 10**6), rng.uniform(-10**6, -0.01)])
        with pytest.raises(FaultError):
            parse_loss(f"{pct:.2f}%")
        with pytest.raises(FaultError):
            parse_loss(pct / 100)
        unit = rng.choice(["bps", "kbps", "mbps", "gbps", "mb", "kb", "b", "m", "xbit", "bits/s"])
        with pytest.raises(FaultError):
            parse_rate(f"{rng.randint(1, 10**4)}{unit}")


# -- netem-only impairments ------------------------------------------------------------------
@pytest.mark.parametrize("option", ["delay", "jitter", "duplicate", "corrupt", "reorder"])
def test_netem_only_options_are_refused_and_say_why(option):
    with pytest.raises(FaultError) as exc:
        refuse_netem(**{option: "10ms"})
    assert option in str(exc.value) and "no netem" in str(exc.value)


def test_no_netem_option_is_not_refused():
    refuse_netem(delay=None, jitter=None)


# -- which link ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny():
    return loader.load(TOPO / "tiny.yaml")


def test_resolve_link_in_either_order(tiny):
    link, a, b = resolve_link(tiny, "h1", "r1")
    assert (str(a), str(b)) == ("h1:eth0", "r1:eth0") and f"{link.a} -- {link.b}" == "r1:eth0 -- h1:eth0"
    _, a, b = resolve_link(tiny, "r1:eth1", "sw")
    assert (str(a), str(b)) == ("r1:eth1", "sw:up")


@pytest.mark.parametrize("a, b, says", [
    ("nope", "r1", "no node 'nope'"), ("r1", "nope", "no node 'nope'"),
    ("h1", "h2", "no link joins h1 and h2"), ("r1:eth7", "h1", "r1 has no interface 'eth7'"),
    ("r1:eth1", "h1", "no link joins r1:eth1 and h1"), ("h1", "h1", "two different nodes"),
])
def test_resolve_link_errors(tiny, a, b, says):
    with pytest.raises(FaultError) as exc:
        resolve_link(tiny, a, b)
    assert says in str(exc.value) and "\n" not in str(exc.value)


def test_several_links_need_interfaces():
    topo = loader.load(TOPO / "trunk-loop.yaml")
    pairs = {}
    for l in topo.links:
        pairs.setdefault(frozenset((l.a.node, l.b.node)), []).append(l)
    (x, y), links = next((tuple(sorted(k)), v) for k, v in pairs.items() if len(v) > 1)
    with pytest.raises(FaultError) as exc:
        resolve_link(topo, x, y)
    assert f"name one as {x}:IFACE {y}:IFACE" in str(exc.value)
    first = links[0]
    _, a, b = resolve_link(topo, str(first.a), str(first.b))
    assert (a, b) == (first.a, first.b)


# -- rendering -------------------------------------------------------------------------------
def test_render_nft_makes_only_its_own_table():
    script = render_nft([DropRule("ingress", "fa0-0.10", 0.2, 'loss a:x -> b:"y"')])
    lines = script.splitlines()
    assert lines[:2] == ["table netdev labkit_faults", "delete table netdev labkit_faults"]
    assert 'type filter hook ingress device "fa0-0.10" priority 0; policy accept;' in script
    assert "numgen random mod 10000 < 2000 counter drop" in script
    assert '"y"' not in script     # a quote in the comment would end the string
    assert "chain ingress0 {" in script
    assert "flush ruleset" not in script


def test_render_nft_without_rules_removes_the_table():
    assert render_nft([]) == "table netdev labkit_faults\ndelete table netdev labkit_faults\n"


@pytest.mark.parametrize("loss, steps", [(0.2, 2000), (0.0001, 1), (0.9999, 9999), (0.1234, 1234)])
def test_render_nft_steps(loss, steps):
    assert f"mod 10000 < {steps} counter drop" in render_nft([DropRule("ingress", "eth0", loss, "x")])


@pytest.mark.parametrize("hook, verdict", [("ingress", "drop"), ("egress", 'fwd to "lo"')])
def test_render_nft_100_percent_takes_every_packet_without_numgen(hook, verdict):
    # numgen random mod 10000 draws 0..9999: nft refuses "< 10000" (out of its range)
    script = render_nft([DropRule(hook, "eth0", parse_loss("100%"), "x")])
    rule = [l.strip() for l in script.splitlines() if verdict in l]
    assert rule == [f'counter {verdict} comment "x"']


NUMGEN = re.compile(r"numgen random mod (\d+) < (\d+) ")


@settings(max_examples=500, deadline=None)
@given(st.integers(min_value=0, max_value=LOSS_STEPS), st.sampled_from(["{}%", " {} %", "0{}%", "+{}%"]),
       st.sampled_from(["ingress", "egress"]))
def test_every_accepted_loss_renders_a_rule_within_numgens_range(steps, form, hook):
    """Every loss 0-100% in steps of 0.01 % is accepted, and its rule is one nft can take:
    numgen's draw is 0..modulus-1, so a comparison constant is 1..modulus-1, or no numgen
    at all (100 %); the fraction of the draws it takes is the loss asked for."""
    text = form.format(f"{steps / 100:.2f}".rstrip("0").rstrip("."))
    frac = parse_loss(text)
    assert round(frac * LOSS_STEPS) == steps
    script = render_nft([DropRule(hook, "eth0", frac, text)])
    rule = next(l for l in script.splitlines() if "counter" in l)
    m = NUMGEN.search(rule)
    if m is None:
        assert steps == LOSS_STEPS and "numgen" not in rule
    else:
        modulus, below = int(m.group(1)), int(m.group(2))
        assert 0 <= below < modulus == LOSS_STEPS and below == steps


def test_render_nft_egress_steals_rather_than_drops():
    # a drop at egress is reported to the sending socket (ping resends); fwd to lo is not
    script = render_nft([DropRule("egress", "eth0", 0.2, "x")])
    assert 'hook egress device "eth0"' in script
    assert 'mod 10000 < 2000 counter fwd to "lo"' in script and " drop " not in script


@pytest.mark.parametrize("rule", [DropRule("prerouting", "eth0", 0.1, "x"),
                                  DropRule("ingress", 'eth0" ; flush ruleset', 0.1, "x"),
                                  DropRule("ingress", "a" * 16, 0.1, "x")])
def test_render_nft_refuses_what_is_not_a_hook_or_interface(rule):
    with pytest.raises(ValueError):
        render_nft([rule])


def test_tbf_argv():
    assert tbf_argv("eth0", 10_000_000) == ["tc", "qdisc", "replace", "dev", "eth0", "root", "tbf",
                                           "rate", "10mbit", "burst", "5000", "latency", "50ms"]
    assert tbf_argv("eth0", None) == ["tc", "qdisc", "del", "dev", "eth0", "root"]
    assert tbf_burst(64_000) >= 2 * 1514          # at least two full frames, even when slow
    assert tbf_burst(10**9) == 500_000             # 4 ms at 1 gbit/s


def test_loss_drops_at_the_receivers_ingress(tiny):
    record = {"r1:eth0 -- h1:eth0": {"down": [], "loss": {"h1:eth0": 0.2}, "rate": {}}}
    assert drop_rules(tiny, record, "h1") == []
    assert drop_rules(tiny, record, "r1") == [DropRule("ingress", "eth0", 0.2, "labkit loss h1:eth0 -> r1:eth0")]


def test_loss_towards_an_ovs_port_drops_at_the_senders_egress():
    topo = loader.load(TOPO / "trunk-pair.yaml")
    record = {"sw1:eth1 -- h1:eth0": {"down": [], "loss": {"h1:eth0": 0.05, "sw1:eth1": 0.1}, "rate": {}}}
    # h1 -> sw1: sw1:eth1 is a port of sw1's Open vSwitch, which reads frames before ingress,
    # so h1's egress; sw1 -> h1: h1's eth0 is a plain interface, so its ingress
    assert sorted(drop_rules(topo, record, "h1"), key=lambda r: r.hook) == [
        DropRule("egress", "eth0", 0.05, "labkit loss h1:eth0 -> sw1:eth1"),
        DropRule("ingress", "eth0", 0.1, "labkit loss sw1:eth1 -> h1:eth0")]
    assert drop_rules(topo, record, "sw1") == []


def test_describe_line():
    fault = {"link": "r1:eth0 -- h1:eth0", "down": True, "loss": {"h1:eth0 -> r1:eth0": "20%"},
             "rate": {"h1:eth0 -> r1:eth0": "10mbit"}}
    assert describe_line(fault) == ("r1:eth0 -- h1:eth0  down; loss 20% h1:eth0 -> r1:eth0; "
                                     "rate 10mbit h1:eth0 -> r1:eth0")


# -- the command line refuses before it looks for a lab -----------------------------------------
@pytest.mark.parametrize("args, says", [
    (["--loss", "5"], "loss '5' is not a percentage"),
    (["--loss", "150%"], "loss 150% is outside 0-100%"),
    (["--loss", "-5%"], "loss -5% is outside 0-100%"),
    (["--loss=-5%"], "loss -5% is outside 0-100%"),
    (["--rate", "-1mbit"], "rate '-1mbit' is outside"),
    (["--rate", "10mbps"], "ambiguous"),
    (["--rate", "10 parsecs"], "no known unit"),
    (["--delay", "10ms"], "no netem"),
    (["--jitter", "2ms"], "no netem"),
    (["down", "--loss", "5%"], "takes no --loss/--rate"),
    (["up", "--both"], "--both goes with --loss/--rate"),
])
def test_cli_refuses_in_one_line(args, says):
    p = labkit_cli("link", "h1", "r1", *args, "--lab", "lkfaultnone", check=False)
    assert p.returncode == 2 and says in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1 and "Traceback" not in p.stderr


def test_words_link_does_not_take_get_links_usage():
    # argparse took "down" after an option for an extra word, refused by the top level's usage
    p = labkit_cli("link", "h1", "r1", "--loss", "5%", "down", "--lab", "lkfaultnone", check=False)
    assert p.returncode == 2 and p.stderr.startswith("usage: labkit link ")
    assert p.stderr.strip().endswith("labkit link: error: unrecognized arguments: down"), p.stderr


def test_signed_values_reach_the_range_check_and_nothing_else_moves():
    assert cli._signed_values(["link", "a", "b", "--loss", "-5%", "--rate", "-1mbit"]) == \
        ["link", "a", "b", "--loss=-5%", "--rate=-1mbit"]
    assert cli._signed_values(["capture", "h1", "--duration", "-1s"]) == ["capture", "h1", "--duration=-1s"]
    for argv in (["exec", "h1", "--", "ping", "--loss", "-5%"], ["link", "a", "b", "--loss", "--both"],
                 ["capture", "h1", "--filter", "-5%"], []):
        assert cli._signed_values(argv) == argv


class LiveNode:
    """A node of a running lab as `labkit link` sees it: its model, and `ip -j addr` (its
    interfaces now) through run()."""

    def __init__(self, spec, names):
        self.spec, self.name = spec, spec.name
        self.names = names

    def run(self, argv, **kw):
        import json
        import subprocess
        assert argv[:3] == ["ip", "-j", "addr"]
        return subprocess.CompletedProcess(argv, 0, json.dumps([{"ifname": n, "flags": ["UP"]} for n in self.names]), "")


def test_link_takes_the_interface_names_capture_takes():
    """`labkit link sw2950:Fa0/1 sw3550` (an IOS name, as `labkit capture` takes it)."""
    topo = loader.load("campus-trunk")

    class CampusLab:
        def __init__(self):
            self.topo = topo

        def node(self, name):
            spec = topo.nodes[name]
            return LiveNode(spec, ["lo", *spec.interfaces])

    lab = CampusLab()
    assert topo.nodes["sw2950"].managed_by == "ios"
    a, b = cli._link_end(lab, "sw2950:Fa0/1"), cli._link_end(lab, "sw3550")
    assert (a, b) == ("sw2950:fa0-1", "sw3550")
    link, end_a, end_b = resolve_link(topo, a, b)
    assert (str(end_a), str(end_b)) == ("sw2950:fa0-1", "sw3550:fa0-7")
    assert cli._link_end(lab, "sw2950:FastEthernet0/2") == "sw2950:fa0-2"
    assert cli._link_end(lab, "sw2950:fa0-2") == "sw2950:fa0-2"      # the Linux name as it is
    assert cli._link_end(lab, "pc1:eth0") == "pc1:eth0"              # not an IOS node
    for word in ("sw2950:Fa0/9", "nosuch:Fa0/1"):                      # left for resolve_link to refuse
        assert cli._link_end(lab, word) == word
    with pytest.raises(FaultError, match=r"sw2950 has no interface 'Fa0/9' \(interfaces: "):
        resolve_link(topo, "sw2950:Fa0/9", "sw3550")


# -- the routes `down` takes with it and `up` puts back -----------------------------------------
@pytest.mark.parametrize("route, argv", [
    ({"dst": "default", "gateway": "10.0.1.1", "flags": []},
     ["ip", "route", "replace", "default", "via", "10.0.1.1", "dev", "eth0"]),
    ({"dst": "10.9.0.0/16", "gateway": "10.0.1.254", "metric": 20, "protocol": "static", "flags": ["onlink"]},
     ["ip", "route", "replace", "10.9.0.0/16", "via", "10.0.1.254", "dev", "eth0", "metric", "20",
      "proto", "static", "onlink"]),
    ({"dst": "10.8.0.0/24", "scope": "link", "flags": []},
     ["ip", "route", "replace", "10.8.0.0/24", "dev", "eth0", "scope", "link"]),
    ({"dst": "10.0.1.0/24", "protocol": "kernel", "scope": "link", "prefsrc": "10.0.1.10", "flags": []}, None),
    ({"dst": "10.7.0.0/24", "nexthops": [{"gateway": "10.0.1.1"}], "flags": []}, None),
    ({"type": "broadcast", "dst": "10.0.1.255", "flags": []}, None),
    ({"flags": []}, None),
])
def test_route_argv(route, argv):
    assert route_argv("eth0", route) == argv
