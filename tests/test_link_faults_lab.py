"""Link faults on a running lab (labkit.lab.faults), measured on the wire: `labkit link` and
`lab.link(...)` on tests/topologies/tiny.yaml (instance lkfaults) and, for a port of a node's
Open vSwitch, tests/topologies/trunk-pair.yaml (instance lkfovs).

The issue's acceptance bounds: --loss 20% gives 10-30 % loss over 500 pings; --rate 10mbit
gives 8-11 Mbit/s with iperf3; down stops traffic and up restores it; nothing is left after
down. Needs root (network namespaces).
"""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from labkit.lab import Lab
from hypothesis import HealthCheck, given, settings, strategies as st

from labkit.lab.faults import LOSS_STEPS, DropRule, FaultError, parse_loss, render_nft
from labkit.procs import wait_until

from labtest import labkit_cli, leftovers

pytestmark = pytest.mark.lab

TOPO = Path(__file__).parent / "topologies"
PORT = 5211


@pytest.fixture(scope="module")
def lab():
    lab = Lab.up(TOPO / "tiny.yaml", name="lkfaults", replace=True)
    try:
        yield lab
    finally:
        assert lab.down() == []
        assert leftovers("lkfaults") == []


@pytest.fixture(autouse=True)
def no_faults_after(request):
    yield
    if "lab" in request.fixturenames:
        lab = request.getfixturevalue("lab")
        for f in lab.status()["faults"]:
            lab.link(*f["link"].split(" -- ")).clear()


def ping_loss(lab: Lab, src: str, dst: str, count: int = 500) -> float:
    """Per cent of `count` pings from src to dst (inside the lab) that got no reply."""
    out = lab.node(src).cmd(f"ping -i 0.01 -c {count} -q -W 1 {lab.address(dst)}", timeout=count * 0.05 + 30)
    m = re.search(r"([0-9.]+)% packet loss", out)
    assert m, out
    return float(m.group(1))


def reaches(lab: Lab, src: str, dst: str) -> bool:
    return lab.node(src).run(["ping", "-c1", "-W1", lab.address(dst)]).returncode == 0


def iperf_mbit(lab: Lab, client: str, server: str, seconds: int = 5) -> float:
    """Mbit/s received by an iperf3 server in `server` from a client in `client` (in the lab)."""
    srv = lab.node(server).popen(["iperf3", "-s", "-1", "-p", str(PORT)], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        wait_until(lambda: f":{PORT} " in lab.node(server).cmd(f"ss -Hltn sport = :{PORT}"), 10.0, 0.05,
                   what=f"iperf3 listening in {server}")
        p = lab.node(client).run(["iperf3", "-c", lab.address(server), "-p", str(PORT), "-t", str(seconds),
                                  "-J"], timeout=seconds + 30)
        data = json.loads(p.stdout)
        assert "error" not in data, data.get("error")
        return data["end"]["sum_received"]["bits_per_second"] / 1e6
    finally:
        if srv.poll() is None:
            srv.kill()
        srv.wait(5)


def fault_tables(lab: Lab, node: str) -> str:
    return lab.node(node).run(["nft", "list", "tables"]).stdout


def test_loss_20_percent_from_the_command_line(lab):
    p = labkit_cli("link", "h1", "r1", "--loss", "20%", "--lab", "lkfaults")
    assert p.stdout.strip() == "r1:eth0 -- h1:eth0  loss 20% h1:eth0 -> r1:eth0"
    st = labkit_cli("status", "--lab", "lkfaults").stdout
    assert "link r1:eth0 -- h1:eth0  loss 20% h1:eth0 -> r1:eth0" in st
    assert lab.status()["faults"] == [{"link": "r1:eth0 -- h1:eth0", "down": False,
                                       "loss": {"h1:eth0 -> r1:eth0": "20%"}, "rate": {}}]
    loss = ping_loss(lab, "h1", "r1")
    print(f"--loss 20%: {loss}% of 500 pings lost")
    assert 10 <= loss <= 30
    labkit_cli("link", "h1", "r1", "clear", "--lab", "lkfaults")
    assert "labkit_faults" not in fault_tables(lab, "r1") and lab.status()["faults"] == []
    assert ping_loss(lab, "h1", "r1", 100) == 0


def test_loss_100_percent_drops_everything_and_minus_5_is_a_range_error(lab):
    p = labkit_cli("link", "h1", "r1", "--loss", "100%", "--lab", "lkfaults")
    assert p.stdout.strip() == "r1:eth0 -- h1:eth0  loss 100% h1:eth0 -> r1:eth0"
    assert ping_loss(lab, "h1", "r1", 50) == 100
    p = labkit_cli("link", "h1", "r1", "--loss", "-5%", "--lab", "lkfaults", check=False)
    assert p.returncode == 2 and p.stderr.strip() == "labkit: loss -5% is outside 0-100%"
    labkit_cli("link", "h1", "r1", "--loss", "0%", "--lab", "lkfaults")
    assert lab.status()["faults"] == [] and ping_loss(lab, "h1", "r1", 50) == 0


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(min_value=0, max_value=LOSS_STEPS), st.sampled_from(["ingress", "egress"]))
def test_nft_takes_the_rule_of_every_accepted_loss(lab, steps, hook):
    """The rule builder against nft itself (`nft -c`: checked, not applied) inside r1."""
    frac = parse_loss(f"{steps / 100:.2f}%")
    script = render_nft([DropRule(hook, "eth0", frac, f"fuzz {steps}")])
    p = lab.node("r1").run(["nft", "-c", "-f", "-"], input=script)
    assert p.returncode == 0, (steps, hook, p.stderr)


