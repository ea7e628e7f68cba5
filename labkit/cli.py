"""The `labkit` command: up, status, exec, check, down, clean, lint, draw, and plug-ins' own.

Exit status: 0 on success, 1 when checks fail or lint finds errors, 2 on usage
or lab-state errors. Errors print one line that names the file and line.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .lab import loader
from .lab.errors import LabkitError, LabStateError, TopologyError
from .lab.plugins import registry
from .lab.runtime import Lab, clean, stderr_progress
from .lab.state import LabState


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


def cmd_up(args: argparse.Namespace) -> int:
    lab = Lab.up(args.topology, name=args.lab, services=not args.no_services, keep=True,
                 replace=args.replace, progress=stderr_progress)
    t = lab.timings
    print(f"lab '{lab.instance}' is up: {len(lab.topo.nodes)} nodes, {len(lab.topo.links)} links, "
          f"{len(lab.services)} services ({t.get('up_s', 0):.2f} s). "
          f"Next: labkit status | labkit exec --lab {lab.instance} NODE -- CMD | "
          f"labkit check --lab {lab.instance} | labkit down --lab {lab.instance}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    instances = [args.lab] if args.lab else LabState.instances()
    if args.json:   # one JSON document: a list with one entry per lab
        print(json.dumps([Lab.attach(inst).status() for inst in instances], indent=1))
        return 0
    if not instances:
        print("no lab is up")
        return 0
    for inst in instances:
        st = Lab.attach(inst).status()
        print(f"lab {st['instance']} ({st['status']}) from {st['topology']}")
        for n in st["nodes"]:
            addrs = n["addresses"] + ([f"dhcp:{n['leased'] or 'no lease yet'}"] if "dhcp" in n else [])
            switching = {"ovs": "ovs", "bridge": "bridges"}.get(n["switching"], "-")
            print(f"  {n['name']:<10} {n['role']:<9} {switching:<8} {n['netns']:<22} {' '.join(addrs)}")
        for p in st["processes"]:
            print(f"  pid {p['pid']:<8} {'running' if p['alive'] else 'DEAD':<8} {p['what']}")
        for f in st.get("faults", []):   # labkit link: down / loss / rate per link
            from .lab.faults import describe_line
            print(f"  link {describe_line(f)}")
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
    link = Lab.attach(_instance(args)).link(args.a, args.b)
    if impair:
        fault = link.impair(loss=args.loss, rate=args.rate, both=args.both)
    elif args.action:
        fault = getattr(link, args.action)()
    else:
        fault = link.status()
    line = describe_line(fault)
    print(line if fault["down"] or fault["loss"] or fault["rate"] else f"{fault['link']}  no faults")
    return 0


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


def cmd_draw(args: argparse.Namespace) -> int:
    import matplotlib
    matplotlib.use("Agg")
    from .viz.topology import draw

    fig = draw(loader.load(args.topology)).figure
    fig.savefig(args.output, dpi=110, bbox_inches="tight")
    print(f"wrote {args.output}")
    return 0


def _plugin_command(command):
    """A plug-in's subcommand gets the resolved instance name as `args.instance`."""
    def run(args: argparse.Namespace) -> int:
        args.instance = _instance(args)
        return command.run(args)
    return run


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="labkit", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)

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
    li = add("lint", cmd_lint, "validate a topology and lint its configs without bring-up", topology=True,
             lab="none")
    li.add_argument("--strict", action="store_true", help="exit 1 on findings too")
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
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["demo"]:
        from .demo import main as demo_main
        return demo_main(argv[1:])
    try:
        args = build_parser().parse_args(argv)   # plug-ins add subcommands: their errors are ours
    except LabkitError as exc:
        print(f"labkit: {exc}", file=sys.stderr)
        return 2
    if os.geteuid() != 0 and args.cmd in ("up", "down", "clean", "exec", "check"):
        print("labkit: this command needs root (network namespaces); run it with sudo", file=sys.stderr)
        return 2
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
