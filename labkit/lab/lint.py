"""`labkit lint`: what the loader accepts but a teacher should still look at.

The loader already refuses broken topologies; here each service's config files
get their own linter (zone files, IOS configs, main.cf) when that service class
provides a ``lint(spec) -> list[str]`` classmethod.
"""
from __future__ import annotations

from .model import Topology
from .plugins import PluginError, registry


def lint_topology(topo: Topology) -> list[str]:
    findings: list[str] = list(topo.warnings)
    for node in topo.nodes.values():
        for spec in node.services:
            try:
                cls = registry().service(spec.kind).load()
            except PluginError as exc:
                findings.append(f"{spec.where}: service '{spec.kind}' cannot be loaded: {exc}")
                continue
            linter = getattr(cls, "lint", None)
            if linter is not None:
                findings += [str(f) for f in linter(spec)]
    return findings
