"""Lint for zone files and named.conf: BIND's own checks plus the ones BIND misses.

Each finding is a ``labkit.diag.Diagnostic``: it names ``file:line``, says what is wrong
and how to fix it, and prints in diag's one format. The rules (``Diagnostic.rule``):

- ``parse``             the file does not load (our parser, with the line).
- ``ns-toplevel``       an NS/MX target written as a one-label absolute name (the seed's
                        ``NS ns.``): that is a top-level domain, not a host in the zone.
                        named-checkzone accepts it (it cannot know ``ns.`` has no address).
- ``soa-rname``         the SOA RNAME is not a mailbox. RNAME ``www.exampledomain.ca.``
                        means ``www@exampledomain.ca``. Rule: flag it when the RNAME is a
                        host name in this zone (it owns A/AAAA/CNAME records: someone typed
                        the web host where the hostmaster's address goes), when it is the
                        apex itself, or -- when the Postfix maps are given -- when the
                        address is in a domain Postfix hosts but is neither a mailbox nor an
                        alias there.
- ``missing-glue``      a delegation whose NS target lies inside the delegated child and has
                        no A/AAAA glue; or an apex NS target inside the zone with no address.
- ``mx-cname`` / ``ns-cname``  an MX/NS target that is a CNAME (RFC 2181 10.3).
- ``mx-no-address``     an MX target inside the zone with no A/AAAA record.
- ``named-checkzone`` / ``named-checkconf``  whatever BIND's checkers report, with the line
                        taken from their message or, failing that, from the record they name.
"""
from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
from pathlib import Path

from dnslib import QTYPE

from labkit.diag import Diagnostic
from labkit.mail.maps import read_map

from .namedconf import NamedConfError, load_zones
from .zone import SourceError, Zone, key, load_zone

T_A, T_AAAA, T_NS, T_MX, T_CNAME, T_SOA = QTYPE.A, QTYPE.AAAA, QTYPE.NS, QTYPE.MX, QTYPE.CNAME, QTYPE.SOA


def finding(path: str, line: int, message: str, fix: str, rule: str, severity: str = "error") -> Diagnostic:
    """A lint finding: a Diagnostic whose ``rule`` names the check that made it."""
    return Diagnostic(str(path), line, message, fix, severity, rule)


def _addr(zone: Zone, name: str) -> bool:
    n = zone.nodes.get(name, {})
    return T_A in n or T_AAAA in n


def _cut_of(zone: Zone, name: str) -> str | None:
    """The delegation point at or above ``name`` (below the apex), if any."""
    if not zone.contains(name) or name == zone.origin:
        return None
    rel = name[: -len(zone.origin)].rstrip(".") if zone.origin != "." else name.rstrip(".")
    labels = rel.split(".")
    for i in range(len(labels) - 1, -1, -1):
        cand = ".".join(labels[i:]) + "." + (zone.origin if zone.origin != "." else "")
        if T_NS in zone.nodes.get(cand, {}):
            return cand
    return None


