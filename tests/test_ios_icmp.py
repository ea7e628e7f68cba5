"""IOS's ICMP answers in the IOS subset: `[no] ip unreachables` on an interface and on
Null0, `[no] ip proxy-arp`, and how they are rendered (nft reject with IOS's 500 ms rate
limit, unreachable or blackhole routes, the proxy_arp sysctl). A derandomized fuzz of
malformed lines checks each fails with a clear error on its line, never a crash.
"""
from __future__ import annotations

import re
from pathlib import Path

from hypothesis import given, settings, strategies as st

from labkit.lab.model import ServiceSpec
from labkit.ios import IosConfigError, parse, translate
from labkit.ios.nft import DENY_MARK, UNREACH_INTERVAL_MS, UNREACH_SET, render_nft
from labkit.ios.service import IosService
from labkit.ios.translate import ICMP_RATEMASK

ROOT = Path(__file__).resolve().parents[1]
MARK = f"{DENY_MARK:#x}"
BASE = ("vlan 2\nvlan 3\ninterface Vlan1\n ip address 10.1.0.1 255.255.255.0\n"
        "interface Vlan2\n ip address 10.2.0.1 255.255.255.0\n ip access-group 102 in\n"
        "interface Vlan3\n ip address 10.3.0.1 255.255.255.0\n ip access-group 102 out\n"
        "access-list 102 deny ip 10.2.0.0 0.0.0.255 10.1.0.0 0.0.0.255\n"
        "access-list 102 permit ip any any\n")


def _chain(nft: str, name: str) -> list[str]:
    body = nft[nft.index(f"chain {name} {{"):]
    body = body[:body.index("\n\t}")]
    return [line.strip() for line in body.splitlines()[1:] if not line.strip().startswith("type ")]


def _shell(t) -> list[str]:
    return [s.shell() for s in t.steps]


def test_interface_unreachables_default_on_and_negated():
    cfg = parse(BASE + "interface Vlan2\n no ip unreachables\ninterface Vlan3\n ip unreach\n", "x")
    assert not cfg.errors and not cfg.warnings, cfg.errors + cfg.warnings
    assert [cfg.interface(n).unreachables for n in ("Vlan1", "Vlan2", "Vlan3")] == [True, False, True]
    cfg = parse(BASE + "interface Vlan2\n no ip unreachables\n ip unreachables\n", "x")
    assert cfg.interface("Vlan2").unreachables


def test_a_deny_rejects_with_admin_prohibited_once_per_500_ms():
    nft = render_nft(parse(BASE, "x"), {})
    acl = _chain(nft, "acl_102")
    assert acl[0].endswith(f'counter meta mark set {MARK} return comment "102 | 10 | deny ip 10.2.0.0 '
                           '0.0.0.255 10.1.0.0 0.0.0.255"'), acl[0]
    assert acl[-1] == f'counter meta mark set {MARK} return comment "102 | implicit | deny any"'
    assert not any(" drop" in r or "reject" in r for r in acl)   # the chain is shared: it only marks
    assert f"set {UNREACH_SET} {{ type mark; size 16; flags dynamic,timeout; }}" in nft
    assert UNREACH_INTERVAL_MS == 500   # IOS: ip icmp rate-limit unreachable 500
    fwd = _chain(nft, "forward")
    reject = (f'meta mark {MARK} meta mark != @{UNREACH_SET} update @{UNREACH_SET} '
              f'{{ meta mark timeout 500ms }} counter reject with icmp admin-prohibited')
    # inbound ACLs first (IOS checks `in` before routing), then outbound; each followed by its verdict
    assert fwd == [
        'iifname "vlan2" jump acl_102 comment "ip access-group 102 in on Vlan2"',
        f'iifname "vlan2" {reject} comment "ip unreachables on Vlan2"',
        f'iifname "vlan2" meta mark {MARK} counter drop comment "denied on Vlan2"',
        'oifname "vlan3" jump acl_102 comment "ip access-group 102 out on Vlan3"',
        f'oifname "vlan3" {reject} comment "ip unreachables on Vlan3"',
        f'oifname "vlan3" meta mark {MARK} counter drop comment "denied on Vlan3"']
    assert _chain(nft, "input") == fwd[:3]   # to the device itself: the `in` ACL only


def test_no_ip_unreachables_drops_silently_on_that_interface_only():
    nft = render_nft(parse(BASE + "interface Vlan2\n no ip unreachables\n", "x"), {})
    fwd = _chain(nft, "forward")
    assert not any("reject" in r for r in fwd if '"vlan2"' in r)
    assert f'iifname "vlan2" meta mark {MARK} counter drop comment "denied on Vlan2, no ip unreachables"' in fwd
    assert any("reject" in r for r in fwd if '"vlan3"' in r)


def test_acl_reject_renders_for_nft(tmp_path):
    """The rendered ruleset passes `nft -c` (parsed by nft, nothing applied)."""
    import shutil
    import subprocess
    nft_bin = shutil.which("nft")
    if nft_bin is None:
        return
    text = render_nft(parse(BASE, "x"), {}).replace("labkit_ios", "labkit_ios_check")
    (tmp_path / "r.nft").write_text(text)
    p = subprocess.run([nft_bin, "-c", "-f", str(tmp_path / "r.nft")], capture_output=True, text=True)
    assert p.returncode == 0 or "Operation not permitted" in p.stderr, p.stderr


