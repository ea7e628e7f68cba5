"""Draw a topology with matplotlib: nodes by role, links, VLANs and subnets.

It reads a labkit.lab.model.Topology by its attributes and imports nothing of labkit,
so the engine can offer `Lab.draw()` without an import cycle.
"""
from __future__ import annotations

import ipaddress
from typing import Any

import matplotlib.pyplot as plt
import networkx as nx

Topology = Any  # a labkit.lab.model.Topology

ROLE_STYLE = {  # marker, colour, size
    "router": ("o", "#e07b39", 900),
    "l3switch": ("s", "#3b7dd8", 900),
    "switch": ("s", "#7aa6e0", 700),
    "host": ("D", "#5aa469", 500),
}
VLAN_COLOURS = ["#8e44ad", "#c0392b", "#16a085", "#d35400", "#2c3e50"]


def positions(topo: Topology) -> dict[str, tuple[float, float]]:
    """`pos:` from the YAML where given; a seeded spring layout for the rest (same every run)."""
    g = nx.Graph()
    g.add_nodes_from(topo.nodes)
    g.add_edges_from((link.a.node, link.b.node) for link in topo.links)
    fixed = {n: node.pos for n, node in topo.nodes.items() if node.pos}
    if len(fixed) == len(topo.nodes):
        return fixed
    return nx.spring_layout(g, pos=fixed or None, fixed=list(fixed) or None, seed=7)


def link_subnet(topo: Topology, link) -> str:
    nets = set()
    for end in (link.a, link.b):
        intf = topo.nodes[end.node].interfaces.get(end.intf)
        if intf:
            nets |= {str(a.network) for a in intf.addresses}
    return ", ".join(sorted(nets))


def draw(topo: Topology, ax=None):
    """Return the matplotlib Axes with the drawing."""
    pos = positions(topo)
    if ax is None:
        _, ax = plt.subplots(figsize=(11, 7))
    vlan_colour = {vid: VLAN_COLOURS[i % len(VLAN_COLOURS)] for i, vid in enumerate(sorted(topo.vlans))}
    for link in topo.links:
        (x1, y1), (x2, y2) = pos[link.a.node], pos[link.b.node]
        vlan = None
        for end in (link.a, link.b):
            intf = topo.nodes[end.node].interfaces.get(end.intf)
            if intf and intf.vlan is not None:
                vlan = intf.vlan
        colour = vlan_colour.get(vlan, "#888888")
        ax.plot([x1, x2], [y1, y2], color=colour, lw=2.2 if vlan else 1.4, zorder=1)
        label = f"VLAN{vlan}" if vlan else link_subnet(topo, link)
        if label:
            ax.text((x1 + x2) / 2, (y1 + y2) / 2, label, fontsize=7, ha="center", va="center",
                    color=colour if vlan else "#444", bbox=dict(fc="white", ec="none", alpha=0.8, pad=0.5), zorder=2)
    for name, node in topo.nodes.items():
        marker, colour, size = ROLE_STYLE[node.role]
        x, y = pos[name]
        ax.scatter([x], [y], s=size, marker=marker, c=colour, edgecolors="black", zorder=3)
        addrs = [str(a.ip) for a in node.addresses() if not a.ip in ipaddress.IPv4Network("127.0.0.0/8")]
        sub = node.label or node.role
        text = f"{name}\n{sub}" + (f"\n{addrs[0]}" if addrs else "")
        ax.text(x, y - 0.28, text, fontsize=7.5, ha="center", va="top", zorder=4)
    for vid, colour in vlan_colour.items():
        ax.plot([], [], color=colour, lw=2.2, label=f"VLAN{vid} {topo.vlans[vid].name}")
    for role, (marker, colour, _) in ROLE_STYLE.items():
        ax.scatter([], [], marker=marker, c=colour, edgecolors="black", label=role)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    ax.set_title(topo.title or topo.name)
    ax.axis("off")
    ax.margins(0.12)
    return ax
