CELLS = [
("md", """
# 00 — A tour of the seed network

The blog posts describe one engineer's network: an EC2 host at **1.2.3.4** serving DNS and
mail for `exampledomain.ca`, a home **router** with NAT, and a **Cisco 3550** layer-3 switch
that routes between VLAN1 (data) and VLAN2 (voice). This notebook brings up the skeleton
of that network as real Linux network namespaces, draws it, sends packets across it with
scapy, and tears it down.

**Goals**
1. bring a lab up from `topologies/seed.yaml` and see what it is made of;
2. ping and traceroute across it with scapy, from *inside* lab hosts;
3. break a route on purpose, watch `lab.check()` catch it, and fix it in IOS (exercise).
"""),
("code", """
import labkit
lab = labkit.Lab.up("seed", name="tour", replace=True)
lab
"""),
("md", """
`Lab.up` returns once every node and link exists and every service is ready: the router
and the 3550 run their IOS configs (`topologies/router.ios`, `topologies/sw3550.ios`),
pc1 and phone1 have leased their addresses from the 3550's DHCP pools, BIND and Postfix
run on the EC2 host with the seed's own files, and the lab internet has its root, `ca.`
and `com.` name servers, an ISP resolver and two remote mail hosts. Each node is a named network namespace
(`lk-tour-pc1`, ...): the lab survives this kernel, and `labkit exec --lab tour pc1 -- bash`
from a terminal lands inside the same host. If this notebook dies, the lab is removed when
the kernel exits; `labkit clean` removes it in any case.
"""),
("code-ignore", """
lab.draw();
"""),
("code", """
for n in lab.nodes:
    addrs = " ".join(n.addresses()) or f"{n.live_ip()} (leased)"
    print(f"{n.name:<8} {n.spec.role:<9} {n.spec.label:<20} {addrs}")
"""),
("md", """
## Packets across the lab

`node.call(...)` runs a function *inside* a node's namespace and brings the result back.
`labkit.probes.icmp.ping` builds ICMP echo requests with scapy. The TTL of each reply tells
how many routers it crossed (hosts start at 64): inside VLAN1 nothing decrements it; the
router is one hop from VLAN2; the internet is three routers away, behind the router's NAT.
Between the VLANs, the 3550's ACL 102 (see `sw3550.ios`) decides. VLAN2 cannot start
anything toward VLAN1: the switch denies it and answers with an ICMP "administratively
prohibited" (notebook 01). VLAN1's pings *reach* VLAN2, but the replies come in on Vlan2 and
meet the same list, because IOS ACLs are stateless: no reply. Only TCP that VLAN1 opens gets
through, since the ACL's `established` line lets VLAN2's answers (ACK set) pass; the seed's
checks below include pc1 opening the ACD's REST port on VLAN2.
And 1.2.3.4 never answers a ping: the seed's EC2 security group opens only TCP 25, TCP 53
and UDP 53, so ICMP is dropped (the `secgroup` service applies it with nftables).
"""),
("code", """
pairs = [("pc1", "192.168.1.20"), ("pc1", "192.168.2.22"), ("phone1", "192.168.254.1"),
         ("pc1", "198.41.0.4"), ("phone1", "198.41.0.4"), ("pc1", "1.2.3.4"), ("ec2", "198.41.0.4")]
for src, dst in pairs:
    r = lab.node(src).call("labkit.probes.icmp:ping", dst, count=2)
    ttl = r["replies"][0][2] if r["replies"] else "-"
    print(f"{src:>7} -> {dst:<15} {r['received']}/{r['sent']} replies, ttl {ttl}")
"""),
("code", """
for ttl, hop in lab.node("pc1").call("labkit.probes.icmp:traceroute", "198.41.0.4"):
    print(ttl, hop)
"""),
("md", """
The path is the one the seed describes: the **Vlan1 SVI** (192.168.1.1), the 3550's routed
port across the /30 to the **router's Fa0/0** (192.168.254.1), the ISP side of **Dialer1**,
then the root name server.

**One packet, in full.** Behind every probe is a packet like this one: an ICMP echo request
built with scapy, printed field by field before it is sent (`show2` computes the lengths and
checksums). The IPv4 header: version 4, header length (`ihl`) 5 words of 4 bytes, TTL 64,
protocol 1 (ICMP), pc2's address as source. The ICMP header: type 8 (echo request), code 0,
an identifier and a sequence number that the reply must copy (RFC 792).
`labkit.probes.raw:exchange` has pc2 send exactly these bytes and brings back the answer.
"""),
("code", """
from scapy.all import ICMP, IP
echo = IP(src="192.168.1.20", dst="198.41.0.4", id=7) / ICMP(id=0x4c4b, seq=1) / b"labkit"
echo.show2()
reply = IP(lab.node("pc2").call("labkit.probes.raw:exchange", bytes(echo)))
print(reply.sprintf("reply: %IP.src% -> %IP.dst% ttl %IP.ttl% | ICMP type %ICMP.type% "
                    "id %ICMP.id% seq %ICMP.seq%"), "| payload", bytes(reply[ICMP].payload))
"""),
("md", """
The reply is type 0 (echo reply) with the same identifier, sequence number and payload. Its
TTL is 61: the root server started at 64, and three routers decremented it. It is addressed
to 192.168.1.20 although the root server only ever saw the router's WAN address: the
router's NAT rewrote the request on the way out and the reply on the way back.

The lab has no way out: its namespaces have no link to the machine's own network, which is
what keeps the seed's public addresses (1.2.3.4) safe to reuse. A packet for an address
outside the lab shows it: the ISP router has no route for it and answers *Destination Net
Unreachable*.
"""),
("code", """
print(lab.node("ec2").cmd("ping -c1 -W1 8.8.8.8").splitlines()[1])
"""),
("md", """
## The topology's own checks

`topologies/seed.yaml` ends with declarative checks; `lab.check()` (or `labkit check` in a
shell) runs them inside the lab and prints a table.
"""),
("code", """
print(lab.check())
"""),
("md", """
## Exercise: a lost default route

The next cell removes the 3550's default route, as `no ip route 0.0.0.0 0.0.0.0` typed on
the switch would (with the prefix and mask alone, IOS removes every route to it: the seed's
`Fast0/1` line, or the one you typed if you run this section again). `sw.configure(...)` takes IOS lines as you would type them after
`configure terminal`, and changes the running switch. The checks notice that the LAN lost
the internet.

**Your task:** put the default route back *on the 3550, in IOS*: an `ip route` line passed
to `sw.configure(...)`, with the router's end of the /30 as the next hop
(`sw.show("show ip route")` lists the connected networks). Not Linux's `ip route add`: a
switch has no shell, and the graded check reads the switch's running config too. Write your
line in the next cell (the teacher's edition shows a solution there); the cell after it
checks your fix and is graded.
"""),
("code", """
sw = lab.service("sw3550", "ios")
sw.configure("no ip route 0.0.0.0 0.0.0.0")
print(sw.show("show ip route"))
for r in lab.check().results:
    if not r.ok:
        print(f"{r.check.describe()}: {r.detail}")
"""),
("md", """
The port forward fails too, although the ISP's SYN does reach pc2 (the router routes
192.168.0.0/16 to the switch and forwards port 80 to pc2): pc2's SYN-ACK goes back to its
gateway, the 3550, which has no route to the ISP any more. Every answer from the LAN to
the outside needs the 3550's default route, not only what the LAN starts. A capture on
pc2 while the ISP sends that SYN shows both halves (pc2 repeats its SYN-ACK while it waits,
so each kind of segment is listed once):
"""),
("code", """
from scapy.all import IP, TCP
from labkit.lessons import campus
with lab.node("pc2").capturing("eth0", bpf="tcp port 80") as cap:
    print("isp -> 100.64.0.2:80:", campus.syn_from(lab, "isp", "100.64.0.2", 80))
for seen in sorted({f"{p[IP].src} -> {p[IP].dst} {p[TCP].flags}" for p in cap.packets if TCP in p}):
    print("pc2's eth0:", seen)
"""),
("solution:default-route", """
### BEGIN SOLUTION
warnings = sw.configure("ip route 0.0.0.0 0.0.0.0 192.168.254.1")
### END SOLUTION
"""),
("check:default-route-check:2", """
report = lab.check()
failed = [f"{r.check.describe()}: {r.detail}" for r in report.results if not r.ok]
print(f"{len(report.results) - len(failed)}/{len(report.results)} checks pass")
assert not failed, "still failing: " + "; ".join(failed)
### BEGIN HIDDEN TESTS
# the route must be the switch's own: an IOS line in its running config, its gateway of last resort
lines = [l.strip() for l in sw.running_config().splitlines() if l.strip().startswith("ip route 0.0.0.0 0.0.0.0")]
assert lines, ("the 3550's running config has no 'ip route 0.0.0.0 0.0.0.0 ...' line "
               "(want the route typed in IOS with sw.configure, not added with Linux's ip route)")
table = sw.show("show ip route")
assert "Gateway of last resort is 192.168.254.1" in table, f"show ip route on the 3550: {table.splitlines()[2]} (want Gateway of last resort is 192.168.254.1)"
### END HIDDEN TESTS
"""),
("md", """
## Tear down

Always the last cell. `down()` kills the processes labkit recorded (by PID), deletes the
namespaces with their links, and returns what it could not remove: an empty list.
"""),
("code", """
lab.down()
"""),
]
