"""Lab services of the DNS half: ``bind``, ``authdns``, ``resolver``, ``secgroup``.

Topology YAML (paths relative to the topology file):

    ec2:
      services:
        - {type: bind, config: ec2/named.conf}          # or type: authdns, same config
        - {type: secgroup, allow: [25/tcp, 53/tcp, 53/udp]}
    rootns:
      services:
        - {type: authdns, zonefile: {".": internet/root.zone, "com.": internet/com.zone}}
    resolver:
      services:
        - {type: resolver, root: [198.41.0.4]}
"""
from __future__ import annotations

import signal
from pathlib import Path

from dnslib import QTYPE

from labkit.diag import error, warning
from labkit.lab.errors import ServiceError
from labkit.lab.service import Service
from labkit.mail.errors import MailConfigError
from labkit.procs import WaitTimeout, wait_until

from .bind import BindConfig
from .lint import lint_named_conf, lint_zone, read_postfix_maps
from .namedconf import NamedConfError, load_zones
from .secgroup import SEED_ALLOW, render_nft
from .zone import ZoneError, load_zone

DNS_PORTS = [("udp", 53), ("tcp", 53)]


def _maps_beside(conf: Path):
    """The seed's Postfix map sources next to named.conf, for the SOA RNAME rule.

    A malformed map is the mail lint's to report (with its line); here it only means
    the rule cannot consult the maps."""
    d = conf.parent
    if (d / "vmbox").exists():
        try:
            return read_postfix_maps(d / "vmbox", d / "valias", d / "vdomains")
        except MailConfigError:
            return None, None
    return None, None


class BindService(Service):
    """BIND 9 serving the topology's named.conf (its zone statements included verbatim).

    Render, dry run, argv and readiness all come from `BindConfig`, the same description
    the loopback rig (labkit.dns.bind.BindProcess) runs.
    """

    kind = "bind"
    ports = DNS_PORTS

    @property
    def conf(self) -> Path:
        return self._config().conf_path

    def _config(self) -> BindConfig:
        return BindConfig(self.run_dir, listen=[str(self.params.get("listen", "any"))],
                          port=int(self.params.get("port", 53)))

    def render(self) -> None:
        cfg = self._config()
        try:
            cfg.add_named_conf(self.config_path("config"))
        except (NamedConfError, OSError) as e:
            raise ServiceError(self, str(e))
        cfg.render()

    def check(self) -> None:
        self.run_checked(self._config().check_command())

    def start(self) -> None:
        self.spawn(self._config().start_command())

    def ready(self) -> bool:
        """Both ports listen (the engine's probe) and named answers a query (BIND's own)."""
        cfg = self._config()
        return super().ready() and cfg.ready(self.node.netns, cfg.probe_address(self.node.ip() or "127.0.0.1"))

    def zone_file(self, origin: str) -> Path:
        """The lab's copy of a zone's file, the one named loads: edit it, then reload()."""
        want = origin.rstrip(".").lower()
        for z in load_zones(self.config_path("config")):
            if z.name.rstrip(".").lower() == want and z.file:
                return self.run_dir / z.file
        raise ServiceError(self, f"serves no zone '{origin}' from a file")

    def reload(self, timeout: float = 10.0) -> dict[str, int]:
        """What `rndc reload` does on the seed's host: named reads its zone files again.

        Every zone file is checked first with `named-checkzone` (an error raises ServiceError
        with BIND's file:line message, and named keeps serving what it had); then each file is
        touched (named reloads only files newer than what it loaded), the named the lab
        recorded gets SIGHUP, and this returns once named has logged each zone's `loaded
        serial` and answers its SOA with that serial: {zone: serial served}. A zone file whose
        serial was not raised is still loaded by a primary, as BIND does (it logs that
        secondaries would not notice: bump the serial)."""
        zones = [(z.name.rstrip("."), self.run_dir / z.file)
                 for z in load_zones(self.config_path("config")) if z.file]
        want = {}
        for origin, path in zones:
            self.run_checked(["named-checkzone", "-i", "local", origin or ".", str(path)])
            want[origin] = load_zone(path, origin).soa.rdata.times[0]
        log = self.run_dir / "named.log"
        seen = log.stat().st_size if log.exists() else 0
        for _, path in zones:
            path.touch()
        self.signal(signal.SIGHUP)

        def since() -> str:
            return log.read_text(errors="replace")[seen:] if log.exists() else ""

        def done() -> bool:
            text = since()
            if "reloading configuration failed" in text or "reloading zones failed" in text or \
                    "not loaded due to errors" in text:
                raise ServiceError(self, "named could not reload", text[-2000:])
            loaded = all(f"zone {z or '.'}/IN: loaded serial {n}" in text for z, n in want.items())
            return loaded and self.serials(list(want)) == want
        try:
            wait_until(done, timeout, poll=0.1, what="named reloaded")
        except WaitTimeout:
            raise ServiceError(self, f"named did not finish reloading the new zones within {timeout:g} s "
                               f"(want serials {want}, served {self.serials(list(want))})",
                               since()[-2000:]) from None
        return want

    def restore_zone(self, origin: str) -> int | None:
        """Serve the topology's own file for ``origin`` again (undoing edits of the lab's
        copy, e.g. a notebook's exercise): when the copy differs, the original is written
        over it and `reload()`ed, even with a lower serial (a primary loads it). Returns
        the serial named answers."""
        zone = self.zone_file(origin)
        original = (self.config_path("config").parent / zone.relative_to(self.run_dir)).read_text()
        if zone.read_text() != original:
            zone.write_text(original)
            self.reload()
        return self.serials([origin.rstrip(".")])[origin.rstrip(".")]

    def serials(self, zones: list[str]) -> dict[str, int | None]:
        """The SOA serial named answers for each zone (None: no SOA answer), asked inside the node."""
        from .client import query
        cfg = self._config()
        addr = cfg.probe_address(self.node.ip() or "127.0.0.1")
        out: dict[str, int | None] = {}
        for z in zones:
            try:
                soa = [rr.rdata for rr in query(self.node.netns, addr, z or ".", "SOA", port=cfg.port).rr
                       if rr.rtype == QTYPE.SOA]
            except OSError:
                soa = []
            out[z] = soa[0].times[0] if soa else None
        return out

    @classmethod
    def lint(cls, spec) -> list:
        conf = spec.params.get("config")
        if not isinstance(conf, Path):
            return [error(spec.where, "bind service needs 'config: named.conf'",
                          "add 'config: FILE' naming the node's named.conf")]
        return lint_named_conf(conf, *_maps_beside(conf))


