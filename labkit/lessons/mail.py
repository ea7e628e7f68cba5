"""Notebook 03's helpers: the seed's mail flows in a running lab, and the tables and plots
its cells print.

`labkit.mail.flows.check_seed_flows` does the same against a loopback Postfix; this
module drives the lab's own Postfix on the EC2 node: messages leave a LAN host (through
the router's NAT) or an internet host, and deliveries are read from the run directories
of the `postfix` service (virtual mailboxes) and the gmail `smtpsink` service (forwarded
mail) with the stdlib `mailbox` module. Everything printed is plain and deterministic (no
queue IDs, dates or message-ids), except the burst timings (marked nbval-ignore there).
"""
from __future__ import annotations

import mailbox
import re
from pathlib import Path

from labkit.mail.flows import Flow, flow_table, read_delivered, read_maildir, refusal
from labkit.mail.maps import read_map
from labkit.procs import WaitTimeout, wait_until

__all__ = ["LabFlow", "SEED_LAB_FLOWS", "run_flows", "flow_table", "delivered", "vmbox_path", "hops", "describe",
           "mailbox_listing", "ensure_flows", "wait_live", "wait_delivered", "send_captured", "show_packet", "use_compat", "swaks", "rcpt_reply", "compat_log",
           "steps_table", "burst_facts", "burst_table", "plot_bursts"]

MAIL_HOST = "1.2.3.4"
DOMAIN = "exampledomain.ca"


class LabFlow(Flow):
    """A seed flow sent from a lab node (``Flow``'s fields, the sender first)."""

    def __init__(self, rcpt: str, sender_node: str, expect: str, code: int = 0, outcome: str = ""):
        super().__init__(rcpt, expect, code, outcome)
        self.sender_node = sender_node


SEED_LAB_FLOWS = (
    LabFlow("admin@exampledomain.ca", "pc1", "maildir"),
    LabFlow("test@exampledomain.ca", "pc1", "mbox"),
    LabFlow("user1@exampledomain.ca", "pc1", "forward"),
    LabFlow("nobody@exampledomain.ca", "pc1", "550"),
    LabFlow("victim@yahoo.com", "isp", "relay-denied"),
)


def mailbox_base(lab) -> Path:
    """virtual_mailbox_base of the lab's Postfix (the seed's /var/vhosts, moved to the run dir)."""
    return lab.service("ec2", "postfix").cfg.mailbox_base


def sink_store(lab, node: str = "gmail") -> Path:
    return lab.service(node, "smtpsink").store


def vmbox_path(lab, rcpt: str) -> str | None:
    """The mailbox path `vmbox` gives an address in the lab's Postfix (relative to
    virtual_mailbox_base; a trailing / is a Maildir), or None when it has no line for it."""
    conf = lab.service("ec2", "postfix").conf_dir
    return next((e.value for e in read_map(conf / "vmbox") if e.key.lower() == rcpt.lower()), None)


def delivered(lab, rcpt: str) -> tuple[str, list[mailbox.Message]]:
    """(format, messages) for a local address (at its vmbox path, else DOMAIN/LOCAL), or
    ("forward", ...) for a gmail/yahoo copy."""
    local, domain = rcpt.split("@")
    if domain in ("gmail.com", "yahoo.com"):
        return "forward", read_maildir(sink_store(lab, domain.split(".")[0]) / rcpt)
    return read_delivered(mailbox_base(lab) / (vmbox_path(lab, rcpt) or f"{domain}/{local}"))


def _forward_target(lab, rcpt: str) -> str | None:
    from labkit.mail import admin
    conf = lab.service("ec2", "postfix").conf_dir
    for key, target in admin.listing(conf)["valias"]:
        if key == rcpt:
            return target
    return None


def _where(lab, rcpt: str, subject: str) -> str:
    target = _forward_target(lab, rcpt)
    fmt, msgs = delivered(lab, target or rcpt)
    return fmt if any(m["Subject"] == subject for m in msgs) else ""


