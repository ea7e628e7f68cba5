"""Can a student run labkit from this checkout? The hub's start-up check (and the hub test's).

A student's JupyterLab, kernel, `labkit` command and node.call's child in a lab node all run
the checkout's own interpreter (.venv/bin/python, which the machine-wide `labkit` kernel
names) as the student, and StudentLab reads the lab's topology from the broker's catalog
(the checkout's topologies/). So every directory on the way to the checkout must be
searchable by the students, and its files readable. A clone under /root (0700) is not.

    probe(user, checkout)      None if `user` can import labkit, ipykernel and jupyterhub with
                               the checkout's interpreter and read its catalog; else the error
    unsearchable(path)         the directories on the way to `path` that others cannot search
    advice(users, checkout)    what to do about it, with the exact commands
"""
from __future__ import annotations

import os
import pwd
import stat
import subprocess
from pathlib import Path

PROBE = ("import sys, labkit, ipykernel, jupyterhub, labkit.paths as p; "
         "open(p.topology('seed.yaml')).close(); print(sys.executable)")


def probe(user: str, checkout: Path, timeout: float = 120) -> str | None:
    """Run the checkout's interpreter as `user` on a short import and a read of the catalog;
    None if that worked. The uid, gid and groups are set before the exec, as JupyterHub's
    spawner sets them, so the exec itself is the student's (setpriv would still look the
    program up with root's capabilities)."""
    pw = pwd.getpwnam(user)
    python = checkout / ".venv" / "bin" / "python"
    env = {"PATH": "/usr/bin:/bin", "HOME": pw.pw_dir, "LANG": "C.UTF-8"}
    try:
        p = subprocess.run([str(python), "-c", PROBE], env=env, cwd="/", capture_output=True, text=True,
                           timeout=timeout, user=pw.pw_uid, group=pw.pw_gid,
                           extra_groups=os.getgrouplist(user, pw.pw_gid))
    except PermissionError as e:
        return f"{python} as {user}: {e.strerror}"
    except subprocess.TimeoutExpired:
        return f"{python} as {user}: no answer within {timeout:g} s"
    if p.returncode == 0:
        return None
    return f"{python} as {user} exited {p.returncode}: " + ((p.stderr or p.stdout).strip().splitlines() or [""])[-1]


def unsearchable(path: Path) -> list[Path]:
    """The directories from / down to `path` (itself included, if a directory) whose mode
    lets others not search them (no o+x). ACL entries are not read: a directory listed here
    may already let a named user through (setfacl -m u:NAME:x), which probe() would see."""
    path = path.resolve()
    out = []
    for d in [*reversed(path.parents), path]:
        if d.is_dir() and not d.stat().st_mode & stat.S_IXOTH:
            out.append(d)
    return out


def advice(users: list[str], checkout: Path) -> str:
    blocked = unsearchable(checkout)
    where = (", ".join(f"{d} ({stat.filemode(d.stat().st_mode)})" for d in blocked)
             if blocked else "no directory on the way is closed to others: check the files' modes")
    grants = ",".join(f"u:{u}:x" for u in users)
    lines = [f"the students cannot run labkit from {checkout}: on the way, {where}.",
             "Either clone labkit where every user can read it (under /srv or /opt) and run its set-up there,",
             "or let the students search (not list) those directories:"]
    lines += [f"    setfacl -m {grants} {d}" for d in blocked]
    return "\n".join(lines)
