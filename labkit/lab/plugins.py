"""The one registration point: how topics (and a teacher's own packages) plug into the engine.

The engine knows no topic. Everything a topic adds — service kinds, check kinds, node
expanders (a node whose ports come from a device config, such as an IOS file), the
payload that makes a UDP service answer a port check, and `labkit` subcommands — is
declared in one `Plugin` object. Plug-ins are found through the Python entry-point
group ``labkit.plugins``; each entry point names a module attribute holding a Plugin::

    [project.entry-points."labkit.plugins"]
    mytopic = "mypackage.plugin:plugin"

The engine's own kinds (http, tcp-echo, dhcp-client; reach, no_reach, port_open,
port_closed) are the `core` plug-in, registered the same way from labkit's own
pyproject. Names must be unique across plug-ins; a clash is an error naming both.
Service classes are named as "module:Class" strings and imported on first use, so
loading or linting a topology imports no daemon code it does not need.
"""
from __future__ import annotations

import argparse
import functools
import importlib
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Protocol

from .errors import LabkitError, Where
from .model import Interface, Node, Topology
from .params import TYPES, Param

GROUP = "labkit.plugins"


class PluginError(LabkitError):
    """A plug-in cannot be loaded, or two plug-ins claim the same name."""


@dataclass(frozen=True)
class ServiceKind:
    """A `type:` a topology's services may name.

    `params` declares the accepted parameters with their types; None accepts any
    parameters (files named by `config`, `zonefile` and `files` are still resolved).
    `validate` ("module:function") checks the converted parameters together when the
    topology loads, before anything is built: ``function(params, where)`` raises
    TopologyError, e.g. for two config files that must agree with each other.
    """

    name: str
    impl: str                        # "module:Class", a labkit.lab.service.Service subclass
    params: dict[str, Param] | None = None
    doc: str = ""
    validate: str = ""

    def load(self) -> type:
        return _load(self.impl, f"service kind '{self.name}'")

    def check_params(self, params: dict[str, Any], where: Where) -> None:
        if self.validate:
            _load(self.validate, f"the parameter check of service kind '{self.name}'")(params, where)


class CheckRun(Protocol):
    def __call__(self, ctx: "CheckContext", params: dict[str, Any]) -> tuple[bool, str]: ...


@dataclass(frozen=True)
class CheckKind:
    """A check a topology's `checks:` may use: `- NAME: {params}`.

    `run(ctx, params)` returns (passed, detail); `params` arrive converted by their
    declared types. `describe(params)` is the one-line label of the check in reports.
    """

    name: str
    run: str                          # "module:function"
    params: dict[str, Param]
    describe: Callable[[dict[str, Any]], str] | None = None
    doc: str = ""

    def runner(self) -> CheckRun:
        return _load(self.run, f"check kind '{self.name}'")

    def label(self, params: dict[str, Any]) -> str:
        if self.describe is not None:
            return self.describe(params)
        target = params.get("to") or params.get("name") or ""
        extra = f" {params['port']}" if "port" in params else ""
        return f"{self.name} {params.get('from', '')} -> {target}{extra}".strip()


class CheckContext(Protocol):
    """What a check may use: nodes to run from, and the address a target names."""

    def node(self, name: str) -> Any: ...          # a LabNode
    def address(self, target: str) -> str: ...     # a node's address (a DHCP lease included), or the IP given
    def udp_payload(self, port: int) -> bytes: ...  # a datagram that draws a reply from a service on `port`


class NodeExpander(Protocol):
    """Fills in a node from a device config the node names under `key` (e.g. `ios: r1.ios`).

    `expand` adds the interfaces, SVIs, VLANs and services the config implies to the
    model (raising TopologyError with the config's own file:line on a bad config), and
    sets `node.managed_by` when the config, not the builder, gives the node its
    addresses and routes. `implicit_port` returns the Interface for a port a link uses
    but the config never mentions, or None to let the loader make a plain one.
    """

    key: str
    roles: tuple[str, ...]

    def expand(self, topo: Topology, node: Node, path: Path, where: Where) -> None: ...
    def implicit_port(self, node: Node, linux: str) -> Interface | None: ...


