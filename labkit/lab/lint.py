"""`labkit lint`: what the loader accepts but a teacher should still look at.

The loader already refuses broken topologies; here each service's config files get
their own linter (zone files, IOS configs, named.conf) when that service class provides
a ``lint(spec) -> list[Diagnostic]`` classmethod. Findings are labkit.diag Diagnostics,
so every linter prints in the one format.
"""
from __future__ import annotations

from labkit.diag import Diagnostic, error

from .model import Topology
from .plugins import PluginError, registry


def lint_topology(topo: Topology) -> list[Diagnostic]:
    findings: list[Diagnostic] = list(topo.warnings)
    for node in topo.nodes.values():
        for spec in node.services:
            try:
                cls = registry().service(spec.kind).load()
            except PluginError as exc:
                findings.append(error(spec.where, f"service '{spec.kind}' cannot be loaded: {exc}",
                                      "install the plug-in that provides it"))
                continue
            linter = getattr(cls, "lint", None)
            if linter is not None:
                findings += linter(spec)
    return findings
