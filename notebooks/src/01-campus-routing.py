CELLS = [
("md", """
# 01 — The campus: a Cisco 3550 that routes, serves DHCP and filters

The post *Deploying a layer3 switch on my network* moves inter-VLAN routing and DHCP from
the home router to a Cisco 3550: one **SVI** per VLAN (`interface Vlan1`, `Vlan2`), DHCP
pools with excluded ranges, a **routed port** (`no switchport`) on a /30 to the router, and
*"an ACL that prevents VLAN2 from talking to VLAN1"*. Its promise: *"if my router goes down,
I only lose my internet connection but the voice network and data network on my LAN can
still function properly."*

The lab runs the post's own lines (`topologies/sw3550.ios`, `topologies/router.ios`),
translated by `labkit.ios` into Linux bridges, routes, nftables and dnsmasq. Every packet
below is built with **scapy inside a lab host** (`node.call(...)`); nothing leaves the lab.

**Goals**
1. watch a DHCP exchange (DORA) from each VLAN and check it against the IOS pools;
2. trace the path SVI → routed port → router → WAN;
3. see what ACL 102 blocks, in which direction, and its counters;
4. take the router down and check the post's promise;
5. the seed's quirks; then an exercise: fix a broken ACL.
"""),
("code", """
import labkit
from labkit.lessons import campus
from labkit.probes.dhcp import client_mac
lab = labkit.Lab.up("seed", name="campus", replace=True)
sw = lab.service("sw3550", "ios")          # the 3550's IOS service: show commands, notes
for n in ("pc1", "pc2", "phone1", "acd"):
    print(f"{n:<7} {lab.node(n).live_ip()}")
"""),
("md", """
## 1. DHCP: the pools the IOS config defines

pc1 (VLAN1) and phone1 (VLAN2) already leased addresses with `udhcpc` at bring-up. What may
the 3550 hand out? The pool network minus the global `ip dhcp excluded-address` ranges minus
the switch's own address: `labkit.ios.dhcp.pool_ranges` computes it from the parsed config.
"""),
("code", """
from labkit.ios.dhcp import pool_ranges
cfg = sw.translation.config
allowed = {}
for pool in cfg.pools.values():
    allowed[pool.name] = pool_ranges(cfg, pool)
    spans = ", ".join(f"{a}-{b}" for a, b in allowed[pool.name])
    print(f"{pool.name}: network {pool.network}, may lease {spans}")
print("excluded:", ", ".join(f"{e.low}-{e.high}" for e in cfg.excluded))
"""),
("md", """
Now a DORA (Discover, Offer, Request, Ack) with scapy, as a **new client**: a made-up MAC
(`client_mac("...")`, locally administered, the same on every run) as source and `chaddr`,
sent on the host's `eth0`. pc2 plays a VLAN1 client, acd a VLAN2 client; neither changes
its own address. The Ack carries the router (option 3) and DNS server (option 6) of the pool,
and the client releases the lease afterwards.
"""),
("code", """
def in_pool(addr, pool):
    from ipaddress import IPv4Address as A
    return any(a <= A(addr) <= b for a, b in allowed[pool])

for host, pool in (("pc2", "pool_vlan1"), ("acd", "pool_vlan2")):
    r = lab.node(host).call("labkit.probes.dhcp:dora", client_mac(f"campus-{host}"), release=True)
    print(f"{host} as {r['mac']}: {' -> '.join(r['messages'])}")
    print(f"   address {r['address']} in {pool}'s allowed range: {in_pool(r['address'], pool)}")
    print(f"   router {r['router']}, dns {r['dns']}, lease {r['lease_time']} s")
"""),
("md", """
The DNS server is **192.168.254.1**, the router, not the switch: the post notes that the
forwarder stayed on the router. `show ip dhcp binding` on the 3550 lists the two hosts that
keep their leases (the probe clients released theirs):
"""),
("code-ignore", """
print(sw.show("show ip dhcp binding"))
"""),
("md", """
## 2. Traceroute: SVI → routed port → router → WAN

From phone1 (VLAN2) to a root server on the internet side. Each router answers from the
address of the interface that leads back to the sender: the 3550 from its **Vlan2 SVI**
(phone1's gateway), the router from **Fa0/0** (the far end of the switch's routed port
Fa0/1, so 192.168.254.2 itself never shows), the ISP from its end of the **Dialer1** WAN,
and finally the server. The router's NAT rewrites both the probes and the ICMP errors.
"""),
("code", """
for ttl, hop in lab.node("phone1").call("labkit.probes.icmp:traceroute", "198.41.0.4"):
    print(ttl, hop)
print(sw.show("show ip route"))
"""),
("md", """
## 3. ACL 102: what "VLAN2 may not talk to VLAN1" means on the wire

`ip access-group 102 in` on `interface Vlan2` is a router ACL: it sees the packets VLAN2
hosts send to be routed, and those addressed to the switch itself. Traffic between two VLAN2
hosts is switched inside the VLAN and never meets it (Catalyst 3550 Software Configuration
Guide, "Configuring Network Security with ACLs"). IOS ACLs are **stateless**: a reply from VLAN2 to a VLAN1 host also comes *in* on
Vlan2 and meets the same list. The lab's ACL has one line more than the bare deny: a
`permit tcp ... established` (segments with ACK or RST set) before it, so the replies of TCP
connections that VLAN1 opens get through, while VLAN2 still cannot open anything toward
VLAN1 (a SYN has no ACK).
"""),
("code-ignore", """
print(sw.show("show access-lists"))      # the counts so far: DHCP, traceroute (they vary)
"""),
("md", """
Each probe below is **one packet** (ICMP echo, TCP SYN, UDP datagram) between acd (VLAN2) and
pc2 (VLAN1), with an echo server on port 7 on both. The last column is what moved in
`show access-lists` during that probe: in the lab every denied packet is counted by line 20
(a real 3550 filters in hardware, and its counters miss those packets: same guide); the
SYN-ACK that answers pc2's SYN is counted by line 10 (`established`). VLAN1 → VLAN2 ICMP and
UDP *reach* acd, but acd's answers are denied: that is the stateless part. A denied packet is
not dropped in silence: as IOS does by default (`ip unreachables`), the switch answers with
ICMP type 3 code 13, "administratively prohibited", from its Vlan2 address, at most one every
500 ms (`ip icmp rate-limit unreachable`); `no ip unreachables` on Vlan2 would make it silent.
"""),
("code", """
for row in campus.acl_matrix(lab):
    print(row.line())
"""),
("md", """
A real connection from VLAN1 works end to end. And the classic weakness of `established`:
it looks at flags only, so a crafted bare ACK from VLAN2 passes and pc2 answers it with a
RST. It cannot open a session, but it can map which VLAN1 addresses are alive. A
stateful firewall (IOS reflexive ACLs or CBAC, nftables `ct state`) closes that hole.
"""),
("code", """
with campus.EchoServer(lab.node("acd")), campus.EchoServer(lab.node("pc2")):
    print(campus.probe(lab, "pc2", "acd", "tcp_session").result)
    print(campus.probe(lab, "acd", "pc2", "tcp_ack").line())
"""),
("md", """
## 4. The router goes down

The post's promise: inter-VLAN routing and DHCP live on the switch now, so only the internet
is lost. "Router down" here means every interface of the router set down inside its
namespace, as if it were powered off: the switch's routed port loses its carrier.
"""),
("code", """
def lan_status():
    rows = [("pc1 -> pc2 (VLAN1)", campus.icmp_from(lab, "pc1", "pc2")),
            ("phone1 -> acd (VLAN2)", campus.icmp_from(lab, "phone1", "acd")),
            ("pc2 -> acd TCP (inter-VLAN)", campus.syn_from(lab, "pc2", "acd", 7)),
            ("phone1 -> 198.41.0.4 (internet)", campus.icmp_from(lab, "phone1", "rootns"))]
    for host, tag in (("pc2", "outage-1"), ("acd", "outage-2")):
        r = lab.node(host).call("labkit.probes.dhcp:dora", client_mac(tag), release=True)
        rows.append((f"DHCP lease on {host}'s VLAN", r["address"] or "no lease"))
    for what, result in rows:
        print(f"{what:<32} {result}")
"""),
("code", """
print("down:", campus.router_down(lab))
with campus.EchoServer(lab.node("acd")):
    lan_status()
"""),
("code", """
print("up again:", campus.router_up(lab))
with campus.EchoServer(lab.node("acd")):
    lan_status()
"""),
("md", """
VLAN1, VLAN2, routing between them and DHCP kept working; the internet came back with the
router. `router_up` also re-applies the router's IOS config: Linux drops a route when its
interface goes down, and IOS reinstalls its static routes when the interface comes back.

## 5. The seed's quirks

**(a) Interface routes.** The post writes `ip route 0.0.0.0 0.0.0.0 Fast0/1` and
`ip route 192.168.0.0 255.255.0.0 Fast0/0`: an interface, no next hop. A real Cisco then ARPs
for *every* destination on that interface and relies on the neighbour's **proxy ARP** (on by
default in IOS). labkit resolves such a route on a /30 to the only other address, and says so:
"""),
("code", """
rt = lab.service("router", "ios")
print(rt.show("show ip route"))
for note in rt.notes + sw.notes:
    if "next hop" in note:
        print(campus.note_text(note))
"""),
("md", """
**(b) The VLAN2 pool has no exclusions.** The static voice hosts (acd .10, phone2 .22) sit
inside `pool_vlan2`. IOS pings an address before it offers it and keeps busy ones in its
conflict table. labkit skips the 3 s ping dnsmasq would do (leases in milliseconds) and
fills the conflict table with the topology's static hosts instead. On a real switch, a host
that is switched off can lose its address to a lease; the fix is an `excluded-address`.

**(c) `import all`** imports options from an upstream DHCP/PPP server; nothing is imported in
the lab (the pools set router and DNS themselves). labkit's notes say both:
"""),
("code", """
for note in sw.notes:
    if "pool_vlan2" in note or "import all" in note:
        print(campus.note_text(note))
print(*[l for l in sw.translation.dnsmasq.conf.splitlines() if "conflict" in l], sep="\\n")
"""),
("md", """
**(d)** A 3550 routes between SVIs only with **`ip routing`**, which the post never shows;
`sw3550.ios` adds it. Without it (forwarding off in the switch), the VLAN still works, and
nothing leaves it:
"""),
("code", """
lab.node("sw3550").cmd("sysctl -qw net.ipv4.ip_forward=0")      # no ip routing
print("no ip routing: pc1 -> 198.41.0.4", campus.icmp_from(lab, "pc1", "rootns"),
      "| pc1 -> pc2", campus.icmp_from(lab, "pc1", "pc2"))
lab.node("sw3550").cmd("sysctl -qw net.ipv4.ip_forward=1")      # ip routing
print("ip routing:    pc1 -> 198.41.0.4", campus.icmp_from(lab, "pc1", "rootns"))
"""),
("md", """
## Exercise: a retyped ACL

A colleague retyped ACL 102 from memory, and the next cell loads their version. Run the
policy check: it probes what the ACL is meant to do (VLAN2 cannot start anything toward
VLAN1, VLAN1 can open TCP to VLAN2, VLAN2 keeps the internet) and shows what fails.
"""),
("code", """
broken = '''
access-list 102 permit tcp 192.168.2.0 0.0.0.255 192.168.1.0 0.0.0.255 established
access-list 102 deny   ip 192.168.1.0 0.0.0.255 192.168.2.0 0.0.0.255
access-list 102 permit ip any any
'''
sw.replace_acl("102", broken)
print(campus.check_policy(lab))
"""),
("md", """
**Your task:** find the mistake (compare with `show access-lists` above) and write the
correct ACL in the next cell, with `sw.replace_acl("102", lines)`. It parses your lines like
the IOS config (a typo is reported with its line) and reloads the switch's filter. The
teacher's edition shows a solution there; the cell after it runs the policy check and is
graded.
"""),
("solution:acl-fix", """
### BEGIN SOLUTION
# the deny must match VLAN2 as *source*: the ACL filters what comes in on Vlan2, so its
# packets come from 192.168.2.0/24; the colleague's other two lines are right
acl = broken.strip().splitlines()
acl[1] = "access-list 102 deny   ip 192.168.2.0 0.0.0.255 192.168.1.0 0.0.0.255"
warnings = sw.replace_acl("102", "\\n".join(acl))
### END SOLUTION
"""),
("check:acl-fix-check:2", """
result = campus.check_policy(lab)
print(result)
assert result.ok, "the ACL does not do what the policy says yet: " + result.failures()
### BEGIN HIDDEN TESTS
# the policy is about the VLANs, not the two hosts probed above: a VLAN2 phone and a VLAN1 PC
DENIED = "unreachable from 192.168.2.1"   # IOS answers a deny with ICMP 3/13 from the VLAN's SVI
others = [("phone1", "pc1", "icmp", DENIED), ("phone1", "pc1", "udp", DENIED),
          ("phone1", "pc1", "tcp_syn", DENIED), ("pc1", "phone1", "tcp_syn", "SYN-ACK"),
          ("phone1", "rootns", "icmp", "reply")]
hidden = campus.check_policy(lab, policy=others)
assert hidden.ok, "between other hosts of the two VLANs: " + hidden.failures()
### END HIDDEN TESTS
"""),
("md", """
## Tear down

Always the last cell: `down()` stops what labkit started (by PID) and removes the namespaces.
"""),
("code", """
lab.down()
"""),
]