class EmbeddedDnsService(Service):
    """labkit's authoritative server (``python -m labkit.dns.serve``): same answers as BIND."""

    kind = "authdns"
    ports = DNS_PORTS

    def _args(self) -> list[str]:
        args = []
        conf = self.params.get("config")
        if conf is not None:
            args += ["--named-conf", str(self.config_path("config"))]
        for origin, path in (self.params.get("zonefile") or {}).items():
            args += ["--zone", f"{origin}={path}"]
        if not args:
            raise ServiceError(self, "needs 'config: named.conf' or 'zonefile: {ORIGIN: FILE}'")
        return args

    def check(self) -> None:
        try:
            conf = self.params.get("config")
            if conf is not None:
                for st in load_zones(conf):
                    if st.file:
                        load_zone(Path(conf).parent / st.file, st.name)
            for origin, path in (self.params.get("zonefile") or {}).items():
                load_zone(path, origin)
        except (ZoneError, NamedConfError, OSError) as e:
            raise ServiceError(self, str(e))

    def start(self) -> None:
        self.spawn([self.python, "-m", "labkit.dns.serve", *self._args(),
                    "--listen", str(self.params.get("listen", "0.0.0.0")),
                    "--port", str(self.params.get("port", 53)),
                    "--workers", str(self.params.get("workers", 1))])

    @classmethod
    def lint(cls, spec) -> list:
        out = []
        conf = spec.params.get("config")
        if isinstance(conf, Path):
            out += lint_named_conf(conf, *_maps_beside(conf))
        for origin, path in (spec.params.get("zonefile") or {}).items():
            out += lint_zone(path, origin)
        return out


class ResolverService(Service):
    """The ISP's recursive resolver, iterating from the lab's root server."""

    kind = "resolver"
    ports = DNS_PORTS

    def start(self) -> None:
        roots = self.params.get("root") or ["198.41.0.4"]
        if isinstance(roots, str):
            roots = [roots]
        cmd = [self.python, "-m", "labkit.dns.resolve", "--listen", str(self.params.get("listen", "0.0.0.0")),
               "--port", str(self.params.get("port", 53))]
        for r in roots:
            cmd += ["--root-hint", str(r)]
        self.spawn(cmd)


class SecurityGroupService(Service):
    """The EC2 security group as nftables rules inside the host (no daemon)."""

    kind = "secgroup"
    ports = ()

    @property
    def script(self) -> Path:
        return self.run_dir / "secgroup.nft"

    def render(self) -> None:
        try:
            self.script.write_text(render_nft(self.params.get("allow") or SEED_ALLOW))
        except ValueError as e:
            raise ServiceError(self, str(e))

    def check(self) -> None:
        self.run_checked(["nft", "-c", "-f", str(self.script)], inside=True)

    def start(self) -> None:
        self.run_checked(["nft", "-f", str(self.script)], inside=True)

    def ready(self) -> bool:
        return True

    @classmethod
    def lint(cls, spec) -> list:
        try:
            render_nft(spec.params.get("allow") or SEED_ALLOW)
        except ValueError as e:
            return [error(spec.where, str(e), "write each rule as PORT/tcp, PORT/udp or icmp")]
        allow = [str(a).lower() for a in (spec.params.get("allow") or SEED_ALLOW)]
        if "icmp" not in allow:
            return [warning(spec.where, "no ICMP rule, so the host does not answer ping (faithful to "
                            "the seed's security group)", "add 'icmp' to allow it")]
        return []
