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
2. look up the MX the way a LAN PC does: through the home router's DNS forwarder;
3. lint the seed's zone and see what BIND's own checker misses;
4. scan the security group from the internet;
5. exercise: fix the zone, raise its serial, and have the lab's BIND serve it.
"""),
("code", """
from pathlib import Path
import labkit
from labkit.dns.lint import lint_zone
from labkit.lessons.dns import format_findings, walk_table
REPO = Path(labkit.__file__).resolve().parents[1]
ZONE = REPO / "topologies" / "ec2" / "exampledomain.ca"
lab = labkit.Lab.up("seed", name="dns", replace=True)
print(ZONE.read_text())
"""),
("md", """
## The delegation, from the root down

The lab internet has its own root server (`a.root-servers.net`, 198.41.0.4, serving `.`
and `com.`), a `ca.` registry server (199.4.144.2), and the EC2 host. `walk` does what an
iterative resolver does. It asks the root with RD clear and follows each referral. At each
step it goes to the address from the **glue**, the A records in the additional section,
because the referral names a server without saying where it is. The walk runs inside pc1,
so every query goes out through the router's NAT.
"""),
("code", """
steps = lab.node("pc1").call("labkit.dns.probes:walk", "exampledomain.ca", "MX")
print(walk_table(steps))
"""),
("md", """
1. The root knows only who serves `ca.`, and refers the query there.
2. The `ca.` server holds what the registrar published when the author "changed the
   nameserver of that domain": an NS record for `ns.exampledomain.ca` and the glue
   `1.2.3.4`. Without that glue nobody could find the server, because its own name is
   inside the zone it serves.
3. BIND on 1.2.3.4 answers with authority (`aa`). It also adds the address of the MX
   target in the additional section.
"""),
("md", """
## The MX as a LAN PC sees it

pc1 leased its address from the 3550's DHCP pool. The pool's `dns-server` points at the
router (192.168.254.1). The router's `ip dns server` with `ip name-server 100.64.1.53`
(`topologies/router.ios`, run by dnsmasq) forwards queries to the ISP's resolver, which does
the walk above. `labkit.probes.mail.resolve_mx` sends one query with RD set for
the MX, and a second one for the exchanger's address, as a mail client would.
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
## Lint: two mistakes in the seed's zone

`labkit.dns.lint.lint_zone` parses the zone with line numbers and applies rules that
`named-checkzone` does not have.
"""),
("code", """
print(format_findings(lint_zone(ZONE, "exampledomain.ca"), base=REPO))
"""),
("md", """
BIND's own checker accepts the same file. Below it runs twice: offline (`-i local`), and
inside the EC2 host with full integrity checks (`-i full`), where the lab's DNS can
answer for `ns.`.
"""),
("code", """
import subprocess
local = subprocess.run(["named-checkzone", "-i", "local", "exampledomain.ca", str(ZONE)],
                       capture_output=True, text=True)
print("offline:  ", " | ".join(local.stdout.split("\\n")).strip(" |"))
full = lab.node("ec2").cmd(f"named-checkzone -i full exampledomain.ca {ZONE}")
print("in the lab:", " | ".join(full.split("\\n")).strip(" |"))
"""),
("md", """
**Why `named-checkzone` misses `NS ns.`.** The author meant `ns` (relative, so
`ns.exampledomain.ca.`) or `ns.exampledomain.ca.` with its dot. He wrote `ns.`, and the
trailing dot makes it absolute: a host called `ns` directly under the root. That name is
valid syntax. It lies outside the zone, and BIND's integrity checks look only at the zone's
*own* data (address records of in-zone NS and MX targets, glue). They send no DNS queries
at all: traced with `strace`, `named-checkzone -i full` made no network call in this lab,
where the root answers NXDOMAIN for `ns.`. So the checker prints `OK`. It cannot tell a
real out-of-zone server from a typo.
Nothing broke in practice either, for two reasons:

- resolvers use the **parent's** NS record and glue (`ns.exampledomain.ca`, 1.2.3.4), so
  the walk above works;
- the zone's own answer to an NS query still names the unresolvable `ns.`.

The SOA RNAME is a mailbox written as a name (the first `.` stands for `@`), so
`www.exampledomain.ca.` means `www@exampledomain.ca`. Nobody reads mail there: `vmbox`
has only `admin@` and `test@`.
"""),
("code", """
r = lab.node("pc1").call("labkit.dns.probes:query", "1.2.3.4", "exampledomain.ca", "NS")
print("NS at the apex, from the zone itself:", [a["data"] for a in r["answer"]])
r = lab.node("pc1").call("labkit.dns.probes:query", "100.64.1.53", "ns.", "A", rd=True)
print("A for ns. through the ISP resolver:", r["rcode"])
"""),
("md", """
## The security group, seen from the internet

The seed opens TCP 25, TCP 53 and UDP 53 in the EC2 console, and the lab's `secgroup`
service applies the same rules with nftables. `scan_ports` runs on the ISP router, outside
the home network. It sends a TCP SYN to each port (SYN/ACK means open, RST means closed,
silence means filtered), a real DNS query to UDP 53, and a ping. The group *drops*
everything else rather than rejecting it, as EC2 does, so closed ports look filtered.
"""),
("code", """
scan = lab.node("isp").call("labkit.dns.probes:scan_ports", "1.2.3.4", tcp=(25, 53, 22, 80), udp=(53,))
for proto in ("tcp", "udp"):
    for port, state in scan[proto].items():
        print(f"{port}/{proto:<4} {state}")
print(f"icmp    {'answers' if scan['ping'] else 'filtered'}")
"""),
("md", """
## Exercise: fix the zone, live

The lab's BIND serves its own copy of the zone, `bind.zone_file("exampledomain.ca")` in the
lab's run directory (the seed's file in `topologies/` stays as it is). Fix that copy and
make BIND serve it, as the author would on his EC2 host:

1. make the apex NS name the real server, `ns.exampledomain.ca.`;
2. make the SOA RNAME a mailbox that receives mail (`vmbox` delivers `admin@` and `test@`);
3. raise the SOA serial (the author's date-and-counter form, `YYYYMMDDnn`). A primary loads
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
from labkit.dns.lint import read_postfix_maps
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
