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

    def _insert(self, table: str, cols: tuple[str, ...], rows: list[tuple[tuple, str | None]]) -> int:
        """Insert each (row, its domain or None) unless the row's key (first column) exists;
        the same row again is a no-op. Returns how many rows were added.

        One connection and ONE write transaction for all of `rows`: the domain check, the
        duplicate checks and the INSERTs cannot interleave with another writer, and the
        commit (with its journal writes and fsyncs) is paid once, however many rows. A
        conflict rolls the whole batch back."""
        con = self.connect()
        try:
            con.execute("BEGIN IMMEDIATE")
            added = 0
            for row, domain in rows:
                self._check_row(con, table, cols, row, domain)
                if con.execute(f"SELECT 1 FROM {table} WHERE {cols[0]} = ?", (row[0],)).fetchone() is None:
                    con.execute(f"INSERT INTO {table}({', '.join(cols)}) VALUES "
                                f"({', '.join('?' * len(cols))})", row)
                    added += 1
            con.execute("COMMIT")
            return added
        except BaseException:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise
        finally:
            con.close()

    def _check_row(self, con: sqlite3.Connection, table: str, cols: tuple[str, ...], row: tuple,
                   domain: str | None) -> None:
        """MailConfigError if the row's domain is not in table domains, or its key is
        there already with another value."""
        if domain is not None and con.execute(
                "SELECT 1 FROM domains WHERE domain = ?", (domain,)).fetchone() is None:
            raise MailConfigError(self.db, 0, f"domain {domain} is not in table domains, "
                                  f"so Postfix would answer 'Relay access denied' for "
                                  f"{row[0]}", f"add-domain {domain} first")
        old = con.execute(f"SELECT {', '.join(cols)} FROM {table} WHERE {cols[0]} = ?",
                          (row[0],)).fetchone()
        if old is not None and tuple(old) != row:
            raise MailConfigError(self.db, 0, f"{row[0]} is already in table {table} as "
                                  f"{tuple(old)!r}", "UPDATE that row to change it")

    def domains(self) -> set[str]:
        return {r[0] for r in self.query("SELECT domain FROM domains")}

    def add_domain(self, domain: str) -> bool:
        d = check_domain(domain)
        return self._insert("domains", ("domain",), [((d,), None)]) == 1

    def add_mailbox(self, address: str, path: str | None = None, mbox: bool = False) -> bool:
        return self.add_mailboxes([address], mbox, path) == 1

    def add_mailboxes(self, addresses: list[str], mbox: bool = False, path: str | None = None) -> int:
        """Add mailboxes (each at the seed's layout, or at `path` for a single address) in
        one transaction: all live at the commit, or none if one conflicts. Returns how many
        were new."""
        if path is not None and len(addresses) != 1:
            raise ValueError("a path is for one address")
        rows = []
        for address in addresses:
            local, domain = check_address(address)
            box = path if path is not None else mailbox_path(local, domain, "mbox" if mbox else "maildir")
            ensure_mailbox_parent(self.conf_dir, check_mailbox_path(box))  # before it is live
            rows.append(((f"{local}@{domain}", box), domain))
        return self._insert("mailboxes", ("address", "maildir"), rows)

    def add_alias(self, address: str, target: str) -> bool:
        local, domain = check_address(address)
        targets = [t.strip() for t in target.split(",") if t.strip()]
        for t in targets:
            check_address(t)
        key = f"{local}@{domain}"
        return self._insert("aliases", ("address", "goto"), [((key, ", ".join(targets)), domain)]) == 1

    def rows(self, table: str) -> list[tuple]:
        if table not in ("domains", "mailboxes", "aliases"):
            raise ValueError(table)
        return self.query(f"SELECT * FROM {table} ORDER BY 1")