def check_zone(zone: Zone, mailboxes: set[str] | None = None, mail_domains: set[str] | None = None) -> list[Diagnostic]:
    """Our rules on a loaded zone (see the module docstring)."""
    out: list[Diagnostic] = []
    origin = zone.origin
    for rec in zone.records:
        if rec.rtype in (T_NS, T_MX):
            tname = "NS" if rec.rtype == T_NS else "MX"
            target_tok = rec.rdata_tokens[0] if rec.rtype == T_NS else (rec.rdata_tokens[1] if len(rec.rdata_tokens) > 1 else "")
            target = key(rec.rdata.label)
            if target_tok.endswith(".") and target.count(".") == 1 and target != ".":
                rel = target_tok.rstrip(".")
                out.append(finding(
                    rec.path, rec.line,
                    f"{tname} target '{target_tok}' is a top-level name, not a host: nothing can resolve "
                    f"it (named-checkzone does not flag this)",
                    f"write '{rel}' (relative, = {rel}.{origin}) or '{rel}.{origin}' with the trailing dot",
                    "ns-toplevel"))
                continue
            if not zone.contains(target):
                continue
            node = zone.nodes.get(target, {})
            if T_CNAME in node:
                out.append(finding(rec.path, rec.line,
                                   f"{tname} target {target} is a CNAME (RFC 2181 10.3 forbids it)",
                                   f"point the {tname} at the canonical name {key(node[T_CNAME][0].rdata.label)}",
                                   f"{tname.lower()}-cname"))
                continue
            if rec.rtype == T_MX and not _addr(zone, target):
                out.append(finding(rec.path, rec.line, f"MX target {target} has no A or AAAA record",
                                   f"add '{target} IN A <address>' or point the MX at a host that has one",
                                   "mx-no-address"))
            if rec.rtype == T_NS:
                cut = rec.name if rec.name != origin else None
                below = cut is not None and (target == cut or target.endswith("." + cut))
                if cut is not None and below and not _addr(zone, target):
                    out.append(finding(rec.path, rec.line,
                                       f"delegation of {cut} to {target} has no glue: {target} lies inside "
                                       f"{cut}, so nobody can find its address",
                                       f"add '{target} IN A <address>' (glue) to this zone", "missing-glue"))
                elif cut is None and not _addr(zone, target) and _cut_of(zone, target) is None:
                    out.append(finding(rec.path, rec.line, f"NS target {target} has no A or AAAA record in the zone",
                                       f"add '{target} IN A <address>'", "missing-glue"))
    soa = zone.soa
    if soa is not None:
        rname = key(soa.rdata.rname)
        labels = rname.rstrip(".").split(".")
        address = f"{labels[0]}@{'.'.join(labels[1:])}" if len(labels) > 1 else rname
        rtok = soa.rdata_tokens[1] if len(soa.rdata_tokens) > 1 else rname
        node = zone.nodes.get(rname, {})
        hostish = [QTYPE.get(t) for t in (T_A, T_AAAA, T_CNAME) if t in node]
        local = "hostmaster"
        if mailboxes:
            mine = sorted(a for a in mailboxes if a.endswith("@" + origin.rstrip(".")))
            if mine:
                local = mine[0].split("@")[0]
        fix = (f"use a mailbox, e.g. '{local}.{origin}' (= {local}@{origin.rstrip('.')})"
               + (" which the Postfix maps deliver" if local != "hostmaster" else " and make sure it is delivered"))
        if rname == origin:
            out.append(finding(soa.path, soa.line, f"SOA RNAME {rtok} is the zone apex, not a mailbox", fix, "soa-rname"))
        elif hostish:
            out.append(finding(soa.path, soa.line,
                               f"SOA RNAME {rtok} is a host in this zone ({'/'.join(hostish)} record), not a mailbox: "
                               f"it reads as the address {address}", fix, "soa-rname"))
        elif mailboxes is not None and mail_domains is not None:
            domain = address.split("@", 1)[-1]
            if domain in mail_domains and address not in mailboxes:
                out.append(finding(soa.path, soa.line,
                                   f"SOA RNAME {rtok} means {address}, which the Postfix maps neither deliver nor forward",
                                   f"add {address} to vmbox or valias, or {fix}", "soa-rname"))
    return out


_LOC = re.compile(r"(?P<file>[^\s:]+):(?P<line>\d+):\s*(?P<msg>.*)")
_NAME_IN_MSG = re.compile(r"'([^']+)'")


def _line_for(zone: Zone | None, msg: str) -> int:
    """A named-checkzone message names a record (e.g. "NS 'ns.x' has no address"): find
    the first line that mentions that name as owner or target."""
    if zone is None:
        return 1
    for m in _NAME_IN_MSG.finditer(msg):
        name = key(m.group(1))
        for rec in zone.records:
            if rec.name == name:
                return rec.line
        for rec in zone.records:
            if name in {key(getattr(rec.rdata, "label", "")) if hasattr(rec.rdata, "label") else ""}:
                return rec.line
    return zone.soa.line if zone.soa else 1


_CHECKZONE_FIXES = [
    ("check-names", "host names may use only letters, digits and '-' (no '_'): rename the record"),
    ("has no address records", "add an A (or AAAA) record for that name"),
    ("(out of zone) has no addresses records", "point the record at a host that has an address, "
                                               "or give that host one in its own zone"),
    ("is a CNAME", "point the record at the canonical name, not at the alias"),
    ("TTL set to prior TTL", "give every record of the RRset the same TTL"),
    ("ignoring out-of-zone data", "use names inside the zone (relative names, or absolute ones ending in the origin)"),
    ("bad dotted quad", "write the IPv4 address as four numbers 0-255"),
    ("unexpected end of input", "close the parenthesis or complete the record"),
    ("CNAME and other data", "a CNAME owner may hold no other record; remove one of them"),
    ("multiple RRs of singleton type", "keep one record of that type at this name"),
]


def _checkzone_fix(text: str) -> str:
    for needle, fix in _CHECKZONE_FIXES:
        if needle in text:
            return fix
    return "correct the record named-checkzone points at"


