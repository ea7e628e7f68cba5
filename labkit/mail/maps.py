"""Postfix lookup-table text files: parsing, locked additions, and dirty flags.

This is the seed's "Files" automation done safely. Every writer takes an exclusive
`fcntl.flock` on one lock file per config directory, re-reads the map it changes (so a
duplicate is caught even if another process added it a moment ago), appends one line,
fsyncs, and touches a dirty flag. It never runs postmap itself: that is the job of the
scheduler in `labkit.mail.postmapd`, which waits for a quiet period and then runs postmap
once per dirty map, so a burst of additions costs one rebuild instead of one per line.
"""
from __future__ import annotations

import fcntl
import os
import re
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from labkit.mail.errors import MailConfigError
from labkit.mail.mainconf import logical_lines

MAP_NAMES = ("vdomains", "vmbox", "valias")
LOCK_NAME = ".maps.lock"
DIRTY_DIR = ".dirty"

_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_LOCAL = re.compile(r"^[a-z0-9][a-z0-9._+-]{0,63}$")


@dataclass(frozen=True)
class Entry:
    key: str
    value: str
    line: int


def parse_map(text: str, source: str = "map") -> list[Entry]:
    """Parse postmap input: `key value`, '#' comments, whitespace-led continuation lines."""
    entries: list[Entry] = []
    for num, line, _ in logical_lines(text, source, "entry"):
        parts = line.split(None, 1)
        if len(parts) != 2:
            raise MailConfigError(source, num, f"entry {line.strip()!r} has a key but no value",
                                  "postmap needs two columns (the seed repeats the key)")
        entries.append(Entry(parts[0], parts[1].strip(), num))
    return entries


def read_map(path: Path) -> list[Entry]:
    path = Path(path)
    return parse_map(path.read_text(), str(path)) if path.exists() else []


def check_domain(domain: str) -> str:
    d = domain.strip().lower().rstrip(".")
    if not _DOMAIN.match(d):
        raise MailConfigError("", 0, f"bad domain {domain!r}",
                              "use letters, digits, '-' and dots, like exampledomain.ca")
    return d


def check_address(address: str) -> tuple[str, str]:
    """Return (local, domain) of a plain address; reject what would break a map line."""
    a = address.strip().lower()
    if a.count("@") != 1:
        raise MailConfigError("", 0, f"bad address {address!r}", "write local@domain")
    local, domain = a.split("@")
    if not _LOCAL.match(local):
        raise MailConfigError("", 0, f"bad address {address!r}",
                              "the local part may hold letters, digits and . _ + - (no spaces, no '#')")
    return local, check_domain(domain)


def mailbox_format(path: str) -> str:
    """What virtual(8) delivers for a vmbox value: a trailing '/' means a Maildir, none an
    mbox file (the seed: `admin/` is a Maildir, `test` an mbox)."""
    return "maildir" if path.endswith("/") else "mbox"


def mailbox_path(local: str, domain: str, fmt: str = "maildir") -> str:
    """The seed's layout of a new mailbox, `DOMAIN/LOCAL/` or `DOMAIN/LOCAL`, by format."""
    if fmt not in ("maildir", "mbox"):
        raise ValueError(f"mailbox format must be maildir or mbox, not {fmt!r}")
    return f"{domain}/{local}" + ("/" if fmt == "maildir" else "")


def check_mailbox_path(path: str) -> str:
    """Relative to virtual_mailbox_base; trailing '/' means Maildir, none means mbox."""
    if path.startswith("/") or ".." in Path(path).parts or any(c.isspace() for c in path):
        raise MailConfigError("", 0, f"bad mailbox path {path!r}",
                              "make it relative to virtual_mailbox_base, without '..' or spaces")
    return path