def run_flows(lab, flows: tuple[LabFlow, ...] = SEED_LAB_FLOWS, tag: str = "flow",
              timeout: float = 30) -> list[LabFlow]:
    """Send one message per flow from its node (MX through the node's DNS server for LAN
    hosts, straight to 1.2.3.4 for internet hosts), then wait for each accepted one."""
    results = []
    for f in flows:
        r = LabFlow(f.rcpt, f.sender_node, f.expect)
        subject = f"{tag} {f.rcpt}"
        node = lab.node(f.sender_node)
        dns = "192.168.254.1" if f.sender_node in ("pc1", "pc2") else None
        out = node.call("labkit.probes.mail:send", f.rcpt, subject=subject, dns=dns,
                        host=None if dns else MAIL_HOST, helo=f.sender_node)
        rcpt_step = [s for s in out["steps"] if s[0] == "RCPT TO"]
        r.code = rcpt_step[0][1] if rcpt_step else 0
        text = rcpt_step[0][2] if rcpt_step else ""
        if not out["accepted"]:
            r.outcome = refusal(r.code, text)
        else:
            try:
                r.outcome = wait_until(lambda: _where(lab, f.rcpt, subject), timeout,
                                       what=f"delivery to {f.rcpt}")
            except WaitTimeout:
                r.outcome = "not delivered"
        results.append(r)
    return results


def ensure_flows(lab, tag: str = "flow") -> bool:
    """The seed's flows' messages in their mailboxes, for a section that reads them: sent
    (labkit's default relay rules first, then run_flows) unless every one is there already.
    True if it sent them."""
    kept = [f for f in SEED_LAB_FLOWS if f.expect in ("maildir", "mbox", "forward")]
    if all(_where(lab, f.rcpt, f"{tag} {f.rcpt}") for f in kept):
        return False
    use_compat(lab, "3.6")
    run_flows(lab, kept, tag=tag)
    return True


_RECEIVED_FROM = re.compile(r"from (\S+) \(([^)]*)\)")


def hops(msg: mailbox.Message) -> list[str]:
    """The client each MTA saw, oldest hop first ("pc1 (unknown [100.64.0.2])"): the
    Received headers without their queue IDs and dates."""
    out = []
    for rec in reversed(msg.get_all("Received") or []):
        m = _RECEIVED_FROM.search(" ".join(rec.split()))
        if m:
            out.append(f"{m.group(1)} ({m.group(2)})")
    return out


def describe(msg: mailbox.Message) -> str:
    """Subject, To, and the hops it took, for a notebook line."""
    via = " -> ".join(hops(msg))
    return f"Subject: {msg['Subject']} | To: {msg['To']}" + (f" | received from {via}" if via else "")


def mailbox_listing(lab, rcpts: tuple[str, ...]) -> str:
    """Where each address's mail sits on disk and what it holds, paths relative to the
    lab's run dir (stable between runs)."""
    out = []
    run = Path(lab.service("ec2", "postfix").run_dir).parents[1]
    for rcpt in rcpts:
        target = _forward_target(lab, rcpt) or rcpt
        fmt, msgs = delivered(lab, target)
        local, domain = target.split("@")
        path = (sink_store(lab, domain.split(".")[0]) / target if fmt == "forward"
                else mailbox_base(lab) / domain / local)
        try:
            path = path.relative_to(run)
        except ValueError:  # not under the run dir: show it whole
            pass
        out.append(f"{rcpt} -> {path} [{fmt or 'nothing'}], {len(msgs)} message(s)")
        out += sorted(f"    {describe(m)}" for m in msgs)
    return "\n".join(out)


def wait_live(lab, rcpt: str, node: str = "isp", timeout: float = 30) -> int:
    """Poll RCPT TO from a lab node until the address is accepted (a new mailbox in the
    files backend goes live after the postmap scheduler's next run)."""
    def ok():
        code, _ = lab.node(node).call("labkit.probes.mail:rcpt_code", rcpt, MAIL_HOST)
        return code if code == 250 else 0
    return wait_until(ok, timeout, poll=0.2, what=f"{rcpt} accepted")


def wait_delivered(lab, rcpt: str, subject: str, timeout: float = 30) -> tuple[str, list]:
    """Wait until a message with ``subject`` sits in ``rcpt``'s mailbox; (format, messages)."""
    def found():
        fmt, msgs = delivered(lab, _forward_target(lab, rcpt) or rcpt)
        return (fmt, msgs) if any(m["Subject"] == subject for m in msgs) else None
    return wait_until(found, timeout, what=f"{subject!r} delivered to {rcpt}")


# ---- the work on the wire ---------------------------------------------------------------

