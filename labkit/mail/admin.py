"""The seed's automation section as an API and a CLI: add domains, mailboxes, aliases.

The backend is read from `labkit-maps.json` in the config directory (written at render):

* "hash":   text maps edited under an exclusive flock, postmap left to the scheduler
            (labkit.mail.postmapd), which batches a burst into one run per map;
* "sqlite": rows in maps.sqlite, which Postfix queries on every lookup: live at once.

    python -m labkit.mail.admin --conf RUN/conf add-domain example.net
    python -m labkit.mail.admin --conf RUN/conf add-mailbox bob@example.net [--mbox]
    python -m labkit.mail.admin --conf RUN/conf add-alias bob@example.net bob@gmail.com
    python -m labkit.mail.admin --conf RUN/conf list
    python -m labkit.mail.admin --conf RUN/conf postmap-now   (hash: rebuild dirty maps now)

The lead exposes the same commands as `labkit mail ...`.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from labkit.mail.errors import MailError
from labkit.mail.maps import MAP_NAMES, FileMaps, read_map
from labkit.mail.sqlitemaps import SqliteMaps


def backend_of(conf_dir: Path) -> str:
    p = Path(conf_dir) / "labkit-maps.json"
    if not p.exists():
        raise MailError(f"{p}: missing; this directory was not rendered by labkit.mail "
                        "(pass the conf/ directory of a Postfix run dir)")
    return json.loads(p.read_text())["backend"]


def open_maps(conf_dir: Path) -> FileMaps | SqliteMaps:
    """The right editor for this config directory."""
    return SqliteMaps(conf_dir) if backend_of(conf_dir) == "sqlite" else FileMaps(conf_dir)


def add_domain(conf_dir: Path, domain: str) -> bool:
    return open_maps(conf_dir).add_domain(domain)


def add_mailbox(conf_dir: Path, address: str, path: str | None = None,
                mbox: bool = False) -> bool:
    return open_maps(conf_dir).add_mailbox(address, path, mbox)


def add_alias(conf_dir: Path, address: str, target: str) -> bool:
    return open_maps(conf_dir).add_alias(address, target)


def listing(conf_dir: Path) -> dict[str, list[tuple[str, str]]]:
    m = open_maps(conf_dir)
    if isinstance(m, SqliteMaps):
        return {"vdomains": [(d, d) for (d,) in m.rows("domains")],
                "vmbox": m.rows("mailboxes"), "valias": m.rows("aliases")}
    return {n: [(e.key, e.value) for e in read_map(Path(conf_dir) / n)] for n in MAP_NAMES}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m labkit.mail.admin", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--conf", required=True, type=Path, help="RUN/conf of a Postfix instance")
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("add-domain")
    d.add_argument("domain")
    m = sub.add_parser("add-mailbox")
    m.add_argument("address")
    m.add_argument("--path", help="relative to virtual_mailbox_base; trailing / = Maildir")
    m.add_argument("--mbox", action="store_true", help="mbox file instead of Maildir")
    a = sub.add_parser("add-alias")
    a.add_argument("address")
    a.add_argument("target", help="address (or comma-separated addresses) to forward to")
    sub.add_parser("list")
    sub.add_parser("postmap-now")
    args = ap.parse_args(argv)
    try:
        if args.cmd == "add-domain":
            changed = add_domain(args.conf, args.domain)
        elif args.cmd == "add-mailbox":
            changed = add_mailbox(args.conf, args.address, args.path, args.mbox)
        elif args.cmd == "add-alias":
            changed = add_alias(args.conf, args.address, args.target)
        elif args.cmd == "list":
            for name, rows in listing(args.conf).items():
                for k, v in rows:
                    print(f"{name}\t{k}\t{v}")
            return 0
        else:
            from labkit.mail.postmapd import run_pending
            for rec in run_pending(args.conf):
                print(f"postmap {rec['map']}: {rec['wall_s'] * 1000:.1f} ms")
            return 0
    except MailError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print("added" if changed else "already present (nothing changed)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
