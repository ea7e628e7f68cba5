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
3. see what ACL 102 blocks, in which direction, and its counters, down to one raw packet;
4. take the router down and check the post's promise;
5. the router's NAT: the port forward, and the route every reply needs;
6. the seed's quirks (interface routes and proxy ARP, `ip routing`); then an exercise: fix a
   broken ACL.
"""),
("code", """
import labkit
from labkit.lessons import campus
from labkit.probes.dhcp import client_mac
lab = labkit.Lab.up("seed", name="campus", replace=True)
sw = lab.service("sw3550", "ios")          # the 3550's IOS service: show commands, notes
rt = lab.service("router", "ios")          # the home router's
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
`show access-lists` during that probe: in the lab every packet the ACL meets is counted. A
real 3550 applies the ACL in hardware and counts only what its CPU handles: the permitted,
hardware-switched packets (the SYN-ACK that answers pc2's SYN, line 10 `established`) are
missing from its counters; denied packets reach the CPU while `ip unreachables` is on,
since it answers them, and with `no ip unreachables` they are dropped in hardware and not
counted either (same guide). VLAN1 → VLAN2 ICMP and
UDP *reach* acd, but acd's answers are denied: that is the stateless part. A denied packet is
not dropped in silence: as IOS does by default (`ip unreachables`), the switch answers with
ICMP type 3 code 13, "administratively prohibited", from its Vlan2 address, at most one every
500 ms (`ip icmp rate-limit unreachable`); `no ip unreachables` on Vlan2 would make it silent.
The ICMP goes to whoever sent the denied packet. In the pc2 → acd rows that is acd, whose
answer was denied: pc2 sees no reply, and the 3/13 goes to acd.
"""),
("code", """
for row in campus.acl_matrix(lab):
    print(row.line())
"""),
("md", """
A real connection from VLAN1 works end to end. And the classic weakness of `established`:
it looks at flags only, so a crafted bare ACK from VLAN2 passes and pc2 answers it with a
RST. It cannot open a session, but it can map which VLAN1 addresses are alive.
"""),
("code", """
with campus.EchoServer(lab.node("acd")), campus.EchoServer(lab.node("pc2")):
    print(campus.probe(lab, "pc2", "acd", "tcp_session").result)
    print(campus.probe(lab, "acd", "pc2", "tcp_ack").line())
"""),
("md", """
**One packet, in full.** Here is that bare ACK, built with scapy field by field and printed
before it is sent: IPv4 header (version 4, header length `ihl` 5 words = 20 bytes, TTL 64,
protocol TCP, acd's address as source), then the TCP header: ports, a sequence number, an
acknowledgement number and the flag `A` alone, with no SYN. The checksums are computed when
scapy turns it into bytes (`show2`). `labkit.probes.raw:exchange` hands exactly these bytes
to acd, which sends them, and brings back what answered.
"""),
("code", """
from scapy.all import IP, TCP
ack = IP(src=lab.node("acd").live_ip(), dst=lab.node("pc2").live_ip(), id=1) / \\
      TCP(sport=40001, dport=7, flags="A", seq=1000, ack=1, window=8192)
ack.show2()
answer = IP(lab.node("acd").call("labkit.probes.raw:exchange", bytes(ack)))
print(answer.sprintf("answer: %IP.src% -> %IP.dst% ttl %IP.ttl% | TCP %TCP.sport% -> "
                     "%TCP.dport% flags %TCP.flags% seq %TCP.seq% ack %TCP.ack%"))
"""),
("md", """
pc2 has no connection for these ports, so its kernel answers `R` (RST) with sequence number 1,
the acknowledgement number our ACK carried (RFC 9293 §3.10.7.1). The TTL is 63: the 3550
routed it once. The RST went VLAN1 → VLAN2, out of Vlan2, and ACL 102 is `in` only.

The fix is a stateful filter that remembers which side opened a connection. The 3550 has
none. Its configuration guide lists reflexive access lists among the ACL features it does
not support (Catalyst 3550 Software Configuration Guide, "Configuring Network Security with
ACLs", "Unsupported Features"), and its command reference has no `ip inspect`: CBAC
(context-based access control) is part of the Cisco IOS Firewall feature set for routers
(Cisco IOS Security Configuration Guide, "Configuring Context-Based Access Control"). On this network the
state would live on a router (CBAC, or the zone-based firewall of later IOS) or on the hosts
themselves (nftables `ct state established`).
"""),
("md", """
## 4. The router goes down

The post's promise: inter-VLAN routing and DHCP live on the switch now, so only the internet
is lost. "Router down" here means every interface of the router set down inside its
namespace, as if it were powered off: the switch's routed port loses its carrier.
"""),
("code", """
def lan_status():
    dns = lab.node("pc1").call("labkit.dns.probes:query", "192.168.254.1", "www.exampledomain.ca", "A", True)
    rows = [("pc1 -> pc2 (VLAN1)", campus.icmp_from(lab, "pc1", "pc2")),
            ("phone1 -> acd (VLAN2)", campus.icmp_from(lab, "phone1", "acd")),
            ("pc2 -> acd TCP (inter-VLAN)", campus.syn_from(lab, "pc2", "acd", 7)),
            ("phone1 -> 198.41.0.4 (internet)", campus.icmp_from(lab, "phone1", "rootns")),
            ("pc1 DNS www.exampledomain.ca", dns["rcode"] or "no answer")]
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

One thing the promise forgets: **names**. Both DHCP pools hand out `dns-server
192.168.254.1`, the router's forwarder, so with the router down no name resolves, not even
a name of the LAN. The LAN still works by address. A second `dns-server` in each pool (a
resolver on the LAN) would keep names working.

## 5. The router's NAT: the port forward, and the route back

The router translates twice: PAT (`ip nat inside source list 1 interface Dialer1
overload`) for what the LAN starts, and a static forward of TCP 80 on the WAN address to
pc2. From the ISP, a connection to 100.64.0.2 port 80 reaches pc2's web server, and the
router's `show ip nat translations` lists the static entry and the session that used it:
"""),
("code", """
print("isp -> http://100.64.0.2/:", lab.node("isp").call("labkit.dns.probes:http_get", "http://100.64.0.2/"))
print("Pro  Inside global         Inside local          Outside local         Outside global")
print(*campus.forwards(lab, 80), sep="\\n")
"""),
("code-ignore", """
print(rt.show("show ip nat translations"))     # everything, with the ports of the moment
"""),
("md", """
The post says the router needs `ip route 192.168.0.0 255.255.0.0 Fast0/0` *"because we are
doing port forwarding"*. Every PAT reply needs it as much: the router rewrites the reply's
destination back to the inside address (192.168.x.y), then routes it, and only that route
says where 192.168.x.y is. Without it, the LAN loses the internet too:
"""),
("code", """
rt.configure("no ip route 192.168.0.0 255.255.0.0 Fast0/0")
print("no route to the LAN: pc1 -> 198.41.0.4", campus.icmp_from(lab, "pc1", "rootns"), "| isp -> :80",
      lab.node("isp").call("labkit.probes.campus:tcp_syn", "100.64.0.2", 80))
rt.configure("ip route 192.168.0.0 255.255.0.0 Fast0/0")      # the seed's line again
print("the seed's route:   pc1 -> 198.41.0.4", campus.icmp_from(lab, "pc1", "rootns"), "| isp -> :80",
      lab.node("isp").call("labkit.probes.campus:tcp_syn", "100.64.0.2", 80))
"""),
("md", """
## 6. The seed's quirks

**(a) Interface routes and proxy ARP.** The post writes `ip route 0.0.0.0 0.0.0.0 Fast0/1`
on the switch and `ip route 192.168.0.0 255.255.0.0 Fast0/0` on the router: an interface, no
next hop. IOS then treats every destination as if it were on that link: it ARPs for it, and
the neighbour answers for it by **proxy ARP**, which IOS has on by default on every
interface (`ip proxy-arp`). The lab does the same. `show ip route` lists both routes as
*directly connected*, and the router's ARP table holds phone1, two hops away, with the
switch's MAC address:
"""),
("code", """
from labkit.ios import show
print(sw.show("show ip route"))
campus.icmp_from(lab, "phone1", "rootns")                  # the router ARPs for phone1
arp = {e.address: e for e in show.arp_entries(lab.node("router").cmd)}
phone1, sw_mac = lab.node("phone1").live_ip(), lab.node("sw3550").cmd("cat /sys/class/net/fa0-1/address")
print(f"router's ARP entry for phone1 on {arp[phone1].interface}: "
      f"{'the switch Fa0/1 MAC' if arp[phone1].mac == sw_mac.strip() else arp[phone1].mac}")
for note in rt.notes + sw.notes:
    if "next hop" in note:
        print(campus.note_text(note))
"""),
("code-ignore", """
print(rt.show("show ip arp"))                               # the whole table, MACs of this run
"""),
("md", """
The note's advice, "write the next hop", is only half of it. Take 192.168.3.1, an address in
the router's 192.168.0.0/16 that no VLAN has. With next hops, the router sends it to the
switch, the switch has no route but its default and sends it back, and so on until the TTL
runs out: each TTL below expires one router further, alternately at the switch
(192.168.1.1, facing pc1) and at the router. Cisco's technote *Specifying a Next Hop IP
Address for Static Routes* adds the missing piece: a route for the aggregate to **Null0** on
the switch. The /24s of its SVIs are longer matches, so only what no VLAN has goes to Null0,
and the switch answers *host unreachable* at once:
"""),
("code", """
rt.configure("no ip route 192.168.0.0 255.255.0.0 Fast0/0\\nip route 192.168.0.0 255.255.0.0 192.168.254.2")
sw.configure("no ip route 0.0.0.0 0.0.0.0 Fast0/1\\nip route 0.0.0.0 0.0.0.0 192.168.254.1")
print("next hops:", *campus.hops(lab, "pc1", "192.168.3.1", range(1, 7)), sep="\\n  ")
sw.configure("ip route 192.168.0.0 255.255.0.0 Null0")
print("plus Null0:", *campus.hops(lab, "pc1", "192.168.3.1", (2, 5)), sep="\\n  ")
print("  pc1 -> 198.41.0.4", campus.icmp_from(lab, "pc1", "rootns"))
"""),
("md", """
The seed's interface routes never loop, for a reason IOS and Linux share: neither answers
proxy ARP for an address it would route back out of the interface the request came in on.
The switch ARPs on Fa0/1 for 192.168.3.1, the router's route for it points out of that same
link, so nobody answers, and after 3 s of ARP the switch gives up with *host unreachable*.
That ICMP is Linux's: the lab's switch is a Linux namespace, and its neighbour code answers
a packet whose ARP failed this way. A real 3550 drops such a packet as an encapsulation
failure (`debug ip packet` says `encapsulation failed`). This lab did not check whether it
also sends an unreachable, so the lesson is that the packet does not loop, not the ICMP.
The next cell puts the seed's lines back and shows it:
"""),
("code", """
sw.configure("no ip route 192.168.0.0 255.255.0.0 Null0\\nno ip route 0.0.0.0 0.0.0.0 192.168.254.1\\n"
             "ip route 0.0.0.0 0.0.0.0 Fast0/1")
rt.configure("no ip route 192.168.0.0 255.255.0.0 192.168.254.2\\nip route 192.168.0.0 255.255.0.0 Fast0/0")
print("the seed's routes:", *campus.hops(lab, "pc1", "192.168.3.1", (2, 64), wait=5), sep="\\n  ")
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
`sw3550.ios` adds it. `sw.configure` takes interface and route lines only, so the cell
turns forwarding off in the switch's namespace, which is what `no ip routing` does to a
3550 (a real switch has no shell). Without it each VLAN still works
inside itself, and nothing is routed: not to the internet, and not between the VLANs either,
the very thing the post bought the switch for (a TCP SYN from pc2 in VLAN1 to acd in VLAN2):
"""),
("code", """
def routing_status(label):
    with campus.EchoServer(lab.node("acd")):
        print(f"{label:<14} pc1 -> pc2 {campus.icmp_from(lab, 'pc1', 'pc2'):<7} | pc2 -> acd TCP",
              f"{campus.syn_from(lab, 'pc2', 'acd', 7):<9} | pc1 -> 198.41.0.4",
              campus.icmp_from(lab, "pc1", "rootns"))
lab.node("sw3550").cmd("sysctl -qw net.ipv4.ip_forward=0")      # no ip routing
routing_status("no ip routing:")
lab.node("sw3550").cmd("sysctl -qw net.ipv4.ip_forward=1")      # ip routing
routing_status("ip routing:")
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
DENIED = "unreachable 3/13 (administratively prohibited) from 192.168.2.1"   # IOS answers a deny with ICMP 3/13 from the VLAN's SVI
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
