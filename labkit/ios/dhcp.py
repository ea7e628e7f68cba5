"""DHCP pools -> dnsmasq: the free-range arithmetic and the rendered config.

dnsmasq only offers addresses inside a `dhcp-range`, so the pool network minus
the excluded ranges minus the device's own addresses is split into contiguous
ranges and each becomes one `dhcp-range` line. dnsmasq then never offers an
excluded address, and when every address of those ranges is leased it makes no
offer at all, which is what IOS does when a pool is exhausted.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from pathlib import Path

from .model import DhcpPool, ExcludedRange, IosConfig

Range = tuple[IPv4Address, IPv4Address]


def free_ranges(network: IPv4Network, excluded: list[Range],
                own: list[IPv4Address] = ()) -> list[Range]:  # type: ignore[assignment]
    """Contiguous ranges of the pool's host addresses that DHCP may hand out.

    Host addresses exclude the network and broadcast addresses; then every
    excluded range and every address the device itself holds is cut out.
    """
    lo, hi = int(network.network_address) + 1, int(network.broadcast_address) - 1
    if network.prefixlen >= 31:
        lo, hi = int(network.network_address), int(network.broadcast_address)
    cuts = sorted([(int(a), int(b)) for a, b in excluded] + [(int(a), int(a)) for a in own])
    out: list[Range] = []
    cur = lo
    for a, b in cuts:
        if b < cur or a > hi:
            continue
        if a > cur:
            out.append((IPv4Address(cur), IPv4Address(min(a - 1, hi))))
        cur = max(cur, b + 1)
        if cur > hi:
            break
    if cur <= hi:
        out.append((IPv4Address(cur), IPv4Address(hi)))
    return out


def pool_ranges(cfg: IosConfig, pool: DhcpPool) -> list[Range]:
    """free_ranges() for one pool of a parsed config (global excluded list, own addresses)."""
    assert pool.network is not None
    own = [a.ip for i in cfg.interfaces.values() for a in i.addresses if a.ip in pool.network]
    return free_ranges(pool.network, [(e.low, e.high) for e in cfg.excluded], own)


def _gaps(network: IPv4Network, ranges: list[Range]) -> list[Range]:
    """The complement of `ranges` inside the network (whatever was cut before), as ranges."""
    out: list[Range] = []
    cur = int(network.network_address)
    for a, b in ranges:
        if int(a) > cur:
            out.append((IPv4Address(cur), IPv4Address(int(a) - 1)))
        cur = int(b) + 1
    if cur <= int(network.broadcast_address):
        out.append((IPv4Address(cur), network.broadcast_address))
    return out


def pool_size(ranges: list[Range]) -> int:
    return sum(int(b) - int(a) + 1 for a, b in ranges)


def tag(name: str) -> str:
    """dnsmasq tag for a pool: IOS pool names may hold characters dnsmasq tags do not."""
    safe = "".join(c if (c.isascii() and c.isalnum()) or c in "_-" else "_" for c in name)
    # one tag per pool: `a.b` and `a_b` must not share one
    return safe if safe == name else safe + "_" + hashlib.sha1(name.encode()).hexdigest()[:8]


def lease_text(seconds: int | None) -> str:
    return "infinite" if seconds is None else str(seconds)


@dataclass
class DnsmasqConfig:
    """What to run: conf text, the argv, and the files it uses."""
    conf: str
    conf_path: Path
    lease_path: Path
    dhcp: bool
    dns: bool

    @property
    def argv(self) -> list[str]:
        # -k: stay in the foreground so the recorded PID is the daemon's
        return ["dnsmasq", "-k", f"--conf-file={self.conf_path}"]

    @property
    def test_argv(self) -> list[str]:
        return ["dnsmasq", "--test", f"--conf-file={self.conf_path}"]


def render_dnsmasq(cfg: IosConfig, run_dir: Path, inside_ifaces: list[str],
                   outside_ifaces: list[str], notes: list[tuple[int, str, str]],
                   in_use: list[IPv4Address] = ()) -> DnsmasqConfig | None:  # type: ignore[assignment]
    """One dnsmasq per node: DHCP pools and/or the `ip dns server` forwarder.

    Returns None when the node needs neither. `notes` receives (line, message,
    fix) for pools that serve nothing.

    Conflict detection: IOS pings an address (2 x 500 ms) before offering it and
    moves an address that answers to its conflict table (`show ip dhcp conflict`),
    never to offer it again. dnsmasq's own ping waits 3 s per candidate, which
    made every lease take ~7 s, so it is off (`no-ping`). `in_use` stands in for
    the conflict table: the addresses of the lab's static hosts, which are up
    whenever the lab is, so IOS's ping would find every one of them. They are
    left out of the ranges, and the rendered file lists them.
    """
    lines = [f"# rendered by labkit.ios from {cfg.file}; do not edit, edit the IOS config",
             "no-resolv", "no-hosts", "log-facility=-", "user=root", "group=root",
             f"pid-file={run_dir / 'dnsmasq.pid'}"]
    dhcp = False
    for pool in cfg.pools.values():
        if pool.network is None:
            continue
        ranges = pool_ranges(cfg, pool)
        taken = sorted({a for a in in_use if any(lo <= a <= hi for lo, hi in ranges)})
        if taken:
            ranges = free_ranges(pool.network, [(a, b) for a, b in _gaps(pool.network, ranges)] +
                                 [(a, a) for a in taken])
        served = any(a.network == pool.network or pool.network.overlaps(a.network)
                     for i in cfg.interfaces.values() if not i.shutdown for a in i.addresses)
        if not served:
            notes.append((pool.line, f"dhcp pool {pool.name} ({pool.network}) has no interface on "
                          "this device in that subnet, so no client can reach it (no relay in the lab)",
                          "add an SVI in that subnet or remove the pool"))
        if not ranges:
            notes.append((pool.line, f"dhcp pool {pool.name}: every address of {pool.network} is "
                          "excluded or used by the device; the pool offers nothing",
                          "shrink the 'ip dhcp excluded-address' ranges"))
            continue
        t = tag(pool.name)
        lines.append(f"# ip dhcp pool {pool.name} (line {pool.line}): {pool_size(ranges)} addresses")
        if taken:
            lines.append("# conflict table (IOS would ping these and find them up): "
                         + " ".join(map(str, taken)))
        for a, b in ranges:
            lines.append(f"dhcp-range=set:{t},{a},{b},{pool.network.netmask},{lease_text(pool.lease_seconds)}")
        if pool.default_routers:
            lines.append(f"dhcp-option=tag:{t},option:router,{','.join(map(str, pool.default_routers))}")
        if pool.dns_servers:
            lines.append(f"dhcp-option=tag:{t},option:dns-server,{','.join(map(str, pool.dns_servers))}")
        if pool.domain_name:
            lines.append(f"dhcp-option=tag:{t},option:domain-name,{pool.domain_name}")
        dhcp = True
    if dhcp:
        lines += [f"dhcp-leasefile={run_dir / 'dnsmasq.leases'}", "dhcp-authoritative", "log-dhcp",
                  "# IOS's ping-before-offer is not emulated by pinging (see render_dnsmasq)",
                  "no-ping"]
    dns = cfg.dns_server
    if dns:
        lines.append("# ip dns server: forward to ip name-server")
        lines += [f"server={s}" for s in cfg.name_servers]
        # IOS answers on every interface; the lab keeps the forwarder off the WAN side
        lines += [f"interface={i}" for i in ["lo", *inside_ifaces]]
        lines += [f"except-interface={i}" for i in outside_ifaces]
    else:
        lines.append("port=0")
    if not (dhcp or dns):
        return None
    return DnsmasqConfig("\n".join(lines) + "\n", run_dir / "dnsmasq.conf",
                         run_dir / "dnsmasq.leases", dhcp, dns)
