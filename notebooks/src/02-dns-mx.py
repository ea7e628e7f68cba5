CELLS = [
("md", """
# 02 — DNS for exampledomain.ca: delegation, MX, lint, security group

In the first blog post the author registers `exampledomain.ca`, points the registrar's
delegation at his own name server, and runs **BIND** on the EC2 host 1.2.3.4 with a small
zone file (`topologies/ec2/exampledomain.ca`, unchanged from the post). The security group
opens TCP 25, TCP 53 and UDP 53. This notebook checks all of it with scapy, from *inside*
lab hosts.

**Goals**
1. follow the delegation from the root down to `ns.exampledomain.ca`, glue included;
2. look up the MX as a mail server does, through the home router's DNS forwarder;
3. read one query and its reply byte by byte, and tell NODATA from NXDOMAIN;
4. lint the seed's zone, see what BIND's own checker catches and what it misses, and what
   the apex's `NS ns.` can break;
5. scan the security group from the internet, and find the post's web server behind it;
6. exercise: fix the zone, raise its serial, and have the lab's BIND serve it.

The next cell brings the lab up. Each section after it starts from what it needs (the
seed's zone served, the seed's security group), so the sections can run in any order.
"""),
("code", """
from pathlib import Path
import labkit
from labkit.dns.dig import negative_answers, negative_table
from labkit.dns.lint import lint_zone, read_postfix_maps, run_named_checkzone
from labkit.lessons.dns import (format_findings, message_fields, security_group,
                                set_security_group, walk_table, with_mx_target)
REPO = Path(labkit.__file__).resolve().parents[1]
ZONE = REPO / "topologies" / "ec2" / "exampledomain.ca"
lab = labkit.Lab.up("seed", name="dns", replace=True)
print(ZONE.read_text())
"""),
("md", """
## The delegation, from the root down

The lab internet has its own root server (`a.root-servers.net`, 198.41.0.4, serving `.`
and `com.`), a `ca.` registry server (199.4.144.2), and the EC2 host. `walk` does what an
iterative resolver does. It asks the root with RD clear and follows each referral. A
referral names the next servers in its authority section (NS records) and, when their names
lie below the cut, gives their addresses in the additional section: the **glue**. Glue
exists only in referrals ("only used as part of a referral response", RFC 1034 §4.2.1;
RFC 9471 makes sending it a must). The walk runs inside pc1, so every query goes out
through the router's NAT.
"""),
("code", """
steps = lab.node("pc1").call("labkit.dns.probes:walk", "exampledomain.ca", "MX")
print(walk_table(steps))
"""),
("md", """
1. The root knows only who serves `ca.`, and refers the query there, with the glue for
   `any.ca-servers.ca.`.
2. The `ca.` server holds what the registrar published when the author "changed the
   nameserver of that domain": an NS record for `ns.exampledomain.ca` and the glue
   `1.2.3.4`. Without that glue nobody could find the server, because its own name is
   inside the zone it serves.
3. BIND on 1.2.3.4 answers with authority (`aa`). The address of the MX target that it adds
   in the additional section is **not** glue: this is an answer, not a referral. It is
   additional data (RFC 1035 §4.1: "RRs which relate to the query, but are not strictly
   answers"), which saves the asker a second query, and which RFC 2181 §5.4.1 ranks lowest.
"""),
("md", """
## The MX as a mail server looks it up

pc1 leased its address from the 3550's DHCP pool. The pool's `dns-server` points at the
router (192.168.254.1). The router's `ip dns server` with `ip name-server 100.64.1.53`
(`topologies/router.ios`, run by dnsmasq) forwards queries to the ISP's resolver, which does
the walk above. `labkit.probes.mail:resolve_mx` sends one query with RD set for the MX, then
one for the exchanger's address: what a mail *server* (an MTA) does before it relays a
message to exampledomain.ca (RFC 5321 §5.1, "Locating the Target Host"). A mail *client*
(an MUA: Thunderbird on pc1) does no MX lookup: it submits to its own server, the one in
its settings (RFC 6409), and that server looks up the MX.
"""),
("code", """
pc1 = lab.node("pc1")
print(pc1.cmd("cat /etc/resolv.conf").strip())
mx = pc1.call("labkit.probes.mail:resolve_mx", "exampledomain.ca", "192.168.254.1")
print(f"MX via {mx['dns']}: {mx['rcode']}, records {mx['mx']}, {mx['exchanger']} -> {mx['address']}")
r = pc1.call("labkit.dns.probes:query", "192.168.254.1", "exampledomain.ca", "MX", rd=True)
print(f"flags: aa={r['aa']} ra={r['ra']} (the forwarder recurses and is not the authority)")
"""),
("md", """
## One query on the wire, field by field

The helpers above build their packets with scapy and hide them. Here is one exchange in
full. The next cell builds the query with scapy, sends its bytes from a UDP socket inside pc1
to 1.2.3.4 (`labkit.dns.client:udp_ask`, run in the node) and prints both messages as they
were on the wire, field by field (RFC 1035 §4.1).
"""),
("code", """
from scapy.layers.dns import DNS, DNSQR
query = DNS(id=0x2A2A, rd=1, qd=DNSQR(qname="exampledomain.ca", qtype="MX"))
reply = lab.node("pc1").call("labkit.dns.client:udp_ask", bytes(query), "1.2.3.4", 53)
print(f"query, {len(bytes(query))} bytes:")
print(message_fields(bytes(query)))
print(f"\\nreply, {len(reply)} bytes:")
print(message_fields(reply))
"""),
("md", """
- **ID** (2 bytes): picked by the asker, copied into the reply, so the asker can match the
  reply to its query. A real resolver picks it at random, and a random source port too, so
  that an off-path attacker must guess both to forge a reply (RFC 5452 §9.2). It is fixed
  here (0x2a2a) so that this output is the same on every run; the source port does not
  appear in the DNS message.
- **flags** (2 bytes): QR 0 = query, 1 = response; OPCODE 0 = a standard query; **RD**
  (recursion desired) is set in the query, and the reply copies it; **AA**, set in the
  reply, says 1.2.3.4 is an authority for the name; **RA** stays 0: this BIND has
  `recursion no` and answers from its own zone only, whatever RD asks. RCODE 0 = NOERROR.
- **QDCOUNT, ANCOUNT, NSCOUNT, ARCOUNT**: how many entries each section holds: one
  question; in the reply one answer, nothing in authority, one additional record.
- **QNAME** is a series of labels, each prefixed by its length (`0d` = 13, `exampledomain`,
  `02`, `ca`) and ended by a zero byte; then **QTYPE** 15 (MX) and **QCLASS** 1 (IN).
- The reply repeats the question, then its records. Each has a NAME, TYPE, CLASS, TTL
  (300 s, the zone's `$TTL`) and RDATA with its length. Names in the reply are compressed
  (RFC 1035 §4.1.4): `c0 0c` is a pointer to offset 12, where the question's name starts,
  and the additional record's name `c0 30` points into the MX RDATA's `mail` label.
"""),
("md", """
## Two kinds of "no": NODATA and NXDOMAIN

A name that does not exist gets **NXDOMAIN** (rcode 3). A name that exists but has no
record of the asked type gets **NODATA**, which has no rcode of its own: NOERROR with an
empty answer section and the zone's SOA in the authority section (RFC 2308 §2.1 and §2.2).
Both carry the SOA, whose TTL and MINIMUM bound how long a resolver caches the "no"
(RFC 2308 §5). `www.exampledomain.ca` has an A record and no MX; `nope.exampledomain.ca`
does not exist. `dig` runs inside pc1 and asks 1.2.3.4.
"""),
("code", """
bind = lab.service("ec2", "bind")
bind.restore_zone("exampledomain.ca")        # the seed's zone, whatever ran before
answers = negative_answers(lab.node("pc1"), "1.2.3.4",
                           [("www.exampledomain.ca", "MX"), ("nope.exampledomain.ca", "A")])
print(negative_table(answers))
print("SOA in both:", answers[0].soa())
"""),
("md", """
Only the rcode tells them apart. A mail server that gets NODATA for an MX query falls back
to the name's address (RFC 5321 §5.1's implicit MX); after NXDOMAIN there is nothing to
fall back to.
"""),
("md", """
## Lint: two mistakes in the seed's zone

`labkit.dns.lint.lint_zone` parses the zone with line numbers and applies rules that
`named-checkzone` does not have.
"""),
("code", """
print(format_findings(lint_zone(ZONE, "exampledomain.ca"), base=REPO))
"""),
("md", """
BIND's own checker accepts the same file, in both of its integrity modes
(named-checkzone(1), `-i`). `-i local` checks only in-zone names and sends nothing, so it
runs here in the notebook's own namespace. `-i full`, the default, also checks that
**out-of-zone** MX and SRV targets and delegation NS targets have an address, and asks the
resolver for them: it sends DNS queries, so it runs inside the EC2 host, whose resolver is
the lab ISP's. A variant of the zone with its MX pointed at `mail.exampledomain.com.` (a
`.com` for `.ca` typo) shows the difference.
"""),
("code", """
typo = lab.run_dir / "exampledomain.ca.mx-typo"
typo.write_text(with_mx_target(ZONE.read_text(), "mail.exampledomain.com."))
for path in (ZONE, typo):
    for mode, node in (("local", None), ("full", lab.node("ec2"))):
        found = run_named_checkzone(path, "exampledomain.ca", integrity=mode, node=node)
        print(f"{path.name:<25} -i {mode:<5}", format_findings(found, base=lab.run_dir))
"""),
("md", """
**What `named-checkzone` misses, and why.** With `-i full`, BIND 9.18 asked the lab's DNS
for `mail.exampledomain.com`, got no address, and warned that the out-of-zone MX target
"has no addresses records". It is a warning: the zone still loads (`OK`, exit 0), as named
would load it. But the seed's `NS ns.` passes both modes. The author meant `ns` (relative,
so `ns.exampledomain.ca.`) or `ns.exampledomain.ca.` with its dot. He wrote `ns.`, and the
trailing dot makes it absolute: a host called `ns` directly under the root. That name is
valid syntax, and the integrity checks look up NS targets only for **delegations** (NS
records below the apex, for child zones), never the zone's own apex NS. So the checker
prints `OK`. `tests/test_dns_checkzone_lab.py` captures the queries: the MX target is asked
for, `ns.` never.

The SOA RNAME is a mailbox written as a name (RFC 1035 §3.3.13; the first `.` stands for `@`), so
`www.exampledomain.ca.` means `www@exampledomain.ca`. Nobody reads mail there: `vmbox`
has only `admin@` and `test@`.
"""),
("md", """
## Did `NS ns.` break anything?

The walk above works: it follows the **parent's** referral (`ns.exampledomain.ca`, glue
1.2.3.4), and so does the lab ISP's resolver. But the zone's own NS answer names `ns.`,
which does not resolve:
"""),
("code", """
lab.service("ec2", "bind").restore_zone("exampledomain.ca")   # the seed's zone, whatever ran before
r = lab.node("pc1").call("labkit.dns.probes:query", "1.2.3.4", "exampledomain.ca", "NS")
print("NS at the apex, from the zone itself:", [a["data"] for a in r["answer"]], "aa" if r["aa"] else "")
r = lab.node("pc1").call("labkit.dns.probes:query", "100.64.1.53", "ns.", "A", rd=True)
print("A for ns. through the ISP resolver:", r["rcode"])
"""),
("md", """
"Nothing broke" holds only for resolvers that stick to the parent's delegation. RFC 2181
§5.4.1 ranks what a resolver may believe: the NS records and glue of a referral come from the
authority and additional sections of a non-authoritative answer, the lowest rank; the
child's own NS set in an authoritative answer ranks far above them, and "an authoritative
answer from a reply should replace cached data" of lower rank. A resolver that asks the child
for its NS set (or gets it in the authority section of an answer) therefore replaces
`ns.exampledomain.ca` with `ns.`. Once the cached answers expire, its next query for any name
in the zone needs an address for `ns.`, gets NXDOMAIN, and the client sees SERVFAIL. BIND 9.18
as a resolver does exactly this: run in this lab with the lab root as its hint, it resolves
`www.exampledomain.ca` through the referral, and after one `exampledomain.ca NS` query every
name of the zone it has not cached yet gets SERVFAIL (`tests/test_dns_negative_lab.py`).
"""),
("md", """
## The security group, seen from the internet

The seed opens TCP 25, TCP 53 and UDP 53 in the EC2 console, and the lab's `secgroup`
service applies the same rules with nftables. Yet the post wants a web server on the same
host ("my own DNS server, mail server and web server", `www` -> 1.2.3.4), and the seed lab
runs one on port 80. `scan_ports` runs on the ISP router, outside the home network. It sends
a TCP SYN to each port (SYN/ACK means open, RST means closed, silence means filtered), a real
DNS query to UDP 53, and a ping. The group *drops* everything else rather than rejecting it,
as EC2 does, so closed ports look filtered. `http_get` fetches the page.
"""),
("code", """
print("group:", set_security_group(lab, security_group("seed")))   # the post's group, as in seed.yaml
scan = lab.node("isp").call("labkit.dns.probes:scan_ports", "1.2.3.4", tcp=(25, 53, 22, 80), udp=(53,))
for proto in ("tcp", "udp"):
    for port, state in scan[proto].items():
        print(f"{port}/{proto:<4} {state}")
print(f"icmp    {'answers' if scan['ping'] else 'filtered'}")
for node in ("ec2", "isp", "pc1"):
    print(f"GET http://www.exampledomain.ca/ from {node}:",
          lab.node(node).call("labkit.dns.probes:http_get", "http://1.2.3.4/", "www.exampledomain.ca"))
"""),
("md", """
The web server runs: ec2 gets its page (loopback traffic is outside the group). From the
internet, and from the home LAN through the router's PAT, the SYN to port 80 is dropped and
the GET times out: the group as the post wrote it blocks the post's own web server. The
fix is a fourth inbound rule, TCP 80 from anywhere, which `topologies/seed-www.yaml` adds.
The next cell applies that group to the running lab, as one edits a security group in the
EC2 console (the secgroup service restarted with the new rules, its nftables table
replaced), then puts the seed's group back.
"""),
("code", """
print("group:", set_security_group(lab, security_group("seed-www")))   # + 80/tcp
scan = lab.node("isp").call("labkit.dns.probes:scan_ports", "1.2.3.4", tcp=(80, 22), udp=())
print("from isp:", ", ".join(f"{port}/tcp {state}" for port, state in scan["tcp"].items()))
for node in ("isp", "pc1"):
    print(f"GET http://www.exampledomain.ca/ from {node}:",
          lab.node(node).call("labkit.dns.probes:http_get", "http://1.2.3.4/", "www.exampledomain.ca"))
print("group:", set_security_group(lab, security_group("seed")))   # back to the post's group
"""),
("md", """
## Exercise: fix the zone, live

The lab's BIND serves its own copy of the zone, `bind.zone_file("exampledomain.ca")` in the
lab's run directory (the seed's file in `topologies/` stays as it is). Fix that copy and
make BIND serve it, as the author would on his EC2 host:

1. make the apex NS name the real server, `ns.exampledomain.ca.`;
2. make the SOA RNAME a mailbox that receives mail (`vmbox` delivers `admin@` and `test@`);
3. raise the SOA serial (the author's 2012220104 looks like a date and a counter,
   `YYYYMMDDnn`, but month 22 is no month: any larger number will do). A primary loads
   the file anyway, but secondaries and anything that compares serials see a change only
   when the serial grows;
4. run `bind.reload()`, what `rndc reload` does on the seed's host. It runs
   `named-checkzone` on your file first: a mistake comes back with its line, and BIND keeps
   serving the old zone. Then named reloads, and `reload()` returns the serial it serves.

The next cell prints the file as BIND has it. Write the corrected zone into it in the cell
after (with `zone.write_text(...)`, or edit the file in an editor and run only the reload);
the teacher's edition shows a solution there. The check cell asks the live server from pc1
and is graded.
"""),
("code", """
bind = lab.service("ec2", "bind")
zone = bind.zone_file("exampledomain.ca")
print(zone.name, "served with serial", bind.serials(["exampledomain.ca"])["exampledomain.ca"])
print(zone.read_text())
"""),
("solution:zone-fix", """
### BEGIN SOLUTION
_ = zone.write_text('''$TTL    300
@           IN SOA  exampledomain.ca. admin.exampledomain.ca. (
                    2012220105      ; serial: one more than the seed's
                    1H      ; refresh
                    15M     ; retry
                    1W      ; expiry
                    1D )        ; minimum

            IN NS   ns.exampledomain.ca.
            IN A    1.2.3.4
            IN MX 10 mail

ns              IN A 1.2.3.4
www             IN A 1.2.3.4
mail            IN A 1.2.3.4
''')
served = bind.reload()
### END SOLUTION
"""),
("check:zone-fix-check:2", """
findings = lint_zone(zone, "exampledomain.ca")
assert not findings, "lint of the zone BIND loads: " + format_findings(findings, base=bind.run_dir)
r = lab.node("pc1").call("labkit.dns.probes:query", "1.2.3.4", "exampledomain.ca", "NS")
names = [a["data"] for a in r["answer"] if a["type"] == "NS"]
print("NS served by 1.2.3.4:", names)
assert names, f"NS query to 1.2.3.4 from pc1: {r['rcode']}, no NS record (want the zone's name server)"
for name in names:
    a = lab.node("pc1").call("labkit.dns.probes:query", "100.64.1.53", name, "A", rd=True)
    addrs = [x["data"] for x in a["answer"] if x["type"] == "A"]
    print(f"{name} A through the ISP resolver: {a['rcode']} {addrs}")
    assert addrs, f"NS {name} (served by 1.2.3.4) does not resolve: {a['rcode']} from the ISP resolver (want an A record)"
### BEGIN HIDDEN TESTS
# the serial the live server answers grew, the RNAME is a mailbox Postfix delivers, the rest of the zone is intact
serial = bind.serials(["exampledomain.ca"])["exampledomain.ca"]
assert serial is not None and serial > 2012220104, f"SOA serial served by 1.2.3.4: {serial} (want more than the seed's 2012220104)"
maps = read_postfix_maps(*(REPO / "topologies" / "ec2" / m for m in ("vmbox", "valias", "vdomains")))
findings = lint_zone(zone, "exampledomain.ca", *maps)
assert not findings, "the SOA RNAME against the Postfix maps: " + format_findings(findings, base=bind.run_dir)
for host in ("exampledomain.ca", "www.exampledomain.ca", "mail.exampledomain.ca"):
    a = lab.node("pc1").call("labkit.dns.probes:query", "1.2.3.4", host, "A")
    got = [x["data"] for x in a["answer"] if x["type"] == "A"]
    assert got == ["1.2.3.4"], f"{host} A at 1.2.3.4: {a['rcode']} {got} (want 1.2.3.4)"
mx = lab.node("pc1").call("labkit.dns.probes:query", "1.2.3.4", "exampledomain.ca", "MX")
assert [x["data"] for x in mx["answer"]] == ["10 mail.exampledomain.ca."], f"MX at 1.2.3.4: {mx['answer']} (want 10 mail.exampledomain.ca.)"
### END HIDDEN TESTS
"""),
("md", """
## Tear down
"""),
("code", """
lab.down()
"""),
]
