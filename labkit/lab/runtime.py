"""A running lab: bring-up, attach, status, teardown.

``Lab.up`` either returns a lab whose every service is ready, or raises after
removing everything it had made: there is no half-started lab.
"""
from __future__ import annotations

import atexit
import os
import sys
import time
from pathlib import Path
from typing import Callable, Iterator

from . import loader
from .errors import LabStateError, LabkitError, ServiceError
from .model import Topology
from .node import LabNode
from .plugins import registry
from .service import Service
from . import cgroup, netns
from .state import INSTANCE_PREFIX_ENV, LabState, scoped
from . import faults as _faults
from labkit.procs import start_time, stop

Progress = Callable[[str], None]




def _quiet(_: str) -> None:
    pass


def stderr_progress(msg: str) -> None:
    """One whole line per message: services start in threads, and their lines must not mix."""
    sys.stderr.write(f"[labkit] {msg}\n")
    sys.stderr.flush()


class Lab:
    def __init__(self, topo: Topology, instance: str, state: LabState):
        self.topo = topo
        self.instance = instance
        self.state = state
        self._nodes = {name: LabNode(spec, f"lk-{instance}-{name}", state.dir / name, state.add_proc)
                       for name, spec in topo.nodes.items()}
        self.services: list[Service] = []
        self.timings: dict[str, float] = {}

    def __repr__(self) -> str:
        return f"<Lab {self.instance}: {len(self._nodes)} nodes, {len(self.topo.links)} links, {self.state.status}>"

    # -- access -------------------------------------------------------------
    @property
    def run_dir(self) -> Path:
        return self.state.dir

    def node(self, name: str) -> LabNode:
        try:
            return self._nodes[name]
        except KeyError:
            raise LabkitError(f"no node '{name}' in lab {self.instance} "
                              f"(nodes: {', '.join(self._nodes)})") from None

    @property
    def nodes(self) -> Iterator[LabNode]:
        return iter(self._nodes.values())

    def link(self, a: str, b: str):
        """Faults on the link joining nodes a and b (NODE:IFACE when several do): ``.down()``,
        ``.up()``, ``.impair(loss=0.05, rate="10mbit", both=False)``, ``.clear()``,
        ``.status()``; see labkit.lab.faults.LinkFaults. No netem here: no delay or jitter."""
        return _faults.LinkFaults(self, a, b)

    def service(self, node: str, name: str) -> Service:
        """The service object; for a lab attached from another process, one made from its spec
        (paths are derived from the instance, so it finds the running daemon's files)."""
        for s in self.services:
            if s.node.name == node and s.name == name:
                return s
        for spec in self.node(node).spec.services:
            if spec.name == name:
                svc = self._make_service(self.node(node), spec)
                self.services.append(svc)
                return svc
        names = ", ".join(s.name for s in self.node(node).spec.services) or "none"
        raise LabkitError(f"no service '{name}' on {node} (services: {names})")

    def _make_service(self, node: LabNode, spec) -> Service:
        return registry().service(spec.kind).load()(node, spec, self.topo)

    # -- as a checks.CheckContext ----------------------------------------------------
    def address(self, target: str) -> str:
        """A node's static address, or for a DHCP host the address it leased; an IP as given."""
        if target in self.topo.nodes:
            addr = self.topo.address_of(target)
            return str(addr) if addr else (self.node(target).live_ip() or target)
        return target

    def udp_payload(self, port: int) -> bytes:
        """A datagram that draws a reply from the service on `port` (a plug-in's), else a plain probe."""
        make = registry().udp_payloads.get(port)
        return make() if make else b"labkit probe\n"

    # -- bring-up --------------------------------------------------------------
    @classmethod
    def up(cls, topology: str | Path = "seed", name: str | None = None, services: bool = True,
           replace: bool = False, keep: bool = False, progress: Progress = _quiet,
           owner: int | None = None) -> "Lab":
        """Build the lab and start its services; on any failure, remove everything and raise.

        `name` is the instance name (default: the topology's), so two copies of one
        topology can run side by side. `replace` removes a stale instance of the same
        name first. Unless `keep`, the lab is torn down when this Python process exits;
        with `keep` (what `labkit up` does) it is recorded as made to outlive this process,
        so a plain `labkit clean` leaves it alone once it is up (see LabState.cleanable).
        `owner` records another live process as the lab's owner instead of this one (the
        lab broker passes a student's kernel): the lab outlives this process, and once the
        owner is gone a plain `labkit clean`, or the broker's reaper, removes it.

        The environment variable LABKIT_INSTANCE_PREFIX, if set, is put before every
        instance name made here (`labkit grade` gives each submission's kernel its own,
        so its labs never meet another's); the result must still be a valid name. Such a
        process sees only the labs under its prefix (state.scoped): attach, down and clean
        cannot reach any other.
        """
        topo = loader.load(topology)
        owner_start = start_time(owner) if owner is not None else None
        if owner is not None and owner_start is None:
            raise LabStateError(f"process {owner}, named as the lab's owner, is not running")
        prefix = os.environ.get(INSTANCE_PREFIX_ENV, "")
        instance = scoped(name or topo.name)
        if prefix and not loader.NAME_RE.match(instance):
            raise LabStateError(f"instance name '{instance}' ({INSTANCE_PREFIX_ENV}={prefix!r} + "
                                f"'{name or topo.name}') is not up to 12 of a-z, 0-9 and '-' "
                                "(fix: a shorter name or prefix)")
        old = LabState.load(instance)
        if old is not None:
            if not replace:
                raise LabStateError(f"lab '{instance}' is already up (started from {old.topology}); "
                                    f"run 'labkit down --lab {instance}' first (or 'labkit up --replace'; "
                                    "from Python, replace=True)")
            old.destroy()
        state = LabState(instance=instance, topology=str(topo.path), keep=keep and owner is None)
        if owner is not None:
            state.owner_pid, state.owner_start = owner, owner_start
        state.save()
        lab = cls(topo, instance, state)
        try:
            lab._build(services, progress)
        except BaseException:
            progress("bring-up failed; removing what was made")
            lab.down()
            raise
        state.status = "up"
        state.save()
        if not keep and owner is None:
            atexit.register(lab._down_at_exit)
        return lab

    def _build(self, services: bool, progress: Progress) -> None:
        from .builder import Builder

        t0 = time.perf_counter()
        progress(f"building {len(self.topo.nodes)} nodes and {len(self.topo.links)} links")
        builder = Builder(self.topo, self.instance, self.state, self._nodes, progress)
        try:
            builder.build()
        finally:
            builder.close_shells()
        self.timings["topology_s"] = time.perf_counter() - t0
        if services:
            self._start_services(progress)
        self.timings["up_s"] = time.perf_counter() - t0

    def _start_services(self, progress: Progress) -> None:
        for node in self._nodes.values():
            for spec in node.spec.services:
                self.services.append(self._make_service(node, spec))
        self.services.sort(key=lambda s: s.order)  # stable: topology order within a rank
        # Render and dry-run every service, then start each rank (Service.order) at once and
        # wait for all of it: servers are ready before the DHCP clients that need them, and
        # independent daemons start side by side (threads: the work is in subprocesses).
        def prepare(svc: Service) -> None:
            progress(f"render + dry-run {svc.node.name}/{svc.name}")
            svc.render()
            svc.check()

        def launch(svc: Service) -> None:
            progress(f"start {svc.node.name}/{svc.name}")
            svc.start()
            svc.wait_ready()

        _all(prepare, self.services)
        for rank in sorted({s.order for s in self.services}):
            _all(launch, [s for s in self.services if s.order == rank])
        if self.services:
            progress(f"{len(self.services)} services ready")

    def start_services(self, progress: Progress = _quiet) -> None:
        """Start the services of a lab brought up with ``services=False``, as bring-up would:
        e.g. once a capture runs, so it sees the daemons' first packets (their REGISTERs)."""
        if self.services:
            raise LabkitError(f"lab '{self.instance}': its services were started already")
        self._start_services(progress)

    def restart(self, node: str, name: str, progress: Progress = _quiet) -> Service:
        """Stop one service (every PID recorded for it, the process groups they lead too,
        so workers a killed daemon left behind go as well), then render, dry-run, start it
        and wait until it is ready, like bring-up does. For a daemon that crashed or was
        killed mid-lab; the rest of the lab keeps running."""
        svc = self.service(node, name)
        stop([p for p in self.state.procs if p.what == f"{node}/{name}"], group=True)
        for proc in svc.procs:
            proc.poll()
        svc.procs.clear()
        progress(f"restart {node}/{name}")
        svc.render()
        svc.check()
        svc.start()
        svc.wait_ready()
        return svc

    @classmethod
    def attach(cls, name: str = "seed") -> "Lab":
        """A handle on a lab another process brought up (`labkit up`), found by instance name."""
        state = LabState.load(name)
        if state is None:
            up = ", ".join(LabState.instances()) or "none"
            prefix = os.environ.get(INSTANCE_PREFIX_ENV, "")
            scope = (f" among this process's labs ({INSTANCE_PREFIX_ENV}={prefix}: it sees only "
                     f"'{prefix}*', as a graded notebook does)" if prefix else "")
            raise LabStateError(f"no lab '{name}' is up{scope} (up: {up}); start one with 'labkit up'")
        return cls(loader.load(state.topology), state.instance, state)   # the scoped name: its namespaces' names

    # -- teardown ----------------------------------------------------------------
    def down(self) -> list[str]:
        """Stop services, kill recorded PIDs, delete namespaces; return leftovers (empty = clean)."""
        t0 = time.perf_counter()
        for svc in reversed(self.services):
            try:
                svc.stop()
            except Exception as exc:  # teardown goes on; the PID kill below still happens
                print(f"[labkit] stopping {svc.label}: {exc}", file=sys.stderr)
        leftovers = self.state.destroy()
        for svc in self.services:  # reap our own children so no zombie outlives the lab
            for proc in svc.procs:
                proc.poll()
        self.state.status = "down"
        self.timings["down_s"] = time.perf_counter() - t0
        return leftovers

    def _down_at_exit(self) -> None:
        if self.state.status == "up" and self.state.path.exists():
            self.down()

    def __enter__(self) -> "Lab":
        return self

    def __exit__(self, *exc) -> None:
        self.down()

    # -- looking at it -------------------------------------------------------------
    def status(self) -> dict:
        alive = {p.pid for p in self.state.alive_procs()}
        return {
            "instance": self.instance,
            "topology": self.state.topology,
            "status": self.state.status,
            "keep": self.state.keep,
            "nodes": [self._node_status(n) for n in self.nodes],
            "processes": [{"pid": p.pid, "what": p.what, "alive": p.pid in alive} for p in self.state.procs
                          if not p.what.endswith(("/shell", "/tool"))],
            "faults": _faults.status(self),   # links with a fault: down, loss, rate (faults.py)
        }

    @staticmethod
    def _node_status(n: LabNode) -> dict:
        """A node's entry; a DHCP host's `leased` is the address it holds now (None: no lease)."""
        entry = {"name": n.name, "role": n.spec.role, "switching": n.spec.switching, "netns": n.netns,
                 "addresses": n.addresses()}
        dhcp = [i.name for i in n.spec.interfaces.values() if i.dhcp]
        if dhcp:
            entry["dhcp"] = dhcp
            entry["leased"] = n.live_ip() if netns.exists(n.netns) else None
        return entry

    def wait_spanning_tree(self, timeout: float = 60.0) -> None:
        """Return once every switch's spanning tree has settled (bring-up's rule: each port
        forwards or is blocked as an alternate), e.g. after a link was plugged back in or a
        trunk re-tagged: the far switch's designated port may wait out its timers while the
        near one already forwards. Raises WaitTimeout naming the waiting ports."""
        from . import ovs

        ovs.wait_settled([ovs.PrivateOvs.of(n) for n in self.nodes
                          if n.spec.stp is not None and n.spec.switching == "ovs"], timeout)

    def check(self, progress: Progress = _quiet):
        from .checks import run_checks

        return run_checks(self, self.topo.checks, progress)

    def draw(self, ax=None):
        from labkit.viz.topology import draw  # viz reads the model by duck typing: no import back

        return draw(self.topo, ax=ax)


