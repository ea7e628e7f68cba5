"""The `labkit` command: up, status, exec, check, down, clean, lint, draw, and plug-ins' own.

Exit status: 0 on success, 1 when checks fail or lint finds errors, 2 on usage
or lab-state errors. Errors print one line that names the file and line.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

from .lab import loader
from .lab.errors import LabkitError, LabStateError, TopologyError
from .lab.plugins import registry
from .lab.runtime import Lab, clean, stderr_progress
from .lab.state import INSTANCE_PREFIX_ENV, LabState


def _instance(args: argparse.Namespace) -> str:
    """The lab a command acts on: --lab, else the one lab that is up.

    Decision: with several labs up and no --lab, the command refuses and lists them,
    rather than guess (a guess could stop a lab a notebook or a colleague is using).
    """
    if args.lab:
        return args.lab
    up = LabState.instances()
    if len(up) == 1:
        return up[0]
    if not up:
        raise LabStateError("no lab is up; start one with 'labkit up [TOPOLOGY]'")
    raise LabStateError(f"{len(up)} labs are up ({', '.join(up)}); say which with --lab NAME")


def _named(instance: str) -> str:
    """A lab's name as its user types it: under an instance prefix (a student's, through the
    broker), without the prefix."""
    prefix = os.environ.get(INSTANCE_PREFIX_ENV, "")
    return instance[len(prefix):] if prefix and instance.startswith(prefix) else instance


def _instance_of(instance: str, lead: str = " ") -> str:
    return "" if _named(instance) == instance else f"{lead}instance {instance}"


def cmd_up(args: argparse.Namespace) -> int:
    lab = Lab.up(args.topology, name=args.lab, services=not args.no_services, keep=True,
                 replace=args.replace, progress=stderr_progress, owner=args.owner)
    t, name = lab.timings, _named(lab.instance)
    print(f"lab '{name}' is up{_instance_of(lab.instance)}: {len(lab.topo.nodes)} nodes, "
          f"{len(lab.topo.links)} links, {len(lab.services)} services ({t.get('up_s', 0):.2f} s). "
          f"Next: labkit status | labkit exec --lab {name} NODE -- CMD | "
          f"labkit check --lab {name} | labkit down --lab {name}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from .lab.capture import running

    def status(inst: str) -> dict:   # the lab's, and its captures still running (labkit capture)
        lab = Lab.attach(inst)
        return {**lab.status(), "captures": running(lab.state.procs)}

    instances = [args.lab] if args.lab else LabState.instances()
    if args.json:   # one JSON document: a list with one entry per lab
        print(json.dumps([status(inst) for inst in instances], indent=1))
        return 0
    if not instances:
        print("no lab is up")
        return 0
    for inst in instances:
        st = status(inst)
        print(f"lab {_named(st['instance'])} ({st['status']}{_instance_of(st['instance'], ', ')}) "
              f"from {st['topology']}")
        for n in st["nodes"]:
            addrs = n["addresses"] + ([f"dhcp:{n['leased'] or 'no lease yet'}"] if "dhcp" in n else [])
            switching = {"ovs": "ovs", "bridge": "bridges"}.get(n["switching"], "-")
            print(f"  {n['name']:<10} {n['role']:<9} {switching:<8} {n['netns']:<22} {' '.join(addrs)}")
        for p in st["processes"]:
            print(f"  pid {p['pid']:<8} {'running' if p['alive'] else 'DEAD':<8} {p['what']}")
        for f in st.get("faults", []):   # labkit link: down / loss / rate per link
            from .lab.faults import describe_line
            print(f"  link {describe_line(f)}")
        for c in st["captures"]:   # a capture left running (its labkit capture was killed): down ends it
            print(f"  pid {c['pid']:<8} running  capture {c['node']}:{c['iface']} (tcpdump)")
    return 0


def cmd_link(args: argparse.Namespace) -> int:
    """Link faults (labkit.lab.faults): down, up, clear, or --loss/--rate on A -> B (--both: and
    B -> A); with neither, the link's faults. Every value is checked before anything changes."""
    from .lab.faults import FaultError, describe_line, parse_loss, parse_rate, refuse_netem

    refuse_netem(delay=args.delay, jitter=args.jitter)
    if args.loss is not None:
        parse_loss(args.loss)       # the values first: a typo fails before the lab is looked up
    if args.rate is not None:
        parse_rate(args.rate)
    impair = args.loss is not None or args.rate is not None
    if args.action and impair:
        raise FaultError(f"'{args.action}' takes no --loss/--rate; give one or the other")
    if args.both and not impair:
        raise FaultError("--both goes with --loss/--rate")
    if os.geteuid() != 0 and (args.action or impair):
        raise LabStateError("this command needs root (network namespaces); run it with sudo")
    lab = Lab.attach(_instance(args))
    a, b = (_link_end(lab, word) for word in (args.a, args.b))
    link = lab.link(a, b)
    if impair:
        fault = link.impair(loss=args.loss, rate=args.rate, both=args.both)
    elif args.action:
        fault = getattr(link, args.action)()
    else:
        fault = link.status()
    line = describe_line(fault)
    print(line if fault["down"] or fault["loss"] or fault["rate"] else f"{fault['link']}  no faults")
    return 0


