"""labkit.ios on a running lab: real namespaces, nft, dnsmasq and packets (needs root).

A small campus: an l3switch with two VLANs (DHCP pool of exactly two free
addresses in VLAN 1, an ACL keeping VLAN 2 out of VLAN 1), a router doing PAT and
a port forward on its Dialer1, and an ISP host on the WAN side.
"""
from __future__ import annotations

import pytest
from ntc_templates.parse import parse_output

from labkit.lab import Lab
from labkit.ios import show as S
from labkit.procs import wait_until

from labtest import leftovers

pytestmark = pytest.mark.lab

SW = """\
hostname sw
ip routing
vlan 2
interface Vlan1
 ip address 10.50.0.1 255.255.255.248
interface Vlan2
 ip address 10.60.0.1 255.255.255.0
 ip access-group 102 in
access-list 102 deny ip 10.60.0.0 0.0.0.255 10.50.0.0 0.0.0.7
access-list 102 permit ip any any
interface fa0/2
 switchport mode access
 switchport access vlan 1
interface fa0/4
 switchport mode access
 switchport access vlan 2
interface fast 0/1
 no switchport
 ip address 10.70.0.2 255.255.255.252
ip dhcp excluded-address 10.50.0.2 10.50.0.4
ip dhcp pool data
   network 10.50.0.0 255.255.255.248
   default-router 10.50.0.1
   dns-server 10.70.0.1
   lease 0 1
ip route 0.0.0.0 0.0.0.0 Fast0/1
"""
ROUTER = """\
interface FastEthernet0/0
 ip address 10.70.0.1 255.255.255.252
 ip nat inside
interface Dialer1
 ip address negotiated
 ip nat outside
ip route 10.0.0.0 255.0.0.0 Fast0/0
ip route 0.0.0.0 0.0.0.0 Dialer1
access-list 1 permit 10.0.0.0 0.255.255.255
ip nat inside source list 1 interface Dialer1 overload
ip nat inside source static tcp 10.50.0.2 8080 interface Dialer1 80
ip dns server
ip name-server 100.64.0.1
"""
TOPO = """\
name: iosl
vlans: {1: data, 2: voice}
nodes:
  sw:
    role: l3switch
    svis: {1: 10.50.0.1/29, 2: 10.60.0.1/24}
    interfaces:
      fa0-1: 10.70.0.2/30
      fa0-2: {vlan: 1}
      fa0-4: {vlan: 2}
    routes: [default via 10.70.0.1]
    services:
      - {type: ios, config: sw.ios}
  router:
    role: router
    interfaces:
      fa0-0: 10.70.0.1/30
      dialer1: 100.64.0.2/30
    services:
      - {type: ios, config: router.ios}
  isp:
    role: host
    interfaces: {eth0: 100.64.0.1/30}
  data:
    role: host
    interfaces: {eth0: 10.50.0.2/29}
    gateway: 10.50.0.1
    services:
      - {type: http, port: 8080}
  voice:
    role: host
    interfaces: {eth0: 10.60.0.10/24}
    gateway: 10.60.0.1
links:
  - router:dialer1 -- isp:eth0
  - router:fa0-0 -- sw:fa0-1
  - sw:fa0-2 -- data:eth0
  - sw:fa0-4 -- voice:eth0
"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    d = tmp_path_factory.mktemp("ioslab")
    (d / "sw.ios").write_text(SW)
    (d / "router.ios").write_text(ROUTER)
    (d / "iosl.yaml").write_text(TOPO)
    lab = Lab.up(str(d / "iosl.yaml"), name="iosl", replace=True)
    try:
        yield lab
    finally:
        lab.down()
        assert leftovers("iosl") == []


def _svc(lab, node):
    return next(s for s in lab.services if s.node.name == node and s.kind == "ios")


def ping(lab, node, dst):
    return lab.node(node).run(["ping", "-c1", "-W1", dst]).returncode == 0


def test_routing_and_the_vlan2_acl(lab):
    assert ping(lab, "data", "10.60.0.1")          # VLAN1 -> switch
    assert ping(lab, "voice", "10.70.0.1")         # VLAN2 -> router: permitted
    assert ping(lab, "voice", "100.64.0.1")        # VLAN2 -> internet via PAT
    assert not ping(lab, "voice", "10.50.0.2")     # VLAN2 -> VLAN1: denied
    acl = {(a.acl, a.seq): a.matches for a in S.access_lists(lab.node("sw").cmd)}
    assert acl[("102", 10)] >= 1 and acl[("102", 20)] >= 2
    text = _svc(lab, "sw").show("show access-lists")
    assert text.startswith("Extended IP access list 102\n    10 deny ip 10.60.0.0 0.0.0.255 10.50.0.0 0.0.0.7 (")


def test_show_commands_live(lab):
    sw = _svc(lab, "sw")
    brief = {b.interface: b for b in S.interfaces_brief(lab.node("sw").cmd)}
    assert brief["Vlan1"].ip_address == "10.50.0.1" and brief["Vlan1"].status == "up"
    assert brief["FastEthernet0/1"].ip_address == "10.70.0.2"
    routes = sw.show("sh ip route")
    # an interface default route, as IOS prints it: no gateway address, directly connected
    assert "Gateway of last resort is 0.0.0.0 to network 0.0.0.0" in routes
    assert "S*   0.0.0.0/0 is directly connected, FastEthernet0/1" in routes
    assert "C    10.50.0.0/29 is directly connected, Vlan1" in routes
    rroutes = S.routes(lab.node("router").cmd)
    assert S.RouteEntry("S", "10.0.0.0/8", None, "FastEthernet0/0", 1, 0) in rroutes


def test_pat_and_port_forward(lab):
    # the ISP sees the LAN behind the router's WAN address
    isp = lab.node("isp")
    out = lab.node("data").cmd("ping -c1 -W1 100.64.0.1")
    assert " 0% packet loss" in out
    # the port forward: ISP -> 100.64.0.2:80 reaches data:8080
    body = isp.cmd("python3 -c \"import urllib.request as u; "
                   "print(u.urlopen('http://100.64.0.2:80/', timeout=5).read().decode())\"")
    assert "<h1>data</h1>" in body
    nat = S.nat_translations(lab.node("router").cmd)
    assert any(t.static and t.inside_local == "10.50.0.2:8080" and t.inside_global == "100.64.0.2:80" for t in nat)
    assert any(not t.static and t.inside_global.startswith("100.64.0.2") and t.inside_local.startswith("10.50.0.2")
               for t in nat)


def test_dns_forwarder_forwards_to_the_name_server(lab, tmp_path):
    # an upstream for `ip name-server 100.64.0.1`: a dnsmasq on the ISP host, started and
    # stopped by this test (by its PID)
    up = lab.node("isp").popen(["dnsmasq", "-k", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
                                "--bind-interfaces", "--listen-address=100.64.0.1", "--user=root",
                                f"--pid-file={tmp_path / 'up.pid'}", "--address=/www.lab.test/192.0.2.99"])
    try:
        def ask() -> str:
            return lab.node("data").cmd("dig +short +time=1 +tries=1 @10.70.0.1 www.lab.test")
        # the upstream needs a moment to listen: wait for its answer, then check it is the only line
        out = wait_until(lambda: o if "192.0.2.99" in (o := ask()) else None, 20.0, 0.05,
                         what="the upstream dnsmasq answering through the forwarder")
        assert out.strip() == "192.0.2.99"
        # the forwarder does not answer on the WAN side
        wan = lab.node("isp").cmd("dig +short +time=1 +tries=1 @100.64.0.2 www.lab.test")
        assert "192.0.2.99" not in wan
    finally:
        up.terminate()
        up.wait(5)


def test_dhcp_pool_hands_out_only_free_addresses_then_runs_dry(lab):
    data = lab.node("data")
    macs = ["02:00:00:00:aa:01", "02:00:00:00:aa:02", "02:00:00:00:aa:03"]
    dora = "labkit.probes.dhcp:dora"
    got = [data.call(dora, m, "eth0", timeout=60)["address"] for m in macs[:2]]
    assert sorted(got) == ["10.50.0.5", "10.50.0.6"]  # .1 SVI, .2-.4 excluded, .7 broadcast
    # the pool is exhausted: dnsmasq makes no offer to a third client
    dry = data.call(dora, macs[2], "eth0", 3.0, timeout=60)
    assert dry["address"] is None and dry["messages"] == ["DISCOVER"]
    # a known client is offered its own address again, with the pool's options
    again = data.call(dora, macs[0], "eth0", timeout=60)
    assert again["messages"][1] == f"OFFER {got[0]}" and again["address"] == got[0]
    assert again["router"] == "10.50.0.1" and again["dns"] == "10.70.0.1" and again["lease_time"] == 3600
    # dnsmasq writes its lease file just after the ACK: wait for it rather than race it
    lease_file = str(_svc(lab, "sw").lease_file)
    binds = wait_until(lambda: b if len(b := S.dhcp_bindings(data.cmd, lease_file)) >= 2 else None,
                       5.0, 0.1, what="both bindings in dnsmasq's lease file")
    assert sorted((b.ip_address, b.mac) for b in binds) == sorted(zip(got, macs[:2]))
    text = _svc(lab, "sw").show("show ip dhcp binding")
    assert "10.50.0.5        0102.0000.00aa.0" in text
    assert lab.service("sw", "ios").show("sh ip dhcp bind") == text   # IOS abbreviations


def test_device_route_mode_relies_on_proxy_arp(tmp_path):
    """route_mode: device keeps the seed's interface route as IOS has it: the router ARPs for
    every LAN host on Fa0/0 and the switch answers by proxy ARP (IOS default)."""
    (tmp_path / "sw.ios").write_text(SW)
    (tmp_path / "router.ios").write_text(ROUTER)
    (tmp_path / "iosd.yaml").write_text(TOPO.replace("name: iosl", "name: iosd").replace(
        "{type: ios, config: router.ios}", "{type: ios, config: router.ios, route_mode: device}"))
    lab = Lab.up(str(tmp_path / "iosd.yaml"), name="iosd", replace=True)
    try:
        r = lab.node("router")
        assert "10.0.0.0/8 dev fa0-0" in r.cmd("ip route show 10.0.0.0/8")
        assert ping(lab, "data", "100.64.0.1")
        neigh = r.cmd("ip neigh show dev fa0-0")
        sw_mac = lab.node("sw").cmd("cat /sys/class/net/fa0-1/address").strip()
        # the router holds an ARP entry for a host two hops away, answered with the switch's MAC
        assert any(line.startswith("10.50.0.2 ") and sw_mac in line for line in neigh.splitlines()), neigh
        # and `show ip arp` says so as IOS would (parsed with ntc-templates, as a script would)
        rows = parse_output(platform="cisco_ios", command="show ip arp",
                            data=lab.service("router", "ios").show("show ip arp"))
        entry = {r["ip_address"]: (r["mac_address"], r["interface"]) for r in rows}
        assert entry["10.50.0.2"] == (S.dotted_mac(sw_mac), "FastEthernet0/0"), rows
    finally:
        lab.down()
    assert leftovers("iosd") == []
