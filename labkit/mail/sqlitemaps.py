"""The seed's "Database" automation: Postfix reads its maps from SQLite.

With `virtual_mailbox_maps = sqlite:RUN/conf/vmbox.cf`, Postfix runs the .cf file's
query on every lookup, so an INSERT is live for the next SMTP transaction: no lock
files, no postmap, no restart. SQLite serialises writers itself; `timeout` makes a
writer wait for the lock instead of failing, so concurrent additions lose nothing.

The DB stays in rollback-journal mode (not WAL) on purpose: WAL readers need write
access to the -shm file, and Postfix's readers run as the unprivileged `postfix` user.
"""
from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from labkit.mail.errors import MailConfigError
from labkit.mail.maps import (check_address, check_domain, check_mailbox_path,
                              ensure_mailbox_parent, mailbox_path, read_map)

DB_NAME = "maps.sqlite"

SCHEMA = """
CREATE TABLE IF NOT EXISTS domains  (domain  TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS mailboxes(address TEXT PRIMARY KEY, maildir TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS aliases  (address TEXT PRIMARY KEY, goto TEXT NOT NULL);
"""

# map name -> Postfix sqlite_table(5) query; Postfix quotes %s itself.
QUERIES = {
    "vdomains": "SELECT domain FROM domains WHERE domain='%s'",
    "vmbox": "SELECT maildir FROM mailboxes WHERE address='%s'",
    "valias": "SELECT goto FROM aliases WHERE address='%s'",
}


class SqliteMaps:
    def __init__(self, conf_dir: Path):
        self.conf_dir = Path(conf_dir)
        self.db = self.conf_dir / DB_NAME

    def connect(self) -> sqlite3.Connection:
        """Autocommit connection; `timeout` makes writers queue up instead of failing."""
        return sqlite3.connect(self.db, timeout=30, isolation_level=None)

    def query(self, sql: str, args: tuple = ()) -> list[tuple]:
        con = self.connect()
        try:
            return list(con.execute(sql, args))
        finally:
            con.close()

    def create(self) -> None:
        """Create the DB and the three .cf files Postfix reads (idempotent)."""
        con = self.connect()
        try:
            con.executescript(SCHEMA)
        finally:
            con.close()
        os.chmod(self.db, 0o644)
        for name, query in QUERIES.items():
            (self.conf_dir / f"{name}.cf").write_text(
                f"# Postfix sqlite_table(5) for {name}; written by labkit.mail.sqlitemaps\n"
                f"dbpath = {self.db}\nquery = {query}\n")

    def import_text_maps(self, src_dir: Path) -> None:
        """Load the seed's vdomains/vmbox/valias so both backends start from the same data."""
        for e in read_map(Path(src_dir) / "vdomains"):
            self.add_domain(e.key)
        for e in read_map(Path(src_dir) / "vmbox"):
            self.add_mailbox(e.key, e.value)
        for e in read_map(Path(src_dir) / "valias"):
            self.add_alias(e.key, e.value)

    def _insert(self, table: str, cols: tuple[str, ...], row: tuple,
                domain: str | None = None) -> bool:
        """Insert `row` unless its key (first column) exists; same row again is a no-op.

        One connection and one write transaction per addition: the domain check, the
        duplicate check and the INSERT cannot interleave with another writer."""
        con = self.connect()
        try:
            con.execute("BEGIN IMMEDIATE")
            if domain is not None and con.execute(
                    "SELECT 1 FROM domains WHERE domain = ?", (domain,)).fetchone() is None:
                con.execute("ROLLBACK")
                raise MailConfigError(self.db, 0, f"domain {domain} is not in table domains, "
                                      f"so Postfix would answer 'Relay access denied' for "
                                      f"{row[0]}", f"add-domain {domain} first")
            old = con.execute(f"SELECT {', '.join(cols)} FROM {table} WHERE {cols[0]} = ?",
                              (row[0],)).fetchone()
            if old is not None:
                con.execute("ROLLBACK")
                if tuple(old) == row:
                    return False
                raise MailConfigError(self.db, 0, f"{row[0]} is already in table {table} as "
                                      f"{tuple(old)!r}", "UPDATE that row to change it")
            con.execute(f"INSERT INTO {table}({', '.join(cols)}) VALUES "
                        f"({', '.join('?' * len(cols))})", row)
            con.execute("COMMIT")
            return True
        finally:
            con.close()

    def domains(self) -> set[str]:
        return {r[0] for r in self.query("SELECT domain FROM domains")}

    def add_domain(self, domain: str) -> bool:
        d = check_domain(domain)
        return self._insert("domains", ("domain",), (d,))

    def add_mailbox(self, address: str, path: str | None = None, mbox: bool = False) -> bool:
        local, domain = check_address(address)
        if path is None:
            path = mailbox_path(local, domain, "mbox" if mbox else "maildir")
        key = f"{local}@{domain}"
        ensure_mailbox_parent(self.conf_dir, check_mailbox_path(path))  # before it is live
        return self._insert("mailboxes", ("address", "maildir"), (key, path), domain)

    def add_alias(self, address: str, target: str) -> bool:
        local, domain = check_address(address)
        targets = [t.strip() for t in target.split(",") if t.strip()]
        for t in targets:
            check_address(t)
        key = f"{local}@{domain}"
        return self._insert("aliases", ("address", "goto"), (key, ", ".join(targets)), domain)

    def rows(self, table: str) -> list[tuple]:
        if table not in ("domains", "mailboxes", "aliases"):
            raise ValueError(table)
        return self.query(f"SELECT * FROM {table} ORDER BY 1")
