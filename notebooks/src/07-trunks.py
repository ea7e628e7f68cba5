CELLS = [
("md", """
# 07 — Real layer 2: 802.1Q trunks, an access switch, spanning tree, and two ways to reach the router

The seed's 3550 has access ports only: every cable carries one VLAN. A campus has more
switches than one, and the cables between them are **trunks**: one link that carries
every VLAN, each frame marked with an **802.1Q tag** (a 12-bit VLAN ID and a 3-bit
priority) except the **native VLAN**'s, which crosses untagged. Two trunks between the same
two switches make a **loop**, and a loop of switches floods a broadcast for ever unless
**spanning tree** blocks one of them.

`topologies/campus-trunk.yaml` puts an access switch (`campus/sw2950.ios`: switchport lines
only, as on a Catalyst 2950) behind the 3550 (`campus/sw3550.ios`) over two trunks. Both
switches are built with **Open vSwitch**, one private instance inside each switch's
namespace. Linux does have 802.1Q (VLAN sub-interfaces from the `8021q` module, and
VLAN filtering on bridges), but this machine's kernel was built without either
(docs/machine.md), and Open vSwitch tags in user space; the frames on the cables are
really tagged. The hosts are plain Linux.

**Goals**
1. read the VLANs and trunks with `show` commands, as a network script would;
2. see the tags on the trunk, and what an access port does *not* see;
3. find the port spanning tree blocked, pull the other cable, time the failover;
4. compare the post's two ways of joining the router and the switch (SVI or routed port);
5. exercise: a trunk that does not carry VLAN 2.
"""),
("code", """
import labkit
from labkit.lessons import trunks, campus
from ntc_templates.parse import parse_output
lab = labkit.Lab.up("campus-trunk", name="trunks", replace=True)
print(lab.check())
for n in lab.status()["nodes"]:
    if n["switching"]:
        print(f"{n['name']:<7} built with {n['switching']}")
"""),
("md", """
## 1. VLANs and trunks, as `show` prints them

The access switch's `show vlan brief` lists each VLAN with its access ports; trunks are not
listed there. `show interfaces trunk` has them: mode, encapsulation, native VLAN, the VLANs
allowed, and the VLANs in spanning-tree forwarding state. Each section starts from the campus
as its config files have it: `trunks.campus(lab)` keeps the lab if it is so, and brings it up
again if it is down or a section changed a switch (the exercise does).
"""),
("code", """
lab = trunks.campus(lab)
sw2950 = lab.service("sw2950", "ios")
sw3550 = lab.service("sw3550", "ios")
print(sw2950.show("show vlan brief"))
print(sw2950.show("show interfaces trunk"))
"""),
("md", """
Scripts that manage real Cisco switches (Netmiko, NAPALM, Nornir) parse this text with the
**ntc-templates** TextFSM templates, and they parse the lab's output into the same fields, so
a script written against the lab works against a real switch, and back. ntc-templates 9.3
has no template for `show interfaces trunk`; scripts read trunks from
`show interfaces switchport`, one block per port. `trunks.switchports(svc)` is that parse,
`parse_output(platform="cisco_ios", command="show interfaces switchport", data=svc.show(...))`,
by port:
"""),
("code", """
for name, row in trunks.switchports(sw2950).items():
    print(f"{name:<6} {row['mode']:<12} access {row['access_vlan']:<10} native {row['native_vlan']:<3}"
          f" trunking {','.join(row['trunking_vlans'])}")
"""),
("md", """
## 2. Tags on the wire

`node.capturing(PORT)` runs tcpdump inside the access switch on its first uplink (`fa0-1`,
Fa0/1; `labkit capture --lab trunks sw2950:Fa0/1 -w uplink.pcap` is the same capture, for
Wireshark) while pc2 (VLAN 1) pings pc1 and phone2 (VLAN 2) pings phone1; both pairs sit on
different switches, so both flows cross the trunk. The capture is listening when the `with`
block starts, and `cap.packets` are the frames as scapy reads them. VLAN 2's frames carry
tag 2, priority 0 (no 802.1p class was set); VLAN 1 is the trunk's native VLAN and crosses
untagged.
"""),
("code", """
lab = trunks.campus(lab)
with lab.node("sw2950").capturing("fa0-1") as cap:
    trunks.ping(lab, "pc2", "pc1")
    trunks.ping(lab, "phone2", "phone1")

print("VLAN  prio  frame")
for vlan, prio, what in trunks.tag_table(cap.packets):
    if "ICMP" in what:
        print(f"{vlan:>4}  {prio:>4}  {what}")
"""),
("md", """
An access port carries one VLAN, untagged. pc2's port (Fa0/3, VLAN 1) sees none of VLAN 2,
not even its broadcasts: phone2 asking for an address nobody has (ARP floods all of VLAN 2)
leaves nothing on Fa0/3, while the same broadcast leaves by the uplink, tagged 2. Two
captures run side by side during the one ping:
"""),
("code", """
sw = lab.node("sw2950")
with sw.capturing("fa0-3") as access, sw.capturing("fa0-1") as uplink:
    trunks.ping(lab, "phone2", "192.168.2.99", 0.3)
for port, cap in (("Fa0/1 (uplink)", uplink), ("Fa0/3 (pc2)", access)):
    print(f"{port:<15}", [f"VLAN {vlan} {what}" for vlan, _, what in trunks.tag_table(cap.packets)
                          if "192.168.2." in what])
"""),
("md", """
## 3. Spanning tree: the loop, the blocked port, and the failover

The 3550 has bridge priority 4096 (`spanning-tree vlan 1-2 priority 4096`), so it is the
root. The access switch keeps its better uplink (Fa0/1, the lower port ID at the root) as
its **root port** and makes the other an **alternate**: discarding. OVS runs one tree for
all VLANs (802.1w, RSTP); IOS's `rapid-pvst` runs one per VLAN, which with one priority for
both VLANs gives the same blocked port. The output shows the one tree in each VLAN's block,
with the bridge ID OVS really sends: priority 32768, `sys-id-ext 0`. A real switch running
PVST+ adds the VLAN number to the priority (the extended system ID), so its VLAN0001 block
reads `Priority 32769 (priority 32768 sys-id-ext 1)` and its VLAN0002 block `32770`.
"""),
("code", """
lab = trunks.campus(lab)
sw2950 = lab.service("sw2950", "ios")
print(sw2950.show("show spanning-tree"))
"""),
("code", """
ports = trunks.stp_ports(lab, "sw2950")
for port in ("fa0-1", "fa0-2"):
    print(port, *ports[port])
"""),
("md", """
Now pull the forwarding uplink (its link goes down at both ends, as a cable does) and time
how long pc2 takes to reach pc1 again. RSTP moves an alternate port straight to forwarding
when the root port fails, with no listening and learning states, so the answer is well
under a second; 802.1D would wait twice the 15 s forward delay.
"""),
("code", """
took = trunks.pull_link(lab, "sw2950", "fa0-1", "pc2", "pc1")
print(f"reachable again after {took:.2f} s; under a second: {took < 1.0}")
print("Fa0/2 is now", *trunks.stp_ports(lab, "sw2950")["fa0-2"])
trunks.restore_link(lab, "sw2950", "fa0-1")
print("Fa0/1 back:", *trunks.stp_ports(lab, "sw2950")["fa0-1"])
"""),
("md", """
## 4. Two ways to join the router and the switch

The post weighs two designs for the 3550's link to the router, and picks the routed port:
*"a routed port does exactly that anyway"*. `topologies/seed-svi.yaml` is the seed with the
other one: the router's Fa0/0 on an access port in VLAN 10, the switch's side of the /30 on
`interface Vlan10` (`topologies/sw3550-svi.ios`). The router's config is the same file in
both. Bring both up and compare.
"""),
("code", """
trunks.down(lab)             # the campus goes first: three labs at once are a lot for two cores
routed = labkit.Lab.up("seed", name="routed", replace=True)
svi = labkit.Lab.up("seed-svi", name="svi", replace=True)
for name, l in (("routed port", routed), ("SVI in VLAN 10", svi)):
    hops = [h for _, h in l.node("pc2").call("labkit.probes.icmp:traceroute", "198.41.0.4")]
    print(f"{name:<15} pc2 -> 198.41.0.4: {' '.join(hops)}")
"""),
("md", """
The paths are identical hop by hop: the switch answers from its VLAN 1 SVI, the router from
192.168.254.1, in both. The router cannot tell the two apart either: it learns the same
routes from the same config.
"""),
("code", """
for name, l in (("routed port", routed), ("SVI in VLAN 10", svi)):
    routes = [f"{r.code} {r.network}" for r in labkit.ios.show.routes(l.node("router").cmd)]
    print(f"{name:<15} router knows: {', '.join(routes)}")
"""),
("md", """
What differs is on the switch: with the SVI method, the router's port is a layer-2 port in
VLAN 10, so the router's MAC address is learnt there, and VLAN 10 needs its own SVI, its
own spanning-tree instance on a real 3550, and a VLAN that exists only to hold two
addresses. That is the post's point: the routed port is the same /30 without the VLAN.
"""),
("code", """
table = parse_output(platform="cisco_ios", command="show mac address-table",
                     data=svi.service("sw3550", "ios").show("show mac address-table"))
router_macs = trunks.macs(svi, "router")
for row in table:
    if row["vlan_id"] == "10":
        print("VLAN 10:", row["destination_port"][0], "the router" if row["destination_address"] in router_macs else "?")
"""),
("md", """
And ACL 102 (`in` on Vlan2)? It matches the source and destination *addresses* of what VLAN 2
hosts send to be routed (and to the switch itself), not the next hop the switch picks. In both designs VLAN 2 reaches
the router's address and the internet, and not VLAN 1's hosts: the join makes no difference
to the filter.
"""),
("code", """
for name, l in (("routed port", routed), ("SVI in VLAN 10", svi)):
    print(f"{name:<15} phone1 -> router {campus.icmp_from(l, 'phone1', '192.168.254.1'):<9}"
          f" -> internet {campus.icmp_from(l, 'phone1', 'rootns'):<9}"
          f" -> pc2 {campus.icmp_from(l, 'phone1', 'pc2')}")
trunks.down(routed, svi)
"""),
("md", """
## Exercise: VLAN 2 stops at the trunk

A colleague "tidied up" the access switch's uplinks. The next cell brings up a fresh campus
(as its config files have it: `trunks.campus()`, whatever the sections before left) with their change (`trunks.tidied_up`, which types a few lines into the access switch) and
pings across the trunks: VLAN 1 still works, VLAN 2 does not.
"""),
("code", """
lab = trunks.campus()
sw2950 = lab.service("sw2950", "ios")
trunks.tidied_up(sw2950)
print("phone2 -> phone1:", "reply" if trunks.ping(lab, "phone2", "phone1") else "no reply")
print("pc2 -> pc1:     ", "reply" if trunks.ping(lab, "pc2", "pc1") else "no reply")
"""),
("md", """
**Your task:** find the cause with `sw2950.show("show interfaces trunk")` (which VLANs each
uplink allows, and which it forwards), then fix it with IOS lines passed to
`sw2950.configure(...)`, as you would type them after `configure terminal` (`int fa0/1`,
then the `switchport trunk allowed vlan` form that adds a VLAN without retyping the list). Fix both uplinks: the blocked one takes over
when the other fails, and it must carry VLAN 2 then too. Write your lines in the next cell
(the teacher's edition shows a solution there); the cell after it checks your fix and is
graded.
"""),
("solution:trunk-fix", """
### BEGIN SOLUTION
warnings = sw2950.configure('''
interface range FastEthernet0/1 - 2
 switchport trunk allowed vlan add 2
''')
### END SOLUTION
"""),
("check:trunk-fix-check:2", """
rows = trunks.switchports(sw2950)
for port in ("Fa0/1", "Fa0/2"):
    print(port, "allows", ",".join(rows[port]["trunking_vlans"]))
lab.wait_spanning_tree(60)   # a re-tagged trunk's far end may wait out its RSTP timers (~20 s)
ok = trunks.ping(lab, "phone2", "phone1", 10) and trunks.ping(lab, "pc2", "pc1", 10)
print("VLAN 1 and VLAN 2 cross the trunk:", ok)
assert ok, "VLAN 2 still does not cross the trunk"
### BEGIN HIDDEN TESTS
# the fix is in the switch's config (as IOS lines), not only in its data plane
ports = sw2950.running_ports()
for port in ("FastEthernet0/1", "FastEthernet0/2"):
    allowed = ports[port].allowed_vlans
    assert allowed is None or 2 in allowed, f"{port}'s running config does not allow VLAN 2 ({allowed})"
# the blocked uplink must carry VLAN 2 too: fail the forwarding one and try again
trunks.pull_link(lab, "sw2950", "fa0-1", "pc2", "pc1")
try:
    assert trunks.ping(lab, "phone2", "phone1", 10), "with Fa0/1 down, VLAN 2 does not cross Fa0/2"
finally:
    trunks.restore_link(lab, "sw2950", "fa0-1")
### END HIDDEN TESTS
"""),
("md", """
## Tear down

Always the last cell: `down()` stops what labkit started (by PID), the switches' Open vSwitch
daemons included, and removes the namespaces (`trunks.down` skips a lab that is down already).
"""),
("code", """
trunks.down(lab)
"""),
]