def run_named_checkzone(path: str | Path, origin: str, zone: Zone | None = None,
                        integrity: str = "local", node=None) -> list[Diagnostic]:
    """named-checkzone's findings for one zone file, each with file:line.

    ``integrity`` is its ``-i`` mode. ``local`` (the default) checks in-zone names only and
    sends nothing. ``full`` also looks up out-of-zone MX/SRV targets and delegation NS
    targets through the resolver (getaddrinfo), so it sends DNS queries: it runs only inside
    a lab node (``node``, a ``labkit.lab`` node: its namespace and its resolv.conf), never in
    the root namespace. BIND 9.18 then reports an out-of-zone MX target with no address
    ("zone/MX 'target' (out of zone) has no addresses records (A or AAAA)", its wording); the apex NS records are not looked up
    in either mode, so the seed's ``NS ns.`` passes both (named-checkzone(1), ``-i``).
    """
    if integrity not in ("local", "full"):
        raise ValueError(f"integrity {integrity!r}: use 'local' or 'full' (named-checkzone -i)")
    if integrity == "full" and node is None:
        raise ValueError("named-checkzone -i full sends DNS queries: give the lab node to run it in "
                         "(node=lab.node(NAME)); labkit sends nothing from the root namespace")
    exe = shutil.which("named-checkzone")
    if exe is None:
        return []
    if zone is None:        # to find the line of a record a message names
        try:
            zone = load_zone(path, origin, check=False)
        except (SourceError, OSError):
            zone = None
    argv = [exe, "-i", integrity, origin.rstrip(".") or ".", str(path)]
    p = node.run(argv) if node is not None else subprocess.run(argv, capture_output=True, text=True)
    out = []
    for raw in (p.stdout + p.stderr).splitlines():
        msg = raw.strip()
        if not msg or msg == "OK" or "loaded serial" in msg or "not loaded due to errors" in msg:
            continue
        m = _LOC.search(msg)
        if m and Path(m.group("file")).name == Path(path).name:
            line, text = int(m.group("line")), m.group("msg")
        else:
            line, text = _line_for(zone, msg), re.sub(r"^zone [^:]+: ", "", msg)
        if "loading from master file" in text and "failed" in text:
            continue   # repeats the located error above it
        sev = "error" if p.returncode else "warning"
        out.append(finding(str(path), line, f"named-checkzone: {text}", _checkzone_fix(text),
                           "named-checkzone", sev))
    return out


def lint_zone(path: str | Path, origin: str, mailboxes: set[str] | None = None,
              mail_domains: set[str] | None = None, bind_checks: bool = True) -> list[Diagnostic]:
    """All findings for one zone file (ours first, then named-checkzone's)."""
    path = Path(path)
    out: list[Diagnostic] = []
    zone = None
    try:
        zone = load_zone(path, origin, check=False)
        try:
            zone.check_loaded()
        except SourceError as e:
            out += e.diagnostics
        out += check_zone(zone, mailboxes, mail_domains)
    except SourceError as e:
        out += [d if d.fix else dataclasses.replace(d, fix="see the zone file syntax") for d in e.diagnostics]
    if bind_checks:
        # Where our rule already explains a line, BIND's terser message adds nothing.
        ours = {f.line for f in out}
        said = " ".join(f.message for f in out)

        def repeats(f: Diagnostic) -> bool:
            return f.line in ours or any(key(n) in said for n in _NAME_IN_MSG.findall(f.message))
        out += [f for f in run_named_checkzone(path, origin, zone) if not repeats(f)]
    return out


def read_postfix_maps(vmbox: str | Path | None = None, valias: str | Path | None = None,
                      vdomains: str | Path | None = None) -> tuple[set[str], set[str]]:
    """(addresses delivered or forwarded, domains hosted) from the seed's Postfix map sources.

    Read with labkit.mail's map parser (postmap's syntax), so DNS lint and Postfix agree
    on what a map line says. A missing file counts as empty.
    """
    def keys(p) -> set[str]:
        return {e.key.lower() for e in read_map(Path(p))} if p else set()
    return keys(vmbox) | keys(valias), keys(vdomains)


def lint_named_conf(path: str | Path, mailboxes: set[str] | None = None,
                    mail_domains: set[str] | None = None) -> list[Diagnostic]:
    """named.conf syntax (named-checkconf), each zone statement, and each zone file."""
    path = Path(path)
    out: list[Diagnostic] = []
    try:
        stanzas = load_zones(path)
    except NamedConfError as e:
        return list(e.diagnostics)
    except OSError as e:
        return [finding(str(path), 0, f"cannot read: {e.strerror}", "check the path", "parse")]
    exe = shutil.which("named-checkconf")
    if exe:
        p = subprocess.run([exe, path.name], capture_output=True, text=True, cwd=path.parent)
        for raw in (p.stdout + p.stderr).splitlines():
            m = _LOC.search(raw)
            line, text = (int(m.group("line")), m.group("msg")) if m else (1, raw.strip())
            if text:
                out.append(finding(str(path), line, f"named-checkconf: {text}",
                                   "fix the statement named-checkconf points at", "named-checkconf"))
    for st in stanzas:
        if st.type not in ("master", "primary"):
            out.append(finding(str(path), st.line, f'zone "{st.name}" is type {st.type or "(none)"}; '
                               "the lab host is the primary for its zones",
                               "write 'type master;' (or 'type primary;')", "zone-type", "warning"))
            continue
        if not st.file:
            out.append(finding(str(path), st.line, f'zone "{st.name}" has no file', 'add \'file "NAME";\'', "zone-file"))
            continue
        zpath = path.parent / st.file
        if not zpath.exists():
            out.append(finding(str(path), st.option_lines.get("file", st.line),
                               f'zone file "{st.file}" does not exist (looked in {path.parent})',
                               "put the zone file next to named.conf or fix the file name", "zone-file"))
            continue
        out += lint_zone(zpath, st.name, mailboxes, mail_domains)
    return out