def _link_end(lab: Lab, word: str) -> str:
    """NODE or NODE:IFACE of `labkit link`, with IFACE named as `labkit capture` takes it (an
    IOS name such as Fa0/1 becomes the node's Linux name): the same resolver for both."""
    node, sep, iface = word.partition(":")
    if not sep or node not in lab.topo.nodes:
        return word                     # faults.resolve_link names what is wrong
    return f"{node}:{_iface_name(lab.node(node), iface)}"


def cmd_exec(args: argparse.Namespace) -> int:
    node = Lab.attach(_instance(args)).node(args.node)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        command = ["bash"]
    os.execvp("ip", node.argv(command))
    return 0  # not reached


def cmd_check(args: argparse.Namespace) -> int:
    lab = Lab.attach(_instance(args))
    report = lab.check(progress=stderr_progress if args.verbose else lambda _: None)
    print(report.table())
    return 0 if report.ok else 1


def cmd_class(args: argparse.Namespace) -> int:
    from pathlib import Path

    from . import classroom

    if args.action == "up":
        if args.students is None and args.config is None:
            print("labkit class up: say who: --students N, or --config FILE of user names", file=sys.stderr)
            return 2
        seats = (classroom.practice_seats(args.students) if args.students is not None
                 else classroom.roster_from(Path(args.config)))
        failed = classroom.up(seats, args.topology, progress=lambda m: print(m, file=sys.stderr, flush=True))
        for f in failed:
            print(f"labkit class up: {f}", file=sys.stderr)
        return 1 if failed else 0
    if args.action == "status":
        rows = classroom.status()
        if args.json:
            print(json.dumps(rows, indent=1))
            return 0
        if not rows:
            print("no class is up")
            return 0
        print(f"{'STUDENT':<12} {'LAB':<14} {'STATUS':<9} {'DAEMONS':<8} HEALTH")
        for r in rows:
            health = {True: "ok", False: "NOT HEALTHY", None: "-"}[r["healthy"]]
            print(f"{r['student']:<12} {r['lab']:<14} {r['status']:<9} {r['processes']:<8} {health}")
        return 0 if all(r["healthy"] is not False for r in rows) else 1
    if not classroom.recorded()[0]:
        print("no class is up")
        return 0
    left = classroom.down(progress=lambda m: print(m, file=sys.stderr, flush=True))
    for item in left:
        print(f"labkit class down: left: {item}", file=sys.stderr)
    return 1 if left else 0


