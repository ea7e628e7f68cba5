CELLS = [
("md", """
# 03 — Mail for exampledomain.ca

The first blog post runs **Postfix** on the EC2 host (1.2.3.4) with *virtual mailboxes*: no
Unix accounts, three small maps (`vdomains`, `vmbox`, `valias`, see `topologies/ec2/`) and
`postmap` to compile them. `admin@` gets a Maildir, `test@` an mbox file, `user1@` is
forwarded to Gmail. This notebook sends real mail across the lab and reads what lands.

**Goals**
1. send mail from the LAN: MX through the router's DNS forwarder, SMTP through its NAT, and
   look at the DNS query on the wire, field by field;
2. check each of the seed's flows, and see how the author's Postfix 2.6 answered a relay
   attempt, in a real SMTP exchange;
3. read the delivered Maildir and mbox files;
4. solve the seed's puzzle: why must the domain *not* be in `virtual_alias_domains`?
5. measure the seed's "Automation" idea: files + `postmap` against a database;
6. exercise: write a mailbox's `vmbox` line yourself, choose its format, postmap, and prove
   that it receives mail.
"""),
("code", """
import mailbox
import labkit
from labkit.lessons import mail as labmail
from labkit.lessons.mail import steps_table
from labkit.mail import puzzle
lab = labkit.Lab.up("seed", name="mail", replace=True)
postfix = lab.service("ec2", "postfix")     # the seed's main.cf + maps, rendered into the run dir
print(postfix.conf_dir.relative_to(postfix.run_dir), "|", postfix.cfg.mailbox_base.relative_to(postfix.run_dir))
"""),
("md", """
## One message from the LAN

`labkit.probes.mail.send` runs *inside* a LAN host (`node.call`), here pc2, the data server
at its fixed 192.168.1.20 (pc1 leases its address by DHCP, and the lease differs from run to
run). It does what a sending MTA does (RFC 5321 §5.1): it asks for the MX of the recipient's
domain, here through the router's forwarder 192.168.254.1, with scapy, then for the
exchanger's address, and then talks SMTP to it with Python's `smtplib`. (A mail *client*
would not look up MX at all: it submits to its own server, RFC 6409.) The connection leaves
VLAN1, crosses the 3550 and the router's NAT, and reaches 1.2.3.4 port 25, which the
security group leaves open. The queue ID in the `DATA` reply changes on every run, so the
probe replaces it. tcpdump listens on pc2's eth0 meanwhile and keeps the DNS packets.
"""),
("code", """
r, dns = labmail.send_captured(lab, "admin@exampledomain.ca", "hello admin", node="pc2")
print(steps_table(r))
print("\\nDNS packets on pc2's eth0:")
for pkt in dns:
    print("  ", pkt.summary())
"""),
("md", """
### The MX query, field by field

The first packet is the query the probe built with scapy
(`IP(dst=...)/UDP(sport=RandShort(), dport=53)/DNS(rd=1, qd=DNSQR(qname=..., qtype="MX"))`),
as tcpdump caught it. Two fields change on every run and are written `(random)`: the UDP
source port and the UDP checksum, which covers it. The MAC addresses are the lab's own and
change with every lab.
"""),
("code", """
print(labmail.show_packet(dns[0]))
"""),
("md", """
Reading it from the top:

- **Ethernet**: the destination is not 192.168.254.1's MAC but that of pc2's gateway, the
  3550's VLAN1 interface 192.168.1.1: a frame only reaches the next hop.
- **IP**: `id = 1` is scapy's default (the kernel's own sockets choose their own); `ttl = 64`;
  `proto = udp`; `len = 62` is 20 bytes of IP header, 8 of UDP and 34 of DNS.
- **UDP**: `dport = domain` is 53. The source port is scapy's `RandShort()`, new for each query.
- **DNS**: `id = 0`. The probe never sets the ID, so it keeps scapy's default, and only the
  random source port tells a real answer from a forged one. A resolver should make both
  unpredictable (RFC 5452). `rd = 1` asks the forwarder to recurse for us; one question,
  `qtype = MX`, `qclass = IN`. The second query in the list above asks for the exchanger's
  A record.
"""),
("md", """
## The seed's flows

One message per flow. The first four go from pc1. The last one comes from the **internet
side** (the ISP router): a stranger tries to use 1.2.3.4 to send mail to yahoo.com. Postfix
answers each `RCPT TO`, then `labmail` waits until the accepted messages show up where the
seed says they go:

- `admin@` is a Maildir (the `vmbox` path ends in `/`);
- `test@` is an mbox file (no `/`);
- `user1@` is an alias (`valias`). Postfix looks up gmail.com's MX in the lab DNS and
  delivers to the gmail host's mail sink;
- `nobody@` gets `550 5.1.1 ... User unknown in virtual mailbox table`;
- the relay attempt gets `454 4.7.1 Relay access denied`. That answer comes from a setting
  **labkit adds**, not from the seed: the seed's `main.cf` sets no `compatibility_level`, and
  labkit renders it with `compatibility_level = 3.6` (the rendered `main.cf` says so at its
  end). At that level `smtpd_relay_restrictions` is `permit_mynetworks,
  permit_sasl_authenticated, defer_unauth_destination`, and `defer_unauth_destination`
  refuses "with a non-permanent error code" (postconf(5)). Only the host itself is in
  `mynetworks`, since the default `mynetworks_style` is `host` at that level
  (COMPATIBILITY_README). The ISP edge talks to 1.2.3.4 from 1.2.3.1, its address on the EC2
  host's own subnet: that matters in the next section.
"""),
("code", """
labmail.use_compat(lab, "3.6")             # labkit's default relay rules (the next section changes them)
flows = labmail.run_flows(lab)
print(labmail.flow_table(flows))
assert all(f.ok for f in flows)
"""),
("md", """
## What the author's Postfix 2.6 answered

The seed's `main.cf` is a Postfix 2.6.6 one (its `sample_directory` says so). That Postfix
answered the same relay attempt differently:

- It had no `smtpd_relay_restrictions` (new in 2.10). Relay control was the default
  `smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination`, and
  `reject_unauth_destination` answers with `relay_domains_reject_code`, 554 (postconf(5)).
- The default `mynetworks_style` was `subnet` before Postfix 3.0 (postconf(5)): every
  host on the server's own subnets may relay.

Postfix 3 keeps these old defaults at low compatibility levels: `smtpd_relay_restrictions`
is empty below level 1, `mynetworks_style` is `subnet` below level 2 (COMPATIBILITY_README).
The postfix service's parameter `compat: "2.6"` sets level 0 and 2.x's
`smtpd_recipient_restrictions`, which Postfix 3 no longer has as its default
(`topologies/seed-postfix26.yaml` is a whole lab with it). `labmail.use_compat` sets it on
this lab's service and restarts Postfix, in under a second. Then swaks, a real SMTP client,
tries the relay from gmail's host, a stranger on the internet. swaks prints the exchange
line by line: `->` is what it sent, `<-` a reply, `<**` a refusal.
"""),
("code", """
labmail.use_compat(lab, "2.6")
rc, out = labmail.swaks(lab, "gmail", "142.250.1.26", "someone@yahoo.com")
print(out)
"""),
("md", """
`554` is a permanent refusal: a 5yz reply tells the client not to repeat the command as it
is (RFC 5321 §4.2.1), where labkit's `454` (4yz) lets it try again later. `5.7.1` is the
enhanced code for "delivery not authorized" (RFC 3463). The `EHLO` list has no `SMTPUTF8`
either: `smtputf8_enable` came with Postfix 3.0 (postconf(5)), and below level 1 it is off
(COMPATIBILITY_README). The rest of the list is still this Postfix 3.7's: `CHUNKING`, for
one, came with 3.4, so the author's 2.6 never offered it.

Now the same attempt from the ISP edge's 1.2.3.1, an address on the EC2 host's subnet, this
time with the message:
"""),
("code", """
rc, out = labmail.swaks(lab, "isp", "1.2.3.1", "someone@yahoo.com", quit_after=None,
                        subject="relayed for the subnet")
print("RCPT TO from 1.2.3.1:", labmail.rcpt_reply(out))
fmt, msgs = labmail.wait_delivered(lab, "someone@yahoo.com", "relayed for the subnet")
print("at yahoo.com's MX:", [m["Subject"] for m in msgs if m["Subject"] == "relayed for the subnet"])
print("Postfix's log:", *labmail.compat_log(lab), sep="\\n  ")
ec2, conf = lab.node("ec2"), postfix.conf_dir
print(ec2.run(["postconf", "-c", str(conf), "-x", "mynetworks_style", "mynetworks"]).stdout)
"""),
("md", """
The author's server relayed for every host of its subnet, 1.2.3.0/24 here, and the log
says which 2.x default let it do so. The fix is to say who may relay instead of inheriting
it: `mynetworks = 127.0.0.0/8` (a list given by hand makes Postfix ignore
`mynetworks_style`, postconf(5)), or `mynetworks_style = host`. Back to labkit's rules, both
clients get the 454 from the flows above, and only the host itself is trusted:
"""),
("code", """
labmail.use_compat(lab, "3.6")
for node, source in (("gmail", "142.250.1.26"), ("isp", "1.2.3.1")):
    rc, out = labmail.swaks(lab, node, source, "someone@yahoo.com")
    print(f"{node} from {source}:", labmail.rcpt_reply(out))
print(ec2.run(["postconf", "-c", str(conf), "-x", "mynetworks_style", "mynetworks"]).stdout)
"""),
("md", """
## What landed on disk

The seed's `/var/vhosts` is `vhosts/` in the service's run directory. The Received
headers show who Postfix saw: `100.64.0.2`, the router's Dialer1 address, not pc1's
192.168.1.x. That is the NAT at work. The copy for `user1@` sits in the gmail sink's
Maildir: Postfix looked up gmail.com's MX in the lab DNS and relayed it there.
`labmail.ensure_flows` sends the flows' messages first if they are not there yet.
"""),
("code", """
labmail.ensure_flows(lab)
print(labmail.mailbox_listing(lab, ("admin@exampledomain.ca", "test@exampledomain.ca",
                                    "user1@exampledomain.ca")))
"""),
("md", """
These are ordinary files, so the standard library reads them: `mailbox.Maildir` reads a
directory with `cur/ new/ tmp/`, and `mailbox.mbox` reads one file of messages, each
starting with a `From ` line.
"""),
("code", """
base = postfix.cfg.mailbox_base / "exampledomain.ca"
maildir = mailbox.Maildir(base / "admin", create=False)
print("admin/ subdirectories:", sorted(p.name for p in (base / "admin").iterdir()))
for msg in sorted(maildir, key=lambda m: m["Subject"]):
    print("  Maildir:", msg["Delivered-To"], "|", msg["Subject"])
for msg in mailbox.mbox(base / "test", create=False):
    print("  mbox:   ", msg["Delivered-To"], "|", msg["Subject"],
          "| starts with 'From ':", (base / "test").read_bytes().startswith(b"From "))
"""),
("md", """
## The seed's puzzle

The author wrote: *"I'm not sure why, but I discovered that you should not use
virtual_alias_domains if you want to use mailboxes and aliases for the same domains."*
`labkit.mail.puzzle.run` starts a throw-away Postfix on loopback, first with the seed's
settings and then with `exampledomain.ca` also in `virtual_alias_domains`, and asks
`RCPT TO` for each address.

The post's advice has a slip too. It says to *"only list the domains in
virtual_mailbox_maps"*, but the domains belong in **`virtual_mailbox_domains`**. The seed's
own `main.cf` does that with `virtual_mailbox_domains = hash:/etc/postfix/vdomains`, "the list
of domains we are accepting mail for". `virtual_mailbox_maps` (`vmbox`) lists addresses and
their mailboxes: "all valid addresses in the domains that match $virtual_mailbox_domains"
(postconf(5); VIRTUAL_README's virtual mailbox example sets both). The third run takes the
words literally: the domain moves from `vdomains` to `vmbox`.
"""),
("code", """
seed, both = puzzle.run(both=False), puzzle.run(both=True)
slip = puzzle.run(both=False, slip=True)
print("seed (virtual_mailbox_domains only):")
print(seed.table())
print("\\nalso in virtual_alias_domains:")
print(both.table())
print("\\nPostfix log:", *both.warnings)
print("\\nthe slip: the domain in virtual_mailbox_maps (vmbox), not in vdomains:")
print(slip.table())
"""),
("md", """
**Why.** Postfix's trivial-rewrite gives every recipient domain exactly *one* address
class, and tries them in a fixed order: local (`mydestination`), then virtual alias
(`virtual_alias_domains`), then virtual mailbox (`virtual_mailbox_domains`), then relay.
A domain listed in both is therefore a virtual *alias* domain. That class has no mailboxes:
every address in it must be rewritten by `virtual_alias_maps`, or it is unknown. Only
`user1@` survives. The seed works without `virtual_alias_domains` because `cleanup`
applies `virtual_alias_maps` to every recipient, whatever the domain's class. VIRTUAL_README
says the same as a rule: never list a virtual mailbox domain as a virtual alias domain.

**The slip.** With the domain only in `vmbox`, it is in no address class at all. Postfix is
not its final destination, so every address of it, `admin@` included, is a relay attempt:
`454 ... Relay access denied`. VIRTUAL_README warns of this when `virtual_mailbox_domains`
is left out. (Only with `virtual_mailbox_domains` left at its default, `$virtual_mailbox_maps`,
does a domain line in `vmbox` count, postconf(5). The seed sets it.)
"""),
("md", """
## Automation: files + postmap, or a database?

The seed wants a web page where users create mailboxes, and notes that Postfix can read
its maps from a database. `labkit.mail.admin` implements both designs:

- **files**: an append under a lock (and an fsync) per mailbox, then a scheduler runs
  `postmap` once the writes have been quiet for 300 ms, so a whole burst costs one rebuild;
- **sqlite**: an `INSERT` per mailbox, each its own transaction, which Postfix sees on its
  next lookup;
- **sqlite-batch**: the same table, but the whole burst in **one** transaction.

The experiment adds bursts of 1, 10, 100 and 500 mailboxes to a loopback Postfix of each
kind. For each burst it measures the time until the last new mailbox accepts mail, the CPU
the automation spent, and how much of the writer's time was spent waiting rather than
computing. The timings vary from run to run, so the checked cell prints only the facts; the
table and the plot come after it.
"""),
("code", """
from labkit.lessons.mail import burst_facts, burst_table, plot_bursts
from labkit.mail.experiment import burst_experiment
rows = burst_experiment(bursts=(1, 10, 100, 500))
print(burst_facts(rows))
"""),
("code-ignore", """
print(burst_table(rows))
plot_bursts(rows);
"""),
("md", """
How to read it: the files backend waits out the quiet period (about 0.3 s) whatever the
burst size, and then runs one `postmap`. SQLite is live within milliseconds of each
`INSERT`. Row by row, though, every `INSERT` is a transaction of its own, and its commit
waits for the disk: an fsync is **I/O wait**, time in the `waiting` column and the third
panel, not CPU. The CPU of row-by-row SQLite goes to the work each transaction repeats (a
new connection, the write lock, creating, writing and deleting the rollback journal); at
500 mailboxes that comes to a little more than the files design spends. So the old
conclusion, "a nightly import is cheaper as files", came from committing row by row. **One
transaction for the whole burst beats both designs**: one commit, so one wait for the disk,
the least CPU, and live at once (in the table above, for 500 mailboxes, an order of magnitude
less time until the last one is live than either of the others, and a tenth of their CPU or
less). A
sign-up page adds one row per transaction; a nightly import adds all its rows in one.
"""),
("md", """
## Exercise: a new mailbox, by hand

The seed adds a mailbox the way the Postfix documentation does: a line in `vmbox`, then
`postmap`. Do the same for `student@exampledomain.ca` on the lab's Postfix (the next cell
prints the lab's `vmbox` and where it lives):

1. append the address's line to the lab's `vmbox`: the address, then its mailbox path under
   `virtual_mailbox_base`, e.g. `exampledomain.ca/student/`. **You choose the format**, as
   the seed's comments say: a path ending in `/` is a Maildir (a directory, one file per
   message), a path without it an mbox (one file, messages one after the other);
2. run `postmap` on it *inside the EC2 node*, `ec2.run([...], check=True)`: Postfix never
   reads `vmbox` itself, only the `vmbox.db` that postmap builds from it;
3. run `postfix reload` there too, so Postfix's daemons reopen their tables now.

Both commands take `-c` and the lab's config directory, `conf`. Write your steps in the next
cell but one (the teacher's edition shows a solution there); the cell after it sends a
message from pc1, looks for it in the mailbox your line names, and is graded.
"""),
("code", """
ec2 = lab.node("ec2")
conf = postfix.conf_dir
print("conf:", conf.relative_to(postfix.run_dir))
print((conf / "vmbox").read_text())
"""),
("solution:vmbox", """
### BEGIN SOLUTION
with open(conf / "vmbox", "a") as f:
    f.write("student@exampledomain.ca   exampledomain.ca/student/\\n")    # a trailing /: Maildir
ec2.run(["postmap", "-c", str(conf), f"hash:{conf}/vmbox"], check=True)
_ = ec2.run(["postfix", "-c", str(conf), "reload"], check=True)
### END SOLUTION
"""),
("check:vmbox-check:2", """
addr = "student@exampledomain.ca"
path = labmail.vmbox_path(lab, addr)
assert path, f"vmbox has no line for {addr} (want '{addr}  exampledomain.ca/student/', or without the /)"
want = "maildir" if path.endswith("/") else "mbox"
r = lab.node("pc1").call("labkit.probes.mail:send", addr, subject="exercise", helo="pc1")
print(steps_table(r))
rcpt = next((f"{code} {text}" for cmd, code, text in r["steps"] if cmd == "RCPT TO"), "no RCPT TO")
assert r["accepted"], f"{addr} from pc1: RCPT TO {rcpt} (want 250, then delivery)"
fmt, msgs = labmail.wait_delivered(lab, addr, "exercise")
assert fmt == want, f"{addr}: delivered as {fmt or 'nothing'} at {path} (want {want}, as your vmbox line says)"
print(f"{addr}: delivered to a {fmt} at {path}")
### BEGIN HIDDEN TESTS
# the table Postfix reads is the one postmap built, no address was caught by accident, the seed's
# mailboxes still work
q = ec2.run(["postmap", "-c", str(conf), "-q", addr, f"hash:{conf}/vmbox"])
assert q.returncode == 0 and q.stdout.strip() == path, f"postmap -q {addr} in vmbox.db: {q.stdout.strip() or 'not found'} (want {path or 'the path of its vmbox line'})"
for other, code in (("nobody@exampledomain.ca", 550), ("admin@exampledomain.ca", 250), ("test@exampledomain.ca", 250)):
    got, text = lab.node("isp").call("labkit.probes.mail:rcpt_code", other, "1.2.3.4")
    assert got == code, f"RCPT TO {other} from the internet: {got} {text} (want {code})"
### END HIDDEN TESTS
"""),
("md", """
## Tear down
"""),
("code", """
lab.down()
"""),
]