@dataclass(frozen=True)
class Command:
    """A `labkit NAME ...` subcommand. `configure` adds its arguments; `run(args)` returns the exit code."""

    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


@dataclass(frozen=True)
class Plugin:
    name: str
    services: list[ServiceKind] = field(default_factory=list)
    checks: list[CheckKind] = field(default_factory=list)
    expanders: list[NodeExpander] = field(default_factory=list)
    udp_payloads: dict[int, Callable[[], bytes]] = field(default_factory=dict)
    commands: list[Command] = field(default_factory=list)


@dataclass
class Registry:
    """Everything the installed plug-ins declare, by name, with the plug-in that declared it."""

    plugins: list[Plugin] = field(default_factory=list)
    services: dict[str, ServiceKind] = field(default_factory=dict)
    checks: dict[str, CheckKind] = field(default_factory=dict)
    expanders: dict[str, NodeExpander] = field(default_factory=dict)
    udp_payloads: dict[int, Callable[[], bytes]] = field(default_factory=dict)
    commands: dict[str, Command] = field(default_factory=dict)
    owner: dict[tuple[str, Any], str] = field(default_factory=dict)

    def add(self, plugin: Plugin) -> None:
        for kind in [*plugin.services, *plugin.checks]:
            for key, param in (kind.params or {}).items():
                if isinstance(param.type, str) and param.type not in TYPES:
                    raise PluginError(f"plug-in '{plugin.name}': parameter '{key}' of '{kind.name}' has "
                                      f"type '{param.type}' (fix: use one of {', '.join(sorted(TYPES))}, "
                                      "or a function (value, where, ctx) -> value)")
        self.plugins.append(plugin)
        for table, items in (("services", [(s.name, s) for s in plugin.services]),
                             ("checks", [(c.name, c) for c in plugin.checks]),
                             ("expanders", [(e.key, e) for e in plugin.expanders]),
                             ("udp_payloads", list(plugin.udp_payloads.items())),
                             ("commands", [(c.name, c) for c in plugin.commands])):
            for key, item in items:
                if key in getattr(self, table):
                    raise PluginError(f"plug-ins '{self.owner[(table, key)]}' and '{plugin.name}' both "
                                      f"declare {table[:-1].replace('_', ' ')} '{key}' (fix: rename one, "
                                      "or uninstall the package you do not want)")
                getattr(self, table)[key] = item
                self.owner[(table, key)] = plugin.name

    def service(self, kind: str) -> ServiceKind:
        return self.services[kind]

    def check(self, kind: str) -> CheckKind:
        return self.checks[kind]


def _load(ref: str, what: str) -> Any:
    module, _, attr = ref.partition(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise PluginError(f"{what}: cannot load '{ref}': {exc}") from exc


@functools.lru_cache(maxsize=1)
def registry() -> Registry:
    """The registry of every installed plug-in (entry-point group `labkit.plugins`), built once.

    `registry.cache_clear()` rebuilds it, e.g. after installing a plug-in in a running process.
    """
    reg = Registry()
    eps = sorted(metadata.entry_points(group=GROUP), key=lambda ep: (ep.name != "core", ep.name))
    if not any(ep.name == "core" for ep in eps):
        raise PluginError("labkit's own plug-ins are not registered: the package metadata is missing "
                          "(fix: install labkit with 'pip install -e .' or './run setup')")
    seen: dict[str, str] = {}
    for ep in eps:
        if ep.name in seen:
            if seen[ep.name] == ep.value:   # one distribution found twice on sys.path
                continue
            raise PluginError(f"two plug-ins are both named '{ep.name}' ({seen[ep.name]} and {ep.value}) "
                              "(fix: give your package's entry point in 'labkit.plugins' another name)")
        seen[ep.name] = ep.value
        try:
            plugin = ep.load()
        except Exception as exc:  # a broken third-party plug-in must say which one it is
            raise PluginError(f"plug-in '{ep.name}' ({ep.value}) failed to load: "
                              f"{type(exc).__name__}: {exc}") from exc
        if not isinstance(plugin, Plugin):
            raise PluginError(f"plug-in '{ep.name}' ({ep.value}) is a {type(plugin).__name__}, not a "
                              "labkit.lab.plugins.Plugin")
        reg.add(plugin)
    return reg
