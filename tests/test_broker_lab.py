"""The lab broker with two real Unix users (issue 16): each brings up, uses and tears down
labs of its own through `labkit` as itself, and can do nothing to the other's.

The users are made for the module (useradd, homes under a temporary directory) and removed
after it with their homes; the broker runs as root on a socket of its own (LABKIT_BROKER),
with a quota of one lab per user, started in a directory a student could have filled: a
`labkit` package that would run as root if imported, and a file named `seed`. Neither may
be used. Needs root.
"""
from __future__ import annotations

import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from labkit.broker.identity import prefix
from labkit.lab import Lab
from labkit.lab.runtime import clean
from labkit.lab.state import LabState
from labkit.procs import OwnProcesses, wait_until

from labtest import leftovers

pytestmark = pytest.mark.lab

USERS = ("lkbstua", "lkbstub")


@pytest.fixture(scope="module")
def base():
    d = Path(tempfile.mkdtemp(prefix="labkit-broker-"))
    os.chmod(d, 0o755)
    made = []
    try:
        for name in USERS:
            if subprocess.run(["id", name], capture_output=True).returncode != 0:
                subprocess.run(["useradd", "--create-home", "--home-dir", str(d / name), "--shell", "/bin/sh",
                                "--user-group", name], check=True, capture_output=True)
                made.append(name)
        sock = d / "broker.sock"
        planted = d / "planted"
        (planted / "labkit").mkdir(parents=True)
        (planted / "labkit" / "__init__.py").write_text(f"open({str(d / 'PWNED')!r}, 'w').close()\n")
        (planted / "labkit" / "cli.py").write_text("")
        (planted / "seed").write_text("nodes: {}\n")
        env = {**os.environ, "LABKIT_BROKER": str(sock)}
        with OwnProcesses() as own:
            own.spawn([sys.executable, "-P", "-m", "labkit.cli", "broker", "--labs", "1"], log=d / "broker.log",
                      env=env, cwd=planted)
            wait_until(sock.exists, 30, 0.05, what="the broker's socket")
            yield sock
        assert not sock.exists(), "a broker stopped with SIGTERM leaves its socket behind"
        assert "labkit broker: stopped" in (d / "broker.log").read_text()
        assert not (d / "PWNED").exists(), "the broker ran code from its working directory as root"
    finally:
        for name in USERS:      # whatever a test left: every lab under the users' prefixes
            try:
                pre = prefix(pwd.getpwnam(name).pw_uid)
            except KeyError:
                continue
            for inst in LabState.instances():
                if inst.startswith(pre):
                    clean(force=True, instance=inst)
        for name in made:
            subprocess.run(["userdel", "--remove", name], capture_output=True)
        shutil.rmtree(d, ignore_errors=True)