def test_null0_routes_answer_unreachable_unless_turned_off(tmp_path):
    text = BASE + "ip route 192.168.3.0 255.255.255.0 Null0\n"
    t = translate(parse(text, "x"), tmp_path)
    assert "ip route replace unreachable 192.168.3.0/24 metric 1 proto static" in _shell(t)
    cfg = parse(text + "interface Null0\n no ip unreachables\n", "x")
    assert not cfg.errors and not cfg.null_unreachables
    t = translate(cfg, tmp_path)
    assert "ip route replace blackhole 192.168.3.0/24 metric 1 proto static" in _shell(t)
    assert any("no ip unreachables on Null0" in s.why for s in t.routes)
    cfg = parse(text + "interface Null0\n no ip unreachables\n ip unreachables\n exit\nip routing\n", "x")
    assert not cfg.errors and cfg.null_unreachables and cfg.ip_routing


def test_the_kernel_limits_neither_unreachables_nor_time_exceeded(tmp_path):
    """IOS's limit is the nft one; Linux's per-host limit (types 3, 4, 11, 12 by default) would
    thin a burst of rejects to one a second and a traceroute's time exceeded answers."""
    assert ICMP_RATEMASK & (1 << 3) == 0 and ICMP_RATEMASK & (1 << 11) == 0
    assert ICMP_RATEMASK == 0x1818 & ~((1 << 3) | (1 << 11))
    t = translate(parse(BASE, "x"), tmp_path)
    assert f"sysctl -qw net.ipv4.icmp_ratemask={ICMP_RATEMASK}" in _shell(t)


def test_proxy_arp_per_interface(tmp_path):
    cfg = parse(BASE + "interface Vlan2\n no ip proxy-arp\n", "x")
    sh = _shell(translate(cfg, tmp_path))
    assert "sysctl -qw net.ipv4.conf.vlan1.proxy_arp=1" in sh    # IOS default: on
    assert "sysctl -qw net.ipv4.conf.vlan2.proxy_arp=0" in sh


def test_lint_names_the_line_of_a_bad_unreachables_line(tmp_path):
    bad = tmp_path / "bad.ios"
    bad.write_text(BASE + "interface Vlan2\n ip unreachables now\n")
    found = IosService.lint(ServiceSpec(kind="ios", name="ios", params={"config": bad}, where="t:1"))
    assert found and found[0].is_error and str(found[0]).startswith(f"{bad}:14: "), found
    assert "usage: [no] ip unreachables" in str(found[0])
    bad.write_text(BASE + "interface Null0\n ip address 10.9.9.9 255.255.255.0\n")
    found = IosService.lint(ServiceSpec(kind="ios", name="ios", params={"config": bad}, where="t:1"))
    assert found and found[0].is_error and str(found[0]).startswith(f"{bad}:14: "), found
    assert "not valid under interface Null0" in str(found[0])


BAD_LINES = [
    (" ip unreachables extra", "unexpected 'extra'"),
    (" no ip unreachables 500", "unexpected '500'"),
    (" ip proxy-arp on", "unexpected 'on'"),
    (" no ip proxy-arp x y", "unexpected 'x y'"),
]


def test_malformed_lines_fail_on_their_line():
    for line, message in BAD_LINES:
        cfg = parse(BASE + "interface Vlan2\n" + line + "\n", "x")
        assert [(d.line, message in d.message) for d in cfg.errors] == [(14, True)], (line, cfg.errors)
    cfg = parse("interface range Null0 , Vlan1\n", "x")
    assert cfg.errors and cfg.errors[0].line == 1 and "Null0" in cfg.errors[0].message


WORDS = ["ip", "no", "unreachables", "unreach", "proxy-arp", "proxy", "Null0", "null 0", "route",
         "192.168.3.0", "255.255.255.0", "0.0.0.0", "exit", "interface", "Vlan2", "\x00", "é", "-1",
         "9" * 40, "", "ip unreachables", "address", "!", "end"]
PLACES = ["interface Vlan2\n", "interface Null0\n", "", "interface Null0\n no ip unreachables\n"]
LINE = re.compile(r"^x:[1-9][0-9]*: ")


@settings(max_examples=400, derandomize=True, database=None, deadline=None)
@given(place=st.sampled_from(PLACES), words=st.lists(st.sampled_from(WORDS), min_size=1, max_size=6),
       indent=st.booleans())
def test_fuzzed_unreachables_proxy_arp_and_null0_lines_never_crash(tmp_path_factory, place, words, indent):
    text = BASE + "ip route 10.9.0.0 255.255.0.0 Null0\n" + place + (" " if indent else "") + " ".join(words) + "\n"
    cfg = parse(text, "x")   # never raises: errors are collected by line
    for d in cfg.errors + cfg.warnings:
        assert LINE.match(str(d)) and "\n" not in str(d) and "internal error" not in d.message, str(d)
    if cfg.errors:
        return
    try:
        t = translate(cfg, tmp_path_factory.mktemp("t"))
    except IosConfigError as e:
        assert all(LINE.match(str(d)) for d in e.errors)
        return
    kinds = [s.argv[3] for s in t.routes if "10.9.0.0/16" in s.argv]
    assert kinds == ["unreachable" if cfg.null_unreachables else "blackhole"]


def test_icmp_messages_have_one_name_each_wherever_a_probe_prints_them():
    from labkit.probes.icmp import describe

    assert [describe(*m) for m in ((0, 0), (11, 0), (3, 1), (3, 13), (3, 9), (5, 1))] == [
        "echo reply", "time exceeded", "unreachable 3/1 (host)",
        "unreachable 3/13 (administratively prohibited)", "unreachable 3/9", "ICMP type 5 code 1"]