def _all(fn: Callable[[Service], None], services: list[Service]) -> None:
    """Run fn on every service in parallel threads; re-raise the first failure in list order."""
    from concurrent.futures import ThreadPoolExecutor

    if not services:
        return
    with ThreadPoolExecutor(max_workers=len(services)) as pool:
        futures = [pool.submit(fn, svc) for svc in services]
    for fut in futures:
        fut.result()


def down(name: str) -> list[str]:
    state = LabState.load(name)
    if state is None:
        raise LabStateError(f"no lab '{name}' is up")
    return Lab.attach(name).down()


def clean(force: bool = False, instance: str | None = None) -> tuple[list[str], list[str]]:
    """Remove recorded labs nobody owns any more; return (removed, kept-and-why).

    Without `instance`, every recorded lab is considered and one is removed only if
    LabState.cleanable says so: its bring-up never finished, or the `Lab.up` process that
    owned it is gone. A lab from `labkit up` (keep) stays until it is named. With
    `instance`, only that lab is touched, and it is removed unless a live process holds
    it. `force` removes even labs a live process holds.
    """
    removed: list[str] = []
    kept: list[str] = []
    for inst in [instance] if instance else LabState.instances():
        state = LabState.load(inst)
        if state is None:
            continue
        if not force:
            if state.owner_alive():
                kept.append(f"{inst} (held by pid {state.owner_pid})")
                continue
            if instance is None and state.cleanable() is None:
                kept.append(f"{inst} (up from 'labkit up'; 'labkit down --lab {inst}' or "
                            f"'labkit clean --lab {inst}' removes it)")
                continue
        problems = state.destroy()
        removed.append(inst + (f" ({'; '.join(problems)})" if problems else ""))
    if instance is None:        # a lab's cgroup whose record is gone: nothing else names it
        for inst in cgroup.orphans(set(LabState.instances()), os.environ.get(INSTANCE_PREFIX_ENV, "")):
            problems = cgroup.remove(inst)
            removed.append(f"cgroup of {inst}" + (f" ({'; '.join(problems)})" if problems else ""))
    return removed, kept


__all__ = ["Lab", "ServiceError", "down", "clean", "stderr_progress"]