def cmd_broker(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .broker.quota import Quota
    from .broker.server import SOCKET, Broker, serve

    if os.geteuid() != 0:
        print("labkit: the broker runs as root (it makes the namespaces); start it with sudo", file=sys.stderr)
        return 2
    try:
        quota = Quota(labs=args.labs, nodes=args.nodes, procs=args.procs)   # a bad limit is refused before listening
    except ValueError as exc:
        print(f"labkit broker: {exc}", file=sys.stderr)
        return 2
    path = Path(args.socket) if args.socket else SOCKET
    print(f"labkit broker: listening on {path}; per user at most {quota.labs} labs, {quota.nodes} nodes, "
          f"{quota.procs} processes",
          file=sys.stderr, flush=True)
    import signal       # stop on SIGINT or SIGTERM, even when started where SIGINT is ignored (a hub's service)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        serve(path, Broker(quota, cgroups=not args.no_cgroups))
    except KeyboardInterrupt:
        print("labkit broker: stopped; the labs stay up (labkit clean removes those whose owner is gone)",
              file=sys.stderr)
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    inst = _instance(args)
    leftovers = Lab.attach(inst).down()
    if leftovers:
        print(f"lab '{inst}' is down, but: {'; '.join(leftovers)}", file=sys.stderr)
        return 1
    print(f"lab '{inst}' is down")
    return 0


def cmd_clean(args: argparse.Namespace) -> int:
    removed, kept = clean(force=args.force, instance=args.lab)
    if removed:
        print("removed: " + ", ".join(removed))
    elif args.lab and LabState.load(args.lab) is None and not kept:
        print(f"no lab '{args.lab}' is recorded; nothing to remove")
    else:
        print("nothing of labkit's was left to remove")
    if kept:
        print("kept (not removed; --force removes them too): " + ", ".join(kept))
    return 0


def cmd_lint(args: argparse.Namespace) -> int:
    from .lab.lint import lint_topology

    topo = loader.load(args.topology)
    findings = lint_topology(topo)
    for f in findings:
        print(f)
    print(f"{topo.path.name}: topology valid; {len(findings)} finding(s)")
    return 1 if findings and args.strict else 0


def cmd_course(args: argparse.Namespace) -> int:
    from labkit import course

    made = course.build(Path(args.out), Path(args.src) if args.src else None,
                        progress=lambda m: print(m, file=sys.stderr))
    for edition, files in made.items():
        print(f"{edition}: {len(files)} notebooks in {Path(args.out) / edition}")
    return 0


def cmd_grade(args: argparse.Namespace) -> int:
    """Grade submissions one by one: notebooks (labkit.grade), or with --configs folders of
    configs against a rubric (labkit.rubric); exit 1 if a lab was left behind or a submission
    could not be graded at all (unreadable, or of no notebook of the course)."""
    from labkit import grade, rubric

    if bool(args.configs) == bool(args.submissions):
        raise LabkitError("give students' notebooks, or --configs DIR... --rubric RUBRIC for config "
                          "assignments (not both)")
    if args.configs and not args.rubric:
        raise LabkitError("--configs needs --rubric RUBRIC (a name in data/rubrics/ or a YAML file)")
    if not args.configs and (args.rubric or args.lab):
        raise LabkitError("--rubric and --lab go with --configs DIR...")
    if os.geteuid() != 0:
        print("labkit: this command needs root (network namespaces); run it with sudo", file=sys.stderr)
        return 2
    def progress(message: str) -> None:
        print(message, file=sys.stderr)

    if args.configs:
        reports = rubric.grade_configs([Path(d) for d in args.configs], args.rubric, args.lab,
                                       Path(args.output), progress=progress)
    else:
        reports = grade.grade([Path(s) for s in args.submissions], Path(args.output),
                              Path(args.source) if args.source else None, timeout=args.timeout,
                              cell_timeout=args.cell_timeout, progress=progress)
    for r in reports:
        print(f"{r['name']}: {r['score']}/{r['max_score']}" + (f" ({r['reason']})" if r["reason"] else ""))
    ungraded = [r["name"] for r in reports if r.get("graded") is False]
    if ungraded:
        print(f"could not grade {len(ungraded)} submission(s): {', '.join(ungraded)}", file=sys.stderr)
    print(f"reports in {args.output} (index.html, summary.csv)")
    return 1 if ungraded or any(r["leftovers"] for r in reports) else 0


def cmd_draw(args: argparse.Namespace) -> int:
    import matplotlib
    matplotlib.use("Agg")
    from .viz.topology import draw

    fig = draw(loader.load(args.topology)).figure
    fig.savefig(args.output, dpi=110, bbox_inches="tight")
    print(f"wrote {args.output}")
    return 0


def _capture_target(text: str) -> tuple[str, str | None]:
    """NODE or NODE:IFACE (an argparse type): a node name as in topologies, and an interface:
    a Linux name, `any`, or on an IOS-managed node an IOS name such as Fa0/1."""
    import re

    node, sep, iface = text.partition(":")
    if not loader.NAME_RE.fullmatch(node):
        raise argparse.ArgumentTypeError(f"{text!r}: NODE must be a node name (a-z, 0-9, '-', up to 12 "
                                         "characters), written NODE or NODE:IFACE")
    if sep and not re.fullmatch(r"[A-Za-z][A-Za-z0-9_./-]{0,39}", iface):
        raise argparse.ArgumentTypeError(f"{text!r}: IFACE must be an interface name such as eth0, any "
                                         "or Fa0/1 (labkit capture --list shows them)")
    return node, (iface if sep else None)


def _capture_seconds(text: str) -> float:
    """--duration: seconds, e.g. 5, 0.5 or 10s; more than 0 and at most a day."""
    import math
    import re

    if not re.fullmatch(r"[-+]?(\d+(\.\d*)?|\.\d+)s?", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds (e.g. 5, 0.5 or 10s)")
    value = float(text.rstrip("s"))
    if not (math.isfinite(value) and 0 < value <= 86400):
        raise argparse.ArgumentTypeError(f"{text!r}: a duration must be more than 0 and at most 86400 "
                                         "seconds")
    return value


def _capture_count(text: str) -> int:
    """--count: a whole number of packets, 1 to 2147483647 (tcpdump's -c)."""
    import re

    if not re.fullmatch(r"\d{1,10}", text) or not 1 <= int(text) <= 2**31 - 1:
        raise argparse.ArgumentTypeError(f"{text!r}: a count is a whole number of packets from 1 to 2147483647")
    return int(text)


def _capture_filter(text: str) -> str:
    """--filter: one tcpdump (BPF) expression; tcpdump itself judges it when the capture starts."""
    if not text.strip() or any(ord(c) < 32 and c not in "\t" for c in text):
        raise argparse.ArgumentTypeError(f"{text!r}: a filter is a tcpdump expression on one line, "
                                         "e.g. 'icmp or arp'")
    return text


def _iface_name(node, iface: str | None) -> str:
    """An interface as `labkit capture` and `labkit link` take it: `any` by default; an IOS
    name (Fa0/1) on an IOS-managed node becomes its Linux name (fa0-1)."""
    if iface is None:
        return "any"
    if iface == "any" or node.spec.managed_by != "ios":
        return iface
    from .ios.names import linux_name
    from .lab.capture import interfaces

    live = {i["name"] for i in interfaces(node)}
    if iface in live:
        return iface
    try:
        linux = linux_name(iface)
    except Exception:   # not an IOS name: the capture itself names the node's interfaces
        return iface
    return linux if linux in live else iface


def cmd_capture(args: argparse.Namespace) -> int:
    """tcpdump inside a node. Decision: without -w it prints one line per packet (tcpdump's
    own text), with -w it writes the pcap; progress and the summary go to stderr, as
    tcpdump's do. Ctrl-C and SIGTERM stop it cleanly (exit 0), as do --duration and --count."""
    import signal
    import time

    from .lab.capture import Capture, interfaces
    from .lab.ovs import OWN_DEVICES as OVS_OWN

    if os.geteuid() != 0:
        print("labkit: this command needs root (network namespaces); run it with sudo", file=sys.stderr)
        return 2
    lab = Lab.attach(_instance(args))
    if args.list:
        nodes = [lab.node(args.target[0])] if args.target else list(lab.nodes)
        rows = [("node", "interface", "ios", "state", "addresses")]
        hidden: set[str] = set()   # Open vSwitch's own devices: its datapath and bridge ports
        for node in nodes:
            ios_name = None
            if node.spec.managed_by == "ios":
                from .ios.names import ios_name
            for i in interfaces(node):
                if node.spec.switching == "ovs" and i["name"] in OVS_OWN:
                    hidden.add(i["name"])
                    continue
                rows.append((node.name, i["name"], (ios_name(i["name"]) if ios_name else None) or "-",
                             i["state"], " ".join(i["addresses"]) or "-"))
        if not any(r[2] != "-" for r in rows[1:]):
            rows = [r[:2] + r[3:] for r in rows]
        widths = [max(len(r[k]) for r in rows) for k in range(len(rows[0]))]
        for r in rows:
            print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
        print("(any: every interface of the node, the default when NODE has no :IFACE)")
        if hidden:
            print(f"(not listed: {', '.join(sorted(hidden))}: Open vSwitch's own devices, not ports "
                  "of the switch)")
        return 0
    if args.target is None:
        raise LabkitError("name a node: labkit capture NODE[:IFACE] (labkit capture --list shows the interfaces)")
    node = lab.node(args.target[0])
    iface = _iface_name(node, args.target[1])
    shown = [0.0]

    def progress(n: int) -> None:   # a live count on a terminal, twice a second at most
        if time.monotonic() - shown[0] >= 0.5:
            shown[0] = time.monotonic()
            sys.stderr.write(f"\r{n} packets")
            sys.stderr.flush()

    live = bool(args.write) and sys.stderr.isatty()
    cap = Capture(node, iface, bpf=args.filter, count=args.count, write=args.write, text=args.write is None,
                  on_line=lambda line: print(line, flush=True), on_packet=progress if live else None)

    def terminate(signum, frame):
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, terminate)
    packets = f"{args.count} packet{'s' if args.count != 1 else ''}" if args.count else ""
    seconds = f"{args.duration:g} s" if args.duration else ""
    why = "stopped"
    try:
        cap.start()
        print(f"labkit: capturing on {cap.where} until {seconds or packets or 'Ctrl-C'}"
              + (f", writing {args.write}" if args.write else ""), file=sys.stderr, flush=True)
        ended = cap.wait(args.duration)
        why = ("--count reached" if args.count else "tcpdump ended") if ended else \
            ("--duration reached" if seconds else "stopped")
    except KeyboardInterrupt:
        why = "interrupted"
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            cap.stop(settle=False)
        finally:
            signal.signal(signal.SIGINT, signal.default_int_handler)
            signal.signal(signal.SIGTERM, old)
    n = cap.written if args.write else cap.stats.get("captured", cap.written)
    summary = f"{n} packet{'s' if n != 1 else ''} captured on {cap.where} in {cap.seconds:.1f} s ({why})"
    if "received by filter" in cap.stats:
        summary += (f"; tcpdump: {cap.stats['received by filter']} received by filter, "
                    f"{cap.stats.get('dropped by kernel', 0)} dropped by kernel")
    if args.write:
        summary += f"; wrote {args.write}"
    print(("\n" if live and n else "") + "labkit: " + summary, file=sys.stderr)
    if why == "tcpdump ended":
        print(f"labkit: {cap.where}: tcpdump ended by itself (the lab went down?): {cap.tcpdump_message()}",
              file=sys.stderr)
        return 1
    return 0


def _plugin_command(command):
    """A plug-in's subcommand gets the resolved instance name as `args.instance`."""
    def run(args: argparse.Namespace) -> int:
        args.instance = _instance(args)
        return command.run(args)
    return run


class _Subcommand(argparse.ArgumentParser):
    """A subcommand's parser: words it does not take (`labkit link A B --loss 5% down`) are
    refused with its own usage, not the top level's."""

    def parse_known_args(self, args=None, namespace=None):
        ns, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return ns, extras


#: options whose value may start with '-' (`--loss -5%`): the value is refused by its own
#: range check, not taken by argparse for an option ("expected one argument")
SIGNED_VALUES = {"link": ("--loss", "--rate", "--delay", "--jitter"), "capture": ("--duration",)}


def _signed_values(argv: list[str]) -> list[str]:
    """`--loss -5%` -> `--loss=-5%` for the options of SIGNED_VALUES (up to a `--`)."""
    options = SIGNED_VALUES.get(argv[0], ()) if argv else ()
    out: list[str] = []
    i = 0
    while i < len(argv):
        word = argv[i]
        if word == "--":
            return out + argv[i:]
        if word in options and i + 1 < len(argv) and re.match(r"-[0-9.]", argv[i + 1]):
            out.append(f"{word}={argv[i + 1]}")
            i += 2
            continue
        out.append(word)
        i += 1
    return out


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="labkit", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True, parser_class=_Subcommand)

    def add(name: str, fn, help: str, topology: bool = False, lab: str = "attach") -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help, description=help)
        sp.set_defaults(fn=fn)
        if lab == "attach":
            sp.add_argument("--lab", help="the lab instance to act on (default: the one lab that is up)")
        elif lab == "clean":
            sp.add_argument("--lab", help="remove this lab alone (default: every abandoned lab)")
        elif lab == "new":
            sp.add_argument("--lab", help="instance name for the new lab (default: the topology's name:)")
        if topology:
            sp.add_argument("topology", nargs="?", default="seed", help="topology name or YAML file (default: seed)")
        return sp

    up = add("up", cmd_up, "build the lab, start its services, return when all are ready", topology=True,
             lab="new")
    up.add_argument("--no-services", action="store_true", help="namespaces and links only")
    up.add_argument("--replace", action="store_true", help="remove an instance of the same name first")
    up.add_argument("--owner", type=int, metavar="PID",
                    help="record process PID as the lab's owner: once it is gone, labkit clean removes the "
                         "lab (the lab broker names a student's kernel)")
    st = add("status", cmd_status, "show running labs, nodes and processes")
    st.add_argument("--json", action="store_true", help="print one JSON list, an entry per lab")
    ex = add("exec", cmd_exec, "run a command inside a node: labkit exec NODE -- CMD...")
    ex.add_argument("node", help="the node to run in, e.g. pc1")
    ex.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND ARGS... (default: a shell)")
    lk = add("link", cmd_link, "link faults: labkit link A B down|up|clear, or A B --loss PCT --rate RATE "
             "(on A -> B; no delay or jitter: this kernel has no netem)")
    lk.add_argument("a", help="a node, or NODE:IFACE when several links join the two")
    lk.add_argument("b", help="the node at the other end (or NODE:IFACE)")
    lk.add_argument("action", nargs="?", choices=["down", "up", "clear"],
                    help="down: both ends down; up: undo down; clear: no faults at all")
    lk.add_argument("--loss", help="drop this share of what A sends to B, e.g. 5%% (0-100%%)")
    lk.add_argument("--rate", help="shape A -> B to this rate, e.g. 10mbit (bit, kbit, mbit, gbit)")
    lk.add_argument("--both", action="store_true", help="B -> A too, the same")
    lk.add_argument("--delay", help=argparse.SUPPRESS)    # refused with the reason: no netem
    lk.add_argument("--jitter", help=argparse.SUPPRESS)
    ck = add("check", cmd_check, "run the topology's checks; exit 1 on any failure")
    ck.add_argument("-v", "--verbose", action="store_true", help="print each check as it starts")
    add("down", cmd_down, "stop the lab and remove everything it made")
    cl = add("clean", cmd_clean, "remove abandoned labs as recorded on disk (works after kill -9): "
             "unfinished bring-ups and labs whose Lab.up owner died; --lab NAME removes that lab alone",
             lab="clean")
    cl.add_argument("--force", action="store_true", help="also remove labs a running process still holds")
    cs = add("class", cmd_class, "one lab per student on this server: class up --students N | --config FILE, "
             "class status, class down", lab="none")
    cs.add_argument("action", choices=["up", "status", "down"])
    cs.add_argument("topology", nargs="?", default="seed", help="the lab every student gets (default: seed)")
    who = cs.add_mutually_exclusive_group()
    who.add_argument("--students", type=int, help="N practice seats s1..sN (no Unix users needed)")
    who.add_argument("--config", help="a file of Unix user names, one per line: each gets a lab the "
                     "broker shows them as their own")
    cs.add_argument("--json", action="store_true", help="status as one JSON list")
    br = add("broker", cmd_broker, "serve labs to users who are not root (a class on one server): a Unix "
             "socket, each caller known by its uid, its labs fenced by name, quotas per user", lab="none")
    br.add_argument("--labs", type=int, default=2, help="labs one user may have up at once (default 2)")
    br.add_argument("--nodes", type=int, default=40, help="nodes one user may have up at once (default 40)")
    br.add_argument("--procs", type=int, default=512,
                    help="processes one user may have when a command of theirs runs in a node (default 512)")
    br.add_argument("--no-cgroups", action="store_true",
                    help="do not put students' commands in a cgroup per lab: only for a broker that serves one "
                         "student in a container of their own (a pod per student), which is then the limit")
    br.add_argument("--socket", default=None, help="where to listen (default: /run/labkit/broker.sock)")
    li = add("lint", cmd_lint, "validate a topology and lint its configs without bring-up", topology=True,
             lab="none")
    li.add_argument("--strict", action="store_true", help="exit 1 on findings too")
    cp = add("capture", cmd_capture, "capture packets with tcpdump inside a node: labkit capture NODE[:IFACE] "
             "[-w FILE.pcap] [--duration S | --count N] [--filter BPF]; --list shows the interfaces")
    cp.add_argument("target", nargs="?", type=_capture_target, metavar="NODE[:IFACE]",
                    help="the node and one of its interfaces (default: any, every interface of the node)")
    cp.add_argument("-w", "--write", metavar="FILE.pcap",
                    help="write a pcap (Wireshark, tcpdump -r) instead of printing a line per packet")
    until = cp.add_mutually_exclusive_group()
    until.add_argument("--duration", type=_capture_seconds, metavar="S", help="stop after S seconds")
    until.add_argument("-c", "--count", type=_capture_count, metavar="N", help="stop after N packets")
    cp.add_argument("--filter", type=_capture_filter, metavar="BPF",
                    help="a tcpdump filter as one quoted argument, e.g. 'icmp or arp'")
    cp.add_argument("--list", action="store_true",
                    help="show each node's interfaces (name, IOS name, state, addresses); NODE: that node's")
    for command in registry().commands.values():   # subcommands that plug-ins add
        command.configure(add(command.name, _plugin_command(command), command.help))
    sub.add_parser("demo", help="the main job: seed lab + checks + every notebook into out/", add_help=False)
    dr = add("draw", cmd_draw, "draw a topology to an image file", topology=True, lab="none")
    dr.add_argument("-o", "--output", default="topology.png")
    co = add("course", cmd_course, "labkit course build OUT: the teacher's and the student's editions "
             "of the notebooks (nbgrader format)", lab="none")
    co.add_argument("action", choices=["build"])
    co.add_argument("out", help="directory to write teacher/ and student/ into")
    co.add_argument("--from", dest="src", help="the notebooks to build from (default: this checkout's notebooks/)")
    gr = add("grade", cmd_grade, "labkit grade SUBMISSION.ipynb... [-o REPORT_DIR]: run each submission in "
             "a lab of its own, score its checks (hidden tests too), write NAME.json and NAME.html; "
             "labkit grade --configs DIR... --rubric RUBRIC [--lab TOPOLOGY]: the same for folders of "
             "configs (IOS, zone files, main.cf) run in the topology", lab="none")
    gr.add_argument("submissions", nargs="*", metavar="SUBMISSION.ipynb", help="the students' notebooks")
    gr.add_argument("--configs", nargs="+", metavar="DIR",
                    help="students' folders of configs, or a class folder of them (one folder per student)")
    gr.add_argument("--rubric", help="with --configs: the rubric (a name in data/rubrics/, or a YAML file)")
    gr.add_argument("--lab", metavar="TOPOLOGY",
                    help="with --configs: the topology the configs run in (default: the rubric's lab:)")
    gr.add_argument("-o", "--output", default="grades", help="report directory (default: grades)")
    gr.add_argument("--source", help="the teacher's notebooks (default: this checkout's notebooks/)")
    gr.add_argument("--timeout", type=float, default=900, metavar="S",
                    help="time limit for a whole submission (default 900 s)")
    gr.add_argument("--cell-timeout", type=float, default=300, metavar="S",
                    help="time limit for one cell (default 300 s)")
    return p