def test_loss_across_a_linux_bridge_port(lab):
    """h1 -> h2 crosses r1 and sw's VLAN bridge; the loss is on what sw sends to h2 (--both:
    h2's replies to sw too), so a round trip loses about 1 - 0.9^2 = 19 %."""
    lab.link("sw", "h2").impair(loss=0.1, both=True)
    loss = ping_loss(lab, "h1", "h2")
    print(f"--loss 10% --both on sw -- h2: {loss}% of 500 round trips lost")
    assert 10 <= loss <= 30


def test_rate_10mbit_measured_with_iperf3(lab):
    before = iperf_mbit(lab, "h1", "r1", 2)
    lab.link("h1", "r1").impair(rate="10mbit")
    assert "qdisc tbf" in lab.node("h1").cmd("tc qdisc show dev eth0")
    rate = iperf_mbit(lab, "h1", "r1")
    print(f"--rate 10mbit: iperf3 h1 -> r1 {rate:.2f} Mbit/s (unshaped: {before:.0f} Mbit/s)")
    assert 8 <= rate <= 11
    assert before > 100
    lab.link("h1", "r1").clear()
    assert "tbf" not in lab.node("h1").cmd("tc qdisc show dev eth0")


def test_loss_and_rate_merge_and_show_per_direction(lab):
    link = lab.link("r1", "h1")
    link.impair(rate="10mbit")
    link.impair(loss="5%", both=True)
    assert link.status() == {"link": "r1:eth0 -- h1:eth0", "down": False,
                             "loss": {"h1:eth0 -> r1:eth0": "5%", "r1:eth0 -> h1:eth0": "5%"},
                             "rate": {"r1:eth0 -> h1:eth0": "10mbit"}}
    link.impair(loss=0)        # removes the loss of r1 -> h1 only
    assert link.status()["loss"] == {"h1:eth0 -> r1:eth0": "5%"}


def test_down_stops_traffic_and_up_restores_it(lab):
    assert reaches(lab, "h1", "h2")
    p = labkit_cli("link", "sw", "h2", "down", "--lab", "lkfaults")
    assert p.stdout.strip() == "sw:p1 -- h2:eth0  down"
    assert "link sw:p1 -- h2:eth0  down" in labkit_cli("status", "--lab", "lkfaults").stdout
    wait_until(lambda: not reaches(lab, "h1", "h2"), 10, 0.05, what="h2 unreachable")
    assert "state DOWN" in lab.node("h2").cmd("ip link show dev eth0")
    assert "default" not in lab.node("h2").cmd("ip route")     # the kernel took it with the link
    labkit_cli("link", "sw", "h2", "up", "--lab", "lkfaults")
    wait_until(lambda: reaches(lab, "h1", "h2"), 10, 0.05, what="h2 reachable again")
    assert "default via 10.0.1.1 dev eth0" in lab.node("h2").cmd("ip route")   # put back by up
    assert lab.status()["faults"] == []


