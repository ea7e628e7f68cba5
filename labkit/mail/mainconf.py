"""Parse the seed's main.cf and render it for a lab run directory.

The rule is: keep every parameter of the seed, override only what names a path on the
author's machine (so several labs can run side by side without touching /etc/postfix
or /var/spool/postfix), and add what a lab needs. Every override is written next to the
original value so a student can see what changed and why.
"""
from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from labkit.mail.errors import MailConfigError

_NAME = re.compile(r"^[A-Za-z0-9_]+$")


@dataclass
class Param:
    """One `name = value` of main.cf; `line` is 1-based in the source file."""

    name: str
    value: str
    line: int
    comments: list[str] = field(default_factory=list)  # comment/blank lines just above


def logical_lines(text: str, source: str, what: str = "entry") -> Iterator[tuple[int, str, list[str]]]:
    """Postfix's line syntax, shared by main.cf and lookup-table sources (postconf(5),
    postmap(1)): '#' comment lines and blank lines are skipped, and a line that starts
    with whitespace continues the logical line before it.

    Yields (line number where the logical line starts, the logical line with its
    continuations joined by one space, the comment/blank lines just above it). A
    continuation with nothing to continue names the file and line; `what` is what the
    file holds ("parameter", "entry") for that message.
    """
    current: tuple[int, str, list[str]] | None = None
    pending: list[str] = []
    for num, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            pending.append(raw)
            continue
        if raw[0].isspace():
            if current is None:
                raise MailConfigError(source, num, f"continuation line before any {what}",
                                      "remove the leading whitespace")
            current = (current[0], f"{current[1]} {stripped}", current[2])
            continue
        if current is not None:
            yield current
        current, pending = (num, raw.rstrip(), pending), []
    if current is not None:
        yield current


def parse_main_cf(text: str, source: str = "main.cf") -> list[Param]:
    """Parse main.cf syntax: comments, blank lines, and continuation lines.

    Postfix joins a line that starts with whitespace to the previous logical line
    (the seed's `debugger_command` uses that). A line without `=` is an error that names
    the file and line, because postfix itself would only say "missing '='".
    """
    params: list[Param] = []
    for num, line, comments in logical_lines(text, source, "parameter"):
        if "=" not in line:
            raise MailConfigError(source, num, f"expected 'name = value', got {line!r}",
                                  "add '=' or comment the line out with '#'")
        name, value = line.split("=", 1)
        name = name.strip()
        if not _NAME.match(name):
            raise MailConfigError(source, num, f"bad parameter name {name!r}",
                                  "names are letters, digits and '_'")
        params.append(Param(name, value.strip(), num, comments))
    return params


def load_main_cf(path: Path) -> list[Param]:
    return parse_main_cf(Path(path).read_text(), str(path))


def as_dict(params: list[Param]) -> dict[str, str]:
    """Last one wins, as in Postfix."""
    return {p.name: p.value for p in params}


_DEFAULTS_CACHE: dict[str, str] = {}


def postfix_default(name: str) -> str:
    """The compiled-in default of this machine's Postfix (`postconf -d`).

    `postconf -d` needs no main.cf when asked with `-c` on an empty directory, so this
    works on Debian where /etc/postfix/main.cf does not even exist.
    """
    if name not in _DEFAULTS_CACHE:
        import tempfile
        with tempfile.TemporaryDirectory(prefix="lk-postconf-") as d:
            Path(d, "main.cf").write_text("")
            out = subprocess.run(["postconf", "-c", d, "-dh", name], capture_output=True,
                                 text=True, check=True).stdout.strip()
        _DEFAULTS_CACHE[name] = out
    return _DEFAULTS_CACHE[name]


# Parameters that name a program or directory of the Postfix installation itself.
INSTALL_PATHS = ("command_directory", "daemon_directory", "sendmail_path",
                 "newaliases_path", "mailq_path", "manpage_directory",
                 "sample_directory", "readme_directory")


@dataclass
class Quirk:
    """Something in the seed that does not work as written on this machine."""

    param: str
    line: int
    value: str
    note: str


def seed_quirks(params: list[Param]) -> list[Quirk]:
    """What in the seed main.cf is specific to the author's CentOS box (Postfix 2.6.6)."""
    out: list[Quirk] = []
    for p in params:
        if p.name in INSTALL_PATHS and p.value not in ("", "no") and not Path(p.value).exists():
            why = {
                "daemon_directory": "Red Hat path; Debian keeps the daemons in "
                                    "/usr/lib/postfix/sbin",
                "sendmail_path": "Red Hat 'alternatives' name; Debian installs /usr/sbin/sendmail",
                "newaliases_path": "Red Hat 'alternatives' name",
                "mailq_path": "Red Hat 'alternatives' name",
            }.get(p.name, "version-specific path of Postfix 2.6.6")
            out.append(Quirk(p.name, p.line, p.value,
                             f"does not exist here ({why}); using {postfix_default(p.name)}"))
        if p.name == "debugger_command" and "X11R6" in p.value:
            out.append(Quirk(p.name, p.line, p.value[:40] + "...",
                             "stock CentOS sample: ddd under X11, only used with -D; harmless"))
    names = {p.name for p in params}
    if "compatibility_level" not in names:
        out.append(Quirk("compatibility_level", 0, "(unset)",
                         "written for 2.6; Postfix 3.x would run in backwards-compatible mode "
                         "and warn on every start, so the lab sets compatibility_level = 3.6"))
    return out