#: commands that read files and make no lab: anyone may run them (`broker` says itself that it needs root)
ANYONE = ("lint", "draw", "course", "broker")


def _as_a_user(args: argparse.Namespace) -> int:
    """A command from a user who is not root: sent to the lab broker if it serves it, else
    refused with what the user can do instead (a lab's record is root's to read)."""
    from .broker.client import BROKERED, cli as brokered
    from .broker.server import SOCKET

    broker = SOCKET.exists()
    if broker and args.cmd in BROKERED:             # a student on a class server
        try:
            return brokered(args)
        except LabkitError as exc:
            print(f"labkit: {exc}", file=sys.stderr)
            return 2
    if args.cmd == "class":
        how = "it brings up every student's lab; run it with sudo"
    elif broker:
        how = f"through the lab broker you have labkit {' | '.join(BROKERED)}"
        if args.cmd == "capture":
            how += "; to capture, run tcpdump in your own node: labkit exec --lab NAME NODE -- tcpdump -n -i any"
    else:
        how = ("network namespaces; run it with sudo, or ask for a lab broker (labkit broker, as root) "
               "to use labs as yourself")
    print(f"labkit: labkit {args.cmd} needs root ({how})", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["demo"]:
        from .demo import main as demo_main
        return demo_main(argv[1:])
    try:
        args = build_parser().parse_args(_signed_values(argv))   # plug-ins add subcommands: their errors are ours
    except LabkitError as exc:
        print(f"labkit: {exc}", file=sys.stderr)
        return 2
    if os.geteuid() != 0 and args.cmd not in ANYONE:
        return _as_a_user(args)
    try:
        return args.fn(args)
    except TopologyError as exc:
        print(f"labkit: {exc}", file=sys.stderr)
        return 2
    except LabkitError as exc:
        print(f"labkit: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