def send_captured(lab, rcpt: str, subject: str, node: str = "pc1") -> tuple[dict, list]:
    """`labkit.probes.mail:send` from ``node`` (MX through the router's forwarder, then SMTP)
    while tcpdump listens on the node's eth0 for DNS: (the probe's result, the DNS packets
    it sent and received, as scapy packets)."""
    with lab.node(node).capturing("eth0", bpf="udp port 53") as cap:
        result = lab.node(node).call("labkit.probes.mail:send", rcpt, subject=subject, helo=node)
    return result, list(cap.packets)


# Fields of the probe's DNS query that change from run to run: scapy's RandShort() source
# port (labkit.dns.probes.query), and the UDP checksum, which covers that port.
VARYING = (("UDP", "sport"), ("UDP", "chksum"))
_LAYER = re.compile(r"\s*###\[ (.+) \]###")
_FIELD = re.compile(r"(\s*)(\w+)(\s*)= ")


def show_packet(pkt, varying: tuple[tuple[str, str], ...] = VARYING) -> str:
    """scapy's layer-by-layer `show()` of a packet, with each (layer, field) of ``varying``
    written as "(random)" instead of this run's value, so a checked cell prints the same."""
    out, layer = [], ""
    for line in pkt.show(dump=True).splitlines():
        m = _LAYER.match(line)
        layer = m.group(1) if m else layer
        f = _FIELD.match(line)
        if f and (layer, f.group(2)) in varying:
            line = f"{f.group(0)}(random)"
        out.append(line)
    return "\n".join(out)


# ---- the author's Postfix 2.6 against labkit's compatibility_level ----------------------

def use_compat(lab, compat: str) -> bool:
    """Run the lab's Postfix with the postfix service's `compat:` parameter set to ``compat``
    ("2.6": the relay rules of the author's Postfix 2.6, labkit.mail.mainconf.POSTFIX_26;
    "3.6": labkit's default), the way the topology's `compat: "2.6"` would: the service is
    rendered again and restarted (Lab.restart), only if its main.cf changes. Returns True
    if it restarted. Rendering copies the seed's maps again, so a mailbox added to them since
    bring-up is gone from the maps (mail already delivered stays on disk)."""
    from labkit.mail.mainconf import COMPAT
    if compat not in COMPAT:
        raise ValueError(f"compat {compat!r}: the postfix service knows {', '.join(sorted(COMPAT))}")
    svc = lab.service("ec2", "postfix")
    svc.params["compat"] = compat
    if (svc.conf_dir / "main.cf").read_text() == svc.cfg.main_cf_text():
        return False
    lab.restart("ec2", "postfix")
    return True


def swaks(lab, node: str, source: str, rcpt: str, quit_after: str | None = "RCPT",
          subject: str | None = None, server: str = MAIL_HOST) -> tuple[int, str]:
    """swaks (a real SMTP client) inside ``node``, bound to ``source``, sends to ``rcpt``
    through ``server``: (exit status, its transcript: `->` what it sent, `<-` the replies,
    `<**` a refusal). ``quit_after="RCPT"`` stops after RCPT TO (no DATA, nothing that
    varies from run to run); None sends the message with ``subject``."""
    argv = ["swaks", "--server", server, "--local-interface", source, "--helo", f"{node}.lab",
            "--from", f"probe@{node}.lab", "--to", rcpt, "--timeout", "20"]
    if quit_after:
        argv += ["--quit-after", quit_after]
    if subject:
        argv += ["--header", f"Subject: {subject}"]
    p = lab.node(node).run(argv, timeout=60)
    return p.returncode, p.stdout + p.stderr


def rcpt_reply(transcript: str) -> str:
    """The server's reply to RCPT TO in a swaks transcript ("554 5.7.1 <...>: Relay access denied")."""
    lines = transcript.splitlines()
    i = next((i for i, ln in enumerate(lines) if "RCPT TO:" in ln), None)
    if i is None:
        raise ValueError(f"no RCPT TO in the transcript:\n{transcript}")
    return next(ln for ln in lines[i + 1:] if ln.lstrip().startswith("<")).split(" ", 1)[1].strip()


_COMPAT_NOTE = re.compile(r"postfix/smtpd\[\d+\]: (using backwards-compatible default setting .*)")


def compat_log(lab) -> list[str]:
    """Postfix's own notes, from the lab's maillog, each time a 2.x default decided a request
    (Postfix 3's safety net at compatibility_level below 2), without dates and PIDs."""
    log = lab.service("ec2", "postfix").cfg.log_text()
    return sorted({m.group(1) for m in _COMPAT_NOTE.finditer(log)})