def test_delay_and_jitter_are_refused_and_change_nothing(lab):
    for kw in ({"delay": "10ms"}, {"jitter": "2ms"}, {"loss": "20%", "delay": "10ms"}):
        with pytest.raises(FaultError, match="no netem"):
            lab.link("h1", "r1").impair(**kw)
    p = labkit_cli("link", "h1", "r1", "--delay", "10ms", "--lab", "lkfaults", check=False)
    assert p.returncode == 2 and "no netem" in p.stderr
    assert lab.status()["faults"] == [] and "labkit_faults" not in fault_tables(lab, "r1")


@pytest.mark.parametrize("a, b, kw, says", [
    ("h1", "r1", {"loss": "20%", "rate": "10mbps"}, "ambiguous"),
    ("h1", "r1", {"loss": "120%"}, "outside 0-100%"),
    ("h1", "h2", {"loss": "20%"}, "no link joins h1 and h2"),
    ("h9", "r1", {"loss": "20%"}, "no node 'h9'"),
])
def test_bad_values_change_nothing(lab, a, b, kw, says):
    with pytest.raises(FaultError, match=says):
        lab.link(a, b).impair(**kw)
    assert lab.status()["faults"] == [] and "labkit_faults" not in fault_tables(lab, "r1")
    assert "tbf" not in lab.node("h1").cmd("tc qdisc show dev eth0")


def test_everything_is_gone_after_down():
    labkit_cli("up", str(TOPO / "tiny.yaml"), "--lab", "lkfaultsdn", "--no-services", "--replace")
    try:
        labkit_cli("link", "h1", "r1", "--loss", "20%", "--rate", "10mbit", "--both", "--lab", "lkfaultsdn")
        labkit_cli("link", "sw", "h2", "down", "--lab", "lkfaultsdn")
        st = labkit_cli("status", "--lab", "lkfaultsdn").stdout
        assert "link sw:p1 -- h2:eth0  down" in st and "rate 10mbit" in st
    finally:
        p = labkit_cli("down", "--lab", "lkfaultsdn", check=False)
    assert p.returncode == 0, p.stderr
    assert leftovers("lkfaultsdn") == []
    assert labkit_cli("link", "h1", "r1", "--lab", "lkfaultsdn", check=False).returncode == 2


def test_loss_into_an_open_vswitch_port():
    """h1 -> sw1:eth1, a port of sw1's Open vSwitch: the loss is taken at h1's egress and
    still silent to h1's ping (which would otherwise resend)."""
    with Lab.up(TOPO / "trunk-pair.yaml", name="lkfovs", replace=True) as ovs:
        wait_until(lambda: reaches(ovs, "h1", "h3"), 30, 0.1, what="h1 reaching h3 over the trunk")
        ovs.link("h1", "sw1").impair(loss="20%")
        assert 'hook egress device "eth0"' in ovs.node("h1").cmd("nft list table netdev labkit_faults")
        loss = ping_loss(ovs, "h1", "h3")
        print(f"--loss 20% into an OVS port: {loss}% of 500 pings lost")
        assert 10 <= loss <= 30
        ovs.link("h1", "sw1").impair(loss="100%")
        assert ping_loss(ovs, "h1", "h3", 50) == 100
        ovs.link("h1", "sw1").clear()
        ovs.link("sw1", "sw2").down()           # the trunk: both switches' OVS ports
        assert ovs.status()["faults"][0]["down"]
        wait_until(lambda: not reaches(ovs, "h1", "h3"), 10, 0.05, what="h3 cut off")
        ovs.link("sw1", "sw2").up()
        wait_until(lambda: reaches(ovs, "h1", "h3"), 30, 0.1, what="h3 reachable again over the trunk")
    assert leftovers("lkfovs") == []