def as_user(sock: Path, user: str, *args: str) -> subprocess.CompletedProcess:
    """`labkit ARGS` run as `user`, as a student's shell would."""
    pw = pwd.getpwnam(user)
    env = {"PATH": "/usr/bin:/bin", "HOME": pw.pw_dir, "LABKIT_BROKER": str(sock), "LANG": "C.UTF-8",
           **({"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {})}
    return subprocess.run(["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--init-groups",
                           sys.executable, "-m", "labkit.cli", *args], env=env, cwd=pw.pw_dir,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def a_lab(base):
    p = as_user(base, "lkbstua", "up", "seed")
    assert p.returncode == 0, p.stdout + p.stderr
    yield base
    p = as_user(base, "lkbstua", "down", "--lab", "seed")
    assert p.returncode == 0, p.stdout + p.stderr
    assert leftovers(prefix(pwd.getpwnam("lkbstua").pw_uid) + "seed") == []


def test_a_student_uses_and_checks_a_lab_of_their_own_as_themselves(a_lab):
    a = pwd.getpwnam("lkbstua")
    st = as_user(a_lab, "lkbstua", "status")
    assert f"lab seed (up, instance {prefix(a.pw_uid)}seed) from" in st.stdout, st.stdout + st.stderr
    own = json.loads(as_user(a_lab, "lkbstua", "status", "--json", "--lab", f"{prefix(a.pw_uid)}seed").stdout)
    assert [lab["instance"] for lab in own] == [f"{prefix(a.pw_uid)}seed"]     # the full name works too
    who = as_user(a_lab, "lkbstua", "exec", "--lab", "seed", "pc1", "--", "id", "-u")
    assert (who.returncode, who.stdout.strip()) == (0, str(a.pw_uid)), who.stderr
    ping = as_user(a_lab, "lkbstua", "exec", "--lab", "seed", "pc1", "--", "ping", "-n", "-c1", "-W2", "192.168.1.1")
    assert ping.returncode == 0, ping.stdout + ping.stderr      # raw sockets: CAP_NET_RAW, as the student
    ck = as_user(a_lab, "lkbstua", "check", "--lab", "seed")
    assert ck.returncode == 0 and "checks passed" in ck.stdout, ck.stdout + ck.stderr


def test_a_nodes_shell_has_the_students_rights_and_raw_sockets_only(a_lab):
    def run(*argv: str) -> subprocess.CompletedProcess:
        return as_user(a_lab, "lkbstua", "exec", "--lab", "seed", "pc1", "--", *argv)

    caps = run("grep", "^Cap", "/proc/self/status").stdout
    assert "CapEff:\t0000000000002000" in caps and "CapBnd:\t0000000000002000" in caps, caps   # cap_net_raw alone
    assert run("sh", "-c", "echo x > /etc/labkit-broker-test").returncode != 0
    assert run("touch", "/root/labkit-broker-test").returncode != 0
    out = run("ip", "link", "add", "lkb0", "type", "veth", "peer", "name", "lkb1", "netns", "1")
    assert out.returncode != 0 and "Operation not permitted" in out.stderr, out.stderr   # no way into the root namespace
    assert subprocess.run(["ip", "link", "show", "lkb1"], capture_output=True).returncode != 0
    dump = run("sh", "-c", "tcpdump -n -c1 -i lo icmp 2>/dev/null & t=$!; ping -c50 -i0.2 -q 127.0.0.1 >/dev/null & "
                           "p=$!; wait $t; kill $p")           # a capture in one's own node: yes
    assert "ICMP echo" in dump.stdout, dump.stdout + dump.stderr
    home = pwd.getpwnam("lkbstua").pw_dir
    assert run("touch", f"{home}/made-in-pc1").returncode == 0      # the student's own files: yes
    assert Path(home, "made-in-pc1").stat().st_uid == pwd.getpwnam("lkbstua").pw_uid


def as_user_python(sock: Path, user: str, code: str) -> subprocess.CompletedProcess:
    pw = pwd.getpwnam(user)
    env = {"PATH": "/usr/bin:/bin", "HOME": pw.pw_dir, "LABKIT_BROKER": str(sock), "LANG": "C.UTF-8",
           **({"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {})}
    return subprocess.run(["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--init-groups",
                           sys.executable, "-c", code], env=env, cwd=pw.pw_dir, capture_output=True, text=True,
                          timeout=300)


def test_the_python_api_is_the_same_for_a_student(a_lab):
    """labkit.Lab in a student's process: attach, cmd, call (a pickled probe, unpickled by the
    student's own child in the node), check, as a notebook would."""
    p = as_user_python(a_lab, "lkbstua", "\n".join([
        "import labkit",
        "lab = labkit.Lab.attach('seed')",
        "print(type(lab).__name__, lab.instance)",
        "print(lab.node('pc1').cmd('id -u').strip())",
        "print(lab.node('pc1').call('labkit.probes.icmp:ping', '192.168.1.1', count=1)['received'])",
        "print(lab.check().ok)"]))
    a = pwd.getpwnam("lkbstua")
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.splitlines() == [f"StudentLab {prefix(a.pw_uid)}seed", str(a.pw_uid), "1", "True"], p.stdout


def test_exec_passes_the_students_own_stdin(a_lab):
    pw = pwd.getpwnam("lkbstua")
    env = {"PATH": "/usr/bin:/bin", "HOME": pw.pw_dir, "LABKIT_BROKER": str(a_lab), "LANG": "C.UTF-8",
           **({"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {})}
    p = subprocess.run(["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--init-groups",
                        sys.executable, "-m", "labkit.cli", "exec", "--lab", "seed", "pc1", "--", "tr", "a-z", "A-Z"],
                       input="hello\n", env=env, cwd=pw.pw_dir, capture_output=True, text=True, timeout=60)
    assert (p.returncode, p.stdout) == (0, "HELLO\n"), p.stderr


def test_another_student_can_neither_see_nor_touch_the_lab(a_lab):
    a_inst = prefix(pwd.getpwnam("lkbstua").pw_uid) + "seed"
    st = as_user(a_lab, "lkbstub", "status")
    assert st.returncode == 0 and a_inst not in st.stdout and "no lab is up" in st.stdout, st.stdout
    st = as_user(a_lab, "lkbstub", "status", "--lab", a_inst)
    assert st.returncode == 2 and "lkbstub: you have no lab" in st.stderr, st.stdout + st.stderr
    for args in (("down", "--lab", "seed"), ("check", "--lab", "seed"), ("exec", "--lab", "seed", "pc1", "--", "id"),
                 ("down", "--lab", a_inst), ("exec", "--lab", a_inst, "pc1", "--", "id")):
        p = as_user(a_lab, "lkbstub", *args)
        assert p.returncode == 2 and "lkbstub: you have no lab" in p.stderr, (args, p.stdout, p.stderr)
    for args in (("capture", "--lab", a_inst, "pc1", "--count", "1"), ("link", "--lab", a_inst, "pc1", "sw3550", "down"),
                 ("clean", "--lab", a_inst), ("grade", "x.ipynb")):    # what the broker does not serve: refused here
        p = as_user(a_lab, "lkbstub", *args)
        assert p.returncode == 2 and f"labkit {args[0]} needs root (through the lab broker you have" in p.stderr, p.stderr
    p = as_user_python(a_lab, "lkbstub", "\n".join([          # nor read A's record, nor list labs or namespaces
        "import os, labkit",
        "from labkit.lab.state import RUN_ROOT",
        f"for what in (lambda: os.listdir(RUN_ROOT), lambda: open(RUN_ROOT / {a_inst!r} / 'state.json').read(),",
        "             lambda: os.listdir('/run/netns'), lambda: labkit.Lab.attach('seed')):",
        "    try:",
        "        print('got', what())",
        "    except (OSError, labkit.LabkitError) as e:",
        "        print('refused', e)"]))
    lines = p.stdout.splitlines()
    assert len(lines) == 4 and all(line.startswith("refused") for line in lines), p.stdout + p.stderr
    assert "Permission denied" in lines[0] and "Permission denied" in lines[1] and "Permission denied" in lines[2]
    assert "lkbstub: you have no lab 'seed'" in lines[3], lines[3]
    assert Lab.attach(a_inst).state.status == "up"       # nothing of A's was touched


def test_labs_side_by_side_do_not_reach_each_other(a_lab):
    """B's own seed lab has the same addresses as A's; A's pings to 192.168.1.20 stay in A's."""
    up = as_user(a_lab, "lkbstub", "up", "seed")
    assert up.returncode == 0, up.stdout + up.stderr
    try:
        b_lab = Lab.attach(prefix(pwd.getpwnam("lkbstub").pw_uid) + "seed")
        with b_lab.node("pc2").capturing("eth0", bpf="icmp") as cap:
            p = as_user(a_lab, "lkbstua", "exec", "--lab", "seed", "pc1", "--", "ping", "-n", "-c3", "-i0.2",
                        "192.168.1.20")
        assert p.returncode == 0, p.stdout + p.stderr        # A's own pc2 answered...
        assert list(cap.packets) == []                       # ...and B's saw none of it
    finally:
        down = as_user(a_lab, "lkbstub", "down", "--lab", "seed")
    assert down.returncode == 0, down.stdout + down.stderr


def test_the_quota_and_bad_requests_are_refused_with_a_clear_message(a_lab):
    p = as_user(a_lab, "lkbstua", "up", "campus-trunk", "--lab", "second")
    assert p.returncode == 2 and "lkbstua: quota reached: 1 labs up (seed), at most 1 per user" in p.stderr, p.stderr
    assert "take one down first (labkit down --lab NAME)" in p.stderr, p.stderr
    p = as_user(a_lab, "lkbstua", "up", "/tmp/evil.yaml")
    assert p.returncode == 2 and "a topology's name from the catalog" in p.stderr, p.stderr
    p = as_user(a_lab, "lkbstua", "up", "nosuchtopo", "--lab", "x")
    assert p.returncode == 2 and "no topology file" in p.stderr and "nosuchtopo.yaml" in p.stderr, p.stderr
    assert "pick one of:" in p.stderr and "seed" in p.stderr, p.stderr


def test_a_lab_whose_kernel_is_killed_is_reaped_by_the_broker(base, tmp_path):
    """Lab.up in a student's process (a notebook kernel) makes a lab that process owns: killed
    with SIGKILL, it cannot tear the lab down, and the broker's reaper removes it."""
    pw = pwd.getpwnam("lkbstub")
    inst = prefix(pw.pw_uid) + "kern"
    env = {"PATH": "/usr/bin:/bin", "HOME": pw.pw_dir, "LABKIT_BROKER": str(base), "LANG": "C.UTF-8",
           **({"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {})}
    code = ("import sys, labkit\nlab = labkit.Lab.up('seed', name='kern')\n"
            "print('up', lab.instance, flush=True)\nsys.stdin.read()\n")
    log = tmp_path / "kernel.log"
    with OwnProcesses() as own:
        kernel = own.spawn(["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--init-groups",
                            sys.executable, "-c", code], log=log, env=env, cwd=pw.pw_dir, stdin=subprocess.PIPE)
        wait_until(lambda: f"up {inst}" in log.read_text() or kernel.poll() is not None, 180, 0.2,
                   what="the student's Lab.up")
        assert f"up {inst}" in log.read_text(), log.read_text()
        state = LabState.load(inst)
        assert (state.owner_pid, state.keep) == (kernel.pid, False)      # the kernel owns it
        kernel.kill()
        kernel.wait(10)
    wait_until(lambda: LabState.load(inst) is None, 60, 0.2, what="the broker's reaper")
    assert leftovers(inst) == []


def test_a_command_that_leaves_the_lab_is_still_ended_by_down(base):
    """A student's command may start a new session and a network namespace of its own
    (setsid, unshare -Un): out of the lab's process group and namespaces, where neither the
    PID record nor the namespace sweep finds it. The lab's cgroup does: down ends it. The
    command also runs under the broker's process limit."""
    from labkit.lab import cgroup
    from labkit.procs import start_time

    pw = pwd.getpwnam("lkbstub")
    inst = prefix(pw.pw_uid) + "esc"
    up = as_user(base, "lkbstub", "up", "seed", "--lab", "esc")
    assert up.returncode == 0, up.stdout + up.stderr
    try:
        limit = as_user(base, "lkbstub", "exec", "--lab", "esc", "pc1", "--", "bash", "-c", "ulimit -u")
        assert limit.stdout.strip() == "512", limit.stdout + limit.stderr
        esc = as_user(base, "lkbstub", "exec", "--lab", "esc", "pc1", "--", "sh", "-c",
                      "setsid -f unshare -Un sleep 600 </dev/null >/dev/null 2>&1")
        assert esc.returncode == 0, esc.stderr
        lab_net = os.stat(f"/run/netns/lk-{inst}-pc1").st_ino
        escaped = wait_until(lambda: [pid for pid in cgroup.members(inst)
                                      if os.stat(f"/proc/{pid}/ns/net").st_ino != lab_net], 10, 0.05,
                             what="the escaped sleep")
        starts = {pid: start_time(pid) for pid in escaped}
    finally:
        down = as_user(base, "lkbstub", "down", "--lab", "esc")
    assert down.returncode == 0, down.stdout + down.stderr
    assert all(start_time(pid) != t for pid, t in starts.items()), "down left the escaped command running"
    assert not cgroup.path(inst).exists() and leftovers(inst) == []


def test_a_silent_client_is_let_go_and_the_broker_serves_on(base):
    """A connection that never sends anything is dropped after the broker's I/O timeout;
    meanwhile, and after, others are served."""
    from labkit.broker.server import IO_TIMEOUT

    silent = [socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) for _ in range(8)]
    try:
        for s in silent:
            s.connect(str(base))
        assert as_user(base, "lkbstub", "status").returncode == 0
        silent[0].settimeout(IO_TIMEOUT + 10)
        reply = json.loads(silent[0].makefile().readline())      # the request timed out: refused
        assert "error" in reply
    finally:
        for s in silent:
            s.close()
    assert as_user(base, "lkbstub", "status").returncode == 0


def test_a_malformed_request_gets_an_error_and_the_connection_ends(base):
    for raw in (b"\xff\xfe", b'{"op": "up"}', b'{"op": "exec", "name": "seed", "node": "pc1", "argv": "id"}',
                b"x" * 70000):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(str(base))
            try:
                s.sendall(raw)
                s.shutdown(socket.SHUT_WR)
            except BrokenPipeError:      # the broker stopped reading past its limit and answered
                pass
            reply = json.loads(s.makefile().readline())
        assert list(reply) == ["error"] and reply["error"], raw[:40]