# ---- what the cells print -----------------------------------------------------------

def steps_table(result: dict) -> str:
    """The SMTP dialogue of a `send` result as a few deterministic lines."""
    lines = []
    if result.get("mx"):
        m = result["mx"]
        best = f"{m['mx'][0][0]} {m['exchanger']}" if m["mx"] else "-"
        lines.append(f"MX {m['domain']} via {m['dns']}: {best} -> {m['address']}")
    for cmd, code, text in result["steps"]:
        lines.append(f"  {cmd:<10} {code:>3} {text}".rstrip())
    return "\n".join(lines)


# how each design of the experiment writes (labkit.mail.experiment.DESIGNS)
DESIGN_WRITES = {"files": "one locked append + fsync per mailbox, postmap batched by the scheduler",
                 "sqlite": "one transaction (one commit) per mailbox",
                 "sqlite-batch": "one transaction for the whole burst"}


def burst_facts(rows: list[dict]) -> str:
    """What the experiment shows, without its timings (which vary run to run): how each
    design writes, that every burst went live, and how many postmap runs each design needed.
    Deterministic enough for a checked notebook cell: the files design batches a burst into
    at most a couple of postmap runs (one in a quiet machine), SQLite never runs postmap."""
    out = []
    for design in [d for d in DESIGN_WRITES if any(r["design"] == d for r in rows)]:
        mine = sorted((r for r in rows if r["design"] == design), key=lambda r: r["burst"])
        sizes = ", ".join(str(r["burst"]) for r in mine)
        total = sum(r["burst"] for r in mine)
        runs = sum(r["postmap_runs"] for r in mine)
        batched = all(r["postmap_runs"] <= 2 for r in mine)
        out.append(f"{design}: {DESIGN_WRITES[design]}")
        out.append(f"  bursts of {sizes}: {total} mailboxes added, every burst's last mailbox accepted mail: yes")
        if design == "files":
            out.append(f"  postmap runs: {'at most 2 per burst, not one per mailbox' if batched else runs}")
        else:
            out.append(f"  postmap runs: {'none' if runs == 0 else runs} (live at the commit)")
    return "\n".join(out)


PANELS = (("live_ms", "time until the new mailbox accepts mail", "ms"),
          ("cpu_ms", "CPU spent by the automation", "CPU ms"),
          ("wait_ms", "writer waiting, not on a CPU (fsync: I/O wait)", "ms"))


def plot_bursts(rows: list[dict]):
    """Three panels against burst size (log-log), one line per design: time until the
    burst's last mailbox is live, CPU spent, and the writer's wall time not spent on a CPU
    (write_ms - write_cpu_ms: mostly fsync). Returns the matplotlib Figure."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(PANELS), figsize=(15, 4))
    for design in [d for d in DESIGN_WRITES if any(r["design"] == d for r in rows)]:
        mine = sorted((r for r in rows if r["design"] == design), key=lambda r: r["burst"])
        for ax, (key, _, _) in zip(axes, PANELS):
            ys = [_wait_ms(r) if key == "wait_ms" else r[key] for r in mine]
            ax.plot([r["burst"] for r in mine], [max(y, 0.01) for y in ys], marker="o", label=design)
    for ax, (_, title, unit) in zip(axes, PANELS):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("mailboxes added in one burst")
        ax.set_ylabel(unit)
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return fig


def _wait_ms(r: dict) -> float:
    return max(r["write_ms"] - r["write_cpu_ms"], 0.0)


def burst_table(rows: list[dict]) -> str:
    """The same data as a text table (values vary run to run: mark the cell nbval-ignore)."""
    out = [f"{'design':<12} {'burst':>5} {'write ms':>9} {'of it CPU':>9} {'waiting':>8} {'live ms':>9} "
           f"{'cpu ms':>8} {'postmaps':>8}"]
    for r in rows:
        out.append(f"{r['design']:<12} {r['burst']:>5} {r['write_ms']:>9.1f} {r['write_cpu_ms']:>9.1f} "
                   f"{_wait_ms(r):>8.1f} {r['live_ms']:>9.1f} {r['cpu_ms']:>8.1f} {r['postmap_runs']:>8}")
    stalled = [f"{r['design']} {r['burst']}: {r['stalls']}" for r in rows if r.get("stalls")]
    if stalled:
        out.append("probes Postfix left unanswered for 5 s (retried, the wait is in live ms): " + ", ".join(stalled))
    return "\n".join(out)