def rewrite_map_ref(value: str, conf_dir: Path, backend: str = "hash") -> str:
    """`hash:/etc/postfix/vmbox` -> `hash:RUN/conf/vmbox` (or `sqlite:RUN/conf/vmbox.cf`).

    Only references to files under /etc/postfix are moved; other table types are kept.
    """
    out = []
    for item in re.split(r"[\s,]+", value.strip()):
        if not item:
            continue
        m = re.match(r"^(hash|btree|lmdb|cdb|texthash):(/etc/postfix/)?(.+)$", item)
        if m:
            name = Path(m.group(3)).name
            if backend == "sqlite":
                out.append(f"sqlite:{conf_dir / (name + '.cf')}")
            else:
                out.append(f"{m.group(1)}:{conf_dir / name}")
        else:
            out.append(item)
    return ", ".join(out)


MAP_PARAMS = ("virtual_mailbox_maps", "virtual_mailbox_domains", "virtual_alias_maps")


def lab_overrides(params: list[Param], run_dir: Path, backend: str = "hash") -> dict[str, str]:
    """The path parameters of the seed, moved into `run_dir` (and installation paths fixed)."""
    run_dir = Path(run_dir)
    conf = run_dir / "conf"
    seed = as_dict(params)
    o: dict[str, str] = {
        "queue_directory": str(run_dir / "queue"),
        "data_directory": str(run_dir / "data"),
        "virtual_mailbox_base": str(run_dir / "vhosts"),
        "alias_maps": f"hash:{conf / 'aliases'}",
        "alias_database": f"hash:{conf / 'aliases'}",
        # not in the seed, but a path: local(8) mail (postmaster -> root) must not land
        # in the machine's /var/mail
        "mail_spool_directory": str(run_dir / "spool-local"),
    }
    for name in MAP_PARAMS:
        if name in seed:
            o[name] = rewrite_map_ref(seed[name], conf, backend)
    for name in INSTALL_PATHS:
        v = seed.get(name)
        if v and v != "no" and not Path(v).exists():
            o[name] = postfix_default(name)
    return o


# How the author's Postfix 2.6.6 answers, on this machine's Postfix 3.7 (`compat: "2.6"` of
# the lab's postfix service). The seed's main.cf sets no compatibility_level; labkit's
# default adds 3.6 (lab_additions), and at that level a relay attempt from outside
# mynetworks meets smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated,
# defer_unauth_destination: "454 4.7.1 <rcpt>: Relay access denied". Postfix 2.6 had no
# smtpd_relay_restrictions (added in 2.10) and relayed by these rules (Postfix docs):
#   * COMPATIBILITY_README: below compatibility_level 1 the default is
#     "smtpd_relay_restrictions = (empty)"; below 2, mynetworks_style = subnet (every
#     address of the host's own subnets, here all of 1.2.3.0/24, may relay) and
#     relay_domains = $mydestination. `postconf -d` on 3.7 shows the same expressions.
#   * postconf(5), smtpd_recipient_restrictions: "The Postfix before 2.10 default mail
#     relay policy" is permit_mynetworks, reject_unauth_destination; sites migrating from
#     before 2.10 set smtpd_relay_restrictions empty and keep that list. 3.x's own default
#     for it is empty, and with both lists empty smtpd refuses all mail, so it is set here.
#   * postconf(5): relay_domains_reject_code = 554, so reject_unauth_destination answers
#     "554 5.7.1 <rcpt>: Relay access denied".
POSTFIX_26 = {
    "compatibility_level": "0",
    "smtpd_recipient_restrictions": "permit_mynetworks, reject_unauth_destination",
}
COMPAT = {"3.6": {}, "2.6": POSTFIX_26}   # the postfix service's `compat:` -> main.cf settings


def lab_additions(run_dir: Path, myhostname: str = "mail.exampledomain.ca") -> dict[str, str]:
    """Parameters the seed does not set but a lab needs."""
    run_dir = Path(run_dir)
    return {
        "myhostname": myhostname,
        "compatibility_level": "3.6",
        "maillog_file": str(run_dir / "maillog"),
        # Postfix refuses a maillog_file outside these prefixes (a safety net against
        # writing logs anywhere); the run directory is the only place we write.
        "maillog_file_prefixes": str(run_dir),
    }


def render_main_cf(params: list[Param], overrides: dict[str, str], additions: dict[str, str],
                   header: str = "") -> str:
    """Seed parameters in seed order, overridden values annotated, additions at the end."""
    lines = [header.rstrip()] if header else []
    seen = set()
    combined = {**additions, **overrides}
    for p in params:
        lines.extend(p.comments)
        seen.add(p.name)
        if p.name in combined and combined[p.name] != p.value:
            lines.append(f"# labkit: seed line {p.line} had: {p.name} = {p.value}")
            lines.append(f"{p.name} = {combined[p.name]}")
        else:
            lines.append(f"{p.name} = {p.value}")
    extra = {k: v for k, v in combined.items() if k not in seen}
    if extra:
        lines.append("")
        lines.append("# ---- added by labkit (not in the seed) ----")
        for k, v in extra.items():
            lines.append(f"{k} = {v}")
    return "\n".join(lines) + "\n"
