CELLS = [
("md", """
# 03 — Mail for exampledomain.ca

The first blog post runs **Postfix** on the EC2 host (1.2.3.4) with *virtual mailboxes*: no
Unix accounts, three small maps (`vdomains`, `vmbox`, `valias`, see `topologies/ec2/`) and
`postmap` to compile them. `admin@` gets a Maildir, `test@` an mbox file, `user1@` is
forwarded to Gmail. This notebook sends real mail across the lab and reads what lands.

**Goals**
1. send mail from a LAN PC: MX through the router's DNS forwarder, SMTP through its NAT;
2. check each of the seed's flows, and read the delivered Maildir and mbox files;
3. solve the seed's puzzle: why must the domain *not* be in `virtual_alias_domains`?
4. measure the seed's "Automation" idea: files + `postmap` against a database;
5. exercise: write a mailbox's `vmbox` line yourself, choose its format, postmap, and prove
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
## One message from pc1

`labkit.probes.mail.send` runs *inside* pc1 (`node.call`). It asks the router's forwarder
(192.168.254.1) for the MX of the recipient's domain with scapy, then the exchanger's
address, and then talks SMTP to it with Python's `smtplib`. The connection leaves VLAN1,
crosses the 3550 and the router's NAT, and reaches 1.2.3.4 port 25, which the security
group leaves open. The queue ID in the `DATA` reply changes on every run, so the probe
replaces it.
"""),
("code", """
r = lab.node("pc1").call("labkit.probes.mail:send", "admin@exampledomain.ca",
                         subject="hello admin", helo="pc1")
print(steps_table(r))
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
- the relay attempt gets `454 4.7.1 Relay access denied`. Postfix 3's
  `smtpd_relay_restrictions` ends with `defer_unauth_destination`, a temporary refusal,
  so a misconfiguration does not bounce mail for good. Only the host itself is in
  `mynetworks`: the seed sets no `mynetworks`, and with `compatibility_level` 3.6 the
  default `mynetworks_style` is `host`.
"""),
("code", """
flows = labmail.run_flows(lab)
print(labmail.flow_table(flows))
assert all(f.ok for f in flows)
"""),
("md", """
## What landed on disk

The seed's `/var/vhosts` is `vhosts/` in the service's run directory. The Received
headers show who Postfix saw: `100.64.0.2`, the router's Dialer1 address, not pc1's
192.168.1.x. That is the NAT at work. The copy for `user1@` sits in the gmail sink's
Maildir: Postfix looked up gmail.com's MX in the lab DNS and relayed it there.
"""),
("code", """
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
"""),
("code", """
seed, both = puzzle.run(both=False), puzzle.run(both=True)
print("seed (virtual_mailbox_domains only):")
print(seed.table())
print("\\nalso in virtual_alias_domains:")
print(both.table())
print("\\nPostfix log:", *both.warnings)
"""),
("md", """
**Why.** Postfix's trivial-rewrite gives every recipient domain exactly *one* address
class, and tries them in a fixed order: local (`mydestination`), then virtual alias
(`virtual_alias_domains`), then virtual mailbox (`virtual_mailbox_domains`), then relay.
A domain listed in both is therefore a virtual *alias* domain. That class has no mailboxes:
every address in it must be rewritten by `virtual_alias_maps`, or it is unknown. Only
`user1@` survives. The seed works without `virtual_alias_domains` because `cleanup`
applies `virtual_alias_maps` to every recipient, whatever the domain's class.
"""),
("md", """
## Automation: files + postmap, or a database?

The seed wants a web page where users create mailboxes, and notes that Postfix can read
its maps from a database. `labkit.mail.admin` implements both designs:

- **files**: an append under a lock, then a scheduler runs `postmap` once the writes have
  been quiet for 300 ms, so a whole burst costs one rebuild;
- **sqlite**: an `INSERT` that Postfix sees on its next lookup.

The experiment adds bursts of 1, 10, 100 and 500 mailboxes to a loopback Postfix of each
kind. For each burst it measures the time until the last new mailbox accepts mail, and the
CPU the automation spent. The timings vary from run to run, so the checked cell prints
only the facts; the plot and the table come after it.
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
`INSERT`. Each `INSERT` is a transaction with an fsync, though, so at 500 additions SQLite
spends *more* CPU than one batched rebuild of a hash file. A sign-up page wants SQLite; a
nightly import of 10,000 accounts is cheaper as files.
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
