"""`configure` on a running device, its pure half (labkit.ios.live.edit_running): `ip route` and
`no ip route` lines checked in full against the running config before anything changes, and
translated by bring-up's own route translation. The live change itself is in
tests/test_ios_lab.py (test_configure_routes_live...)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from labkit.ios import IosConfigError, translate
from labkit.ios.live import edit_running
from labkit.ios.source import split_lines

ROOT = Path(__file__).resolve().parents[1]
SW3550 = split_lines((ROOT / "topologies" / "sw3550.ios").read_text())
ROUTER = split_lines((ROOT / "topologies" / "router.ios").read_text())


def edit(lines: str, running: list[str] = SW3550, platform: str = "switch", layer3: bool = True):
    return edit_running(running, lines, platform, layer3, "sw3550.ios")


def routes(cfg) -> list[tuple[str, str]]:
    return [(str(r.network), str(r.next_hop or r.interface)) for r in cfg.routes]


def test_an_ip_route_line_joins_the_running_config_before_end():
    e = edit("ip route 0.0.0.0 0.0.0.0 192.168.254.1")
    assert routes(e.config) == [("0.0.0.0/0", "FastEthernet0/1"), ("0.0.0.0/0", "192.168.254.1")]
    assert e.routes and e.text[-1] == "end" and e.text[-2] == "ip route 0.0.0.0 0.0.0.0 192.168.254.1"
    assert e.input_line(len(e.text) - 1) == 1 and e.input_line(3) is None


def test_no_ip_route_removes_the_matching_line_whatever_the_interface_spelling():
    e = edit("no ip route 0.0.0.0 0.0.0.0 FastEthernet0/1")
    assert routes(e.config) == [] and e.routes
    assert not any(l.startswith("ip route") for l in e.text)
    e = edit("no ip route 0.0.0.0 0.0.0.0 Fa0/1\nip route 0.0.0.0 0.0.0.0 192.168.254.1")
    assert routes(e.config) == [("0.0.0.0/0", "192.168.254.1")]


def test_no_ip_route_with_prefix_and_mask_alone_removes_every_route_to_it():
    running = SW3550[:-1] + ["ip route 10.0.0.0 255.0.0.0 192.168.254.1",
                             "ip route 10.0.0.0 255.0.0.0 Null0 250", "end"]
    assert len(edit("", running).config.routes) == 3
    assert routes(edit("no ip route 10.0.0.0 255.0.0.0", running).config) == [("0.0.0.0/0", "FastEthernet0/1")]
    # with a next hop, only that one goes
    assert routes(edit("no ip route 10.0.0.0 255.0.0.0 Null0", running).config)[-1] == ("10.0.0.0/8", "192.168.254.1")


def test_a_route_added_and_removed_in_one_input_is_gone_and_later_lines_keep_their_numbers():
    with pytest.raises(IosConfigError) as err:
        edit("ip route 10.0.0.0 255.0.0.0 192.168.254.1\nno ip route 10.0.0.0 255.0.0.0\n"
             "ip route 10.1.0.0 255.255.0.0 bogus0/9")
    assert "configure:3" in str(err.value)
    e = edit("ip route 10.0.0.0 255.0.0.0 192.168.254.1\nno ip route 10.0.0.0 255.0.0.0")
    assert routes(e.config) == [("0.0.0.0/0", "FastEthernet0/1")]


@pytest.mark.parametrize("line, words", [
    ("no ip route 10.0.0.0 255.0.0.0 192.168.254.1", "no matching route to delete"),
    ("ip route 10.0.0.1 255.0.0.0 192.168.254.1", "host bits set"),
    ("ip route 10.0.0.0 255.0.0.0", "usage: ip route"),
    ("ip route 10.0.0.0 255.0.255.0 192.168.254.1", "mask"),
    ("ip route 10.0.0.0 255.0.0.0 192.168.254.1 300", "administrative distance"),
    ("no ip route 10.0.0.0 255.0.0.0 192.168.254.1 foo", "unexpected 'foo'"),
])
def test_a_bad_route_line_is_an_error_on_its_input_line_and_nothing_changes(line, words):
    running = list(SW3550)
    with pytest.raises(IosConfigError) as err:
        edit_running(running, f"! a comment\n\n{line}", "switch", True)
    assert f"configure:3: " in str(err.value) and words in str(err.value), str(err.value)
    assert running == SW3550


def test_other_global_lines_are_refused_by_line_and_ip_route_is_not_a_2950_command():
    with pytest.raises(ValueError, match=r"line 2 'ip address .*only interface switchport lines and 'ip route' lines"):
        edit("int fa0/1\n ip address 10.0.0.1 255.0.0.0")
    with pytest.raises(ValueError, match="line 1 'ip routing'"):
        edit("ip routing")
    l2 = ["hostname sw2950", "interface FastEthernet0/1", " switchport mode access", "end"]
    with pytest.raises(IosConfigError, match=r"configure:1: .*does not route"):
        edit("ip route 0.0.0.0 0.0.0.0 192.168.1.1", l2, "switch", False)


def test_the_new_route_is_translated_as_at_bring_up(tmp_path):
    e = edit("no ip route 0.0.0.0 0.0.0.0 Fast0/1\nip route 0.0.0.0 0.0.0.0 192.168.254.1")
    t = translate(e.config, tmp_path)
    assert [s.argv for s in t.routes][-1] == ["ip", "route", "replace", "default", "via", "192.168.254.1",
                                              "metric", "1", "proto", "static"]
    assert [s.argv[:4] for s in t.routes[:2]] == [["ip", "route", "flush", "table"]] * 2
    assert all(s in t.steps for s in t.routes)
    router = edit_running(ROUTER, "ip route 10.0.0.0 255.0.0.0 Null0", "router", True)
    t = translate(router.config, tmp_path, wan={"Dialer1": "100.64.0.2/30"})
    assert ["ip", "route", "replace", "unreachable", "10.0.0.0/8", "metric", "1", "proto", "static"] in \
        [s.argv for s in t.routes]


# -- generated route lines ------------------------------------------------------------------
TOKENS = st.sampled_from([
    "0.0.0.0", "10.0.0.0", "192.168.254.1", "192.168.1.0", "255.255.255.0", "255.0.0.0", "0.0.0.0",
    "255.255.255.255", "256.1.1.1", "1.2.3", "10.0.0.1", "-1", "0", "1", "255", "256", "99999999999",
    "Fast0/1", "FastEthernet0/1", "Fa0/24", "Fa0/99", "Vlan1", "Vlan4095", "Null0", "Dialer1", "Gi0/1",
    "fast", "0/1", "permanent", "name", "tag", "track", "x", "\u00e9t\u00e9", "\x00", "\x1b[31m", "!", "end",
    "a" * 300, "ip", "route", "no"])
GOOD = st.builds(lambda no, net, via, dist: f"{no}ip route {net} {via}{dist}",
                 st.sampled_from(["", "no "]),
                 st.sampled_from(["0.0.0.0 0.0.0.0", "10.0.0.0 255.0.0.0", "192.168.3.0 255.255.255.0"]),
                 st.sampled_from(["192.168.254.1", "Fast0/1", "FastEthernet0/1", "Null0", "Vlan2", "192.168.1.9"]),
                 st.sampled_from(["", " 5", " 250"]))
BAD = st.tuples(st.sampled_from(["ip route", "no ip route", "IP ROUTE", "no  ip   route", " ip route"]),
                  st.lists(TOKENS, max_size=7)).map(lambda t: " ".join([t[0], *t[1]]))
LINES = st.one_of(GOOD, BAD)


@settings(max_examples=400, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(LINES, min_size=1, max_size=4))
def test_generated_route_lines_apply_or_fail_by_line_and_change_nothing(lines):
    running = list(SW3550)
    try:
        e = edit_running(running, "\n".join(lines), "switch", True)
    except IosConfigError as err:
        for d in err.errors:
            assert d.file == "configure" and 1 <= d.line <= len(lines), str(d)
            assert "\n" not in str(d) and len(str(d)) < 1200
    except ValueError as err:       # only an `end`-less refusal names a line
        assert re.match(r"line \d+ '", str(err)), str(err)
    else:   # only route lines come and go; each route left is one of the config's lines
        is_route = re.compile(r"\s*ip\s+route\s", re.I).match
        assert [l for l in e.text if not is_route(l)] == [l for l in SW3550 if not is_route(l)]
        assert len(e.config.routes) == sum(1 for l in e.text if is_route(l))
    assert running == SW3550