@contextmanager
def locked(conf_dir: Path) -> Iterator[None]:
    """Exclusive lock over all maps of one config directory (blocks until granted)."""
    fd = os.open(Path(conf_dir) / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def mark_dirty(conf_dir: Path, name: str) -> None:
    """Touch the flag; its content is when it first became dirty, its mtime the latest."""
    d = Path(conf_dir) / DIRTY_DIR
    d.mkdir(exist_ok=True)
    flag = d / name
    if not flag.exists():
        flag.write_text(f"{time.time():.6f}\n")
    os.utime(flag)


def dirty_maps(conf_dir: Path) -> list[Path]:
    d = Path(conf_dir) / DIRTY_DIR
    return sorted(d.iterdir()) if d.is_dir() else []


VMAIL_ID = 4000


def mailbox_base(conf_dir: Path) -> Path | None:
    """virtual_mailbox_base from conf/main.cf (None when there is no such setting)."""
    main = Path(conf_dir) / "main.cf"
    if not main.exists():
        return None
    for line in main.read_text().splitlines():
        if line.startswith("virtual_mailbox_base") and "=" in line:
            return Path(line.split("=", 1)[1].strip())
    return None


def ensure_mailbox_parent(conf_dir: Path, rel_path: str) -> None:
    """Create the directory that will hold a mailbox, owned by 4000:4000.

    virtual(8) creates a Maildir with all its parents, but for an mbox file it only
    creates the file: when `exampledomain.ca/` does not exist yet, delivery to
    `exampledomain.ca/test` is deferred ("unable to create lock file"), and retried only
    minutes later. The seed got away with it because admin/'s Maildir made the directory.
    """
    base = mailbox_base(conf_dir)
    if base is None or not base.is_dir():
        return
    parent = (base / rel_path.rstrip("/")).parent
    missing = []
    while parent != base and not parent.exists():
        missing.append(parent)
        parent = parent.parent
    for d in reversed(missing):
        d.mkdir(exist_ok=True)
        if os.geteuid() == 0:
            os.chown(d, VMAIL_ID, VMAIL_ID)


class FileMaps:
    """Add domains, mailboxes and aliases to the text maps of one config directory."""

    def __init__(self, conf_dir: Path):
        self.conf_dir = Path(conf_dir)

    def path(self, name: str) -> Path:
        return self.conf_dir / name

    def entries(self, name: str) -> list[Entry]:
        return read_map(self.path(name))

    def domains(self) -> set[str]:
        return {e.key.lower() for e in self.entries("vdomains")}

    def _append(self, name: str, key: str, value: str) -> bool:
        """Append under the lock; False if the same entry exists already (idempotent)."""
        with locked(self.conf_dir):
            current = {e.key.lower(): e for e in self.entries(name)}
            old = current.get(key)
            if old is not None:
                if old.value == value:
                    return False
                raise MailConfigError(self.path(name), old.line, f"{key} is already mapped to {old.value!r}",
                                      "edit that line to change it")
            if name != "vdomains":
                domain = key.rsplit("@", 1)[-1]
                if domain not in {e.key.lower() for e in self.entries("vdomains")}:
                    raise MailConfigError(
                        self.path("vdomains"), 0, f"domain {domain} is not listed, so Postfix "
                        f"would answer 'Relay access denied' for {key}", f"add-domain {domain} first")
            p = self.path(name)
            with open(p, "a+") as f:
                f.seek(0, os.SEEK_END)
                if f.tell() > 0:
                    f.seek(f.tell() - 1)
                    if f.read(1) != "\n":
                        f.write("\n")
                f.write(f"{key} {value}\n")
                f.flush()
                os.fsync(f.fileno())
            mark_dirty(self.conf_dir, name)
            return True

    def add_domain(self, domain: str) -> bool:
        d = check_domain(domain)
        return self._append("vdomains", d, d)

    def add_mailbox(self, address: str, path: str | None = None, mbox: bool = False) -> bool:
        local, domain = check_address(address)
        if path is None:
            path = mailbox_path(local, domain, "mbox" if mbox else "maildir")
        changed = self._append("vmbox", f"{local}@{domain}", check_mailbox_path(path))
        ensure_mailbox_parent(self.conf_dir, path)
        return changed

    def add_alias(self, address: str, target: str) -> bool:
        local, domain = check_address(address)
        targets = [t.strip() for t in target.split(",") if t.strip()]
        for t in targets:
            check_address(t)
        return self._append("valias", f"{local}@{domain}", ", ".join(targets))
