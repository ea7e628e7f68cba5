"""A class through JupyterHub (issue 16): two real students log in, each runs a notebook in
their own JupyterLab, and each sees only their own lab.

The users are made for the module (useradd with a password, homes under a temporary
directory) and removed after it. The hub is the real one, started as `./run hub` starts it
(deploy/jupyterhub/jupyterhub_config.py) on a free port of 127.0.0.1, with its managed lab
broker on a socket of its own (LABKIT_BROKER), so neither meets another test or a running
broker. The client does what a browser does, through the hub's REST API:

- log in with the login form (GET /hub/login for the _xsrf cookie, POST /hub/login with the
  Unix password: PAM), then ask for an API token with that session (POST
  /hub/api/users/NAME/tokens, X-XSRFToken); everything after uses the token;
- start the student's server (POST /hub/api/users/NAME/server) and wait until it is ready;
- upload deploy/jupyterhub/first-lab.ipynb (PUT api/contents), start a `labkit` kernel (POST
  api/kernels) and run the notebook's code cells one by one over the kernel's websocket
  channels (execute_request on shell, stream output and status on iopub), as JupyterLab does.

Both notebooks run interleaved cell by cell, so both labs are up when each student lists
theirs. Afterwards: servers stopped through the API, the hub stopped, and nothing left (no
lab, no namespace, no process the hub started, no process of the students). If a student
could not run the checkout's interpreter (a clone under /root), the test grants its two users
search permission on the closed directories (setfacl, what the hub's refusal asks a teacher
to do) and takes it back after. Needs root.
"""
from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import nbformat
import pytest
import requests
import websocket

from labkit.broker.identity import prefix
from labkit.lab.runtime import clean
from labkit.lab.state import LabState
from labkit.procs import OwnProcesses, Proc, free_port, stop, wait_until

from labtest import leftovers

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[1]
HUB_DIR = ROOT / "deploy" / "jupyterhub"
sys.path.insert(0, str(HUB_DIR))
import reach  # noqa: E402 (deploy/jupyterhub/reach.py: the hub's own start-up check)

USERS = ("lkhstua", "lkhstub")
CELL_TIMEOUT = 300          # a seed lab's bring-up on a loaded 2-core machine, with margin


def descendants(root: int) -> set[int]:
    """Every live process under `root` (children, theirs, ...), from /proc's parent links."""
    parent = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                parent[int(d.name)] = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError):
                continue
    found, todo = set(), [root]
    while todo:
        p = todo.pop()
        kids = [c for c, pp in parent.items() if pp == p and c not in found]
        found.update(kids)
        todo += kids
    return found


def uid_of(pid: int) -> int:
    return Path(f"/proc/{pid}").stat().st_uid


def environ_of(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace")
    return dict(e.split("=", 1) for e in raw.split("\0") if "=" in e)


def processes_of_users(uids: set[int]) -> list[str]:
    out = []
    for d in Path("/proc").iterdir():
        try:
            if d.name.isdigit() and d.stat().st_uid in uids:
                out.append(f"pid {d.name}: " + (d / "cmdline").read_bytes().replace(b"\0", b" ").decode()[:120])
        except OSError:
            continue
    return out


@pytest.fixture(scope="module")
def students():
    """{name: password} for two Unix users made here; afterwards their labs, search grants,
    accounts and homes are removed, and that is checked."""
    d = Path(tempfile.mkdtemp(prefix="labkit-hub-"))
    os.chmod(d, 0o755)
    made, granted, fenced = [], [], []       # fenced: users whose labs are this test's own
    passwords = {name: secrets.token_urlsafe(12) for name in USERS}
    try:
        for name in USERS:
            if subprocess.run(["id", name], capture_output=True).returncode == 0:
                pytest.fail(f"user {name} exists already (left by an earlier run?): userdel --remove {name}")
            subprocess.run(["useradd", "--create-home", "--home-dir", str(d / name), "--shell", "/bin/sh",
                            "--user-group", name], check=True, capture_output=True)
            made.append(name)
            subprocess.run(["chpasswd"], input=f"{name}:{passwords[name]}\n", text=True, check=True)
            pre = prefix(pwd.getpwnam(name).pw_uid)
            stale = [inst for inst in LabState.instances() if inst.startswith(pre)]
            if stale:     # a deleted account's labs, whose uid the new user got: not ours to remove
                pytest.fail(f"labs of an earlier user with uid {pwd.getpwnam(name).pw_uid} are up: {stale} "
                            f"(labkit clean --lab NAME)")
            fenced.append(name)
        if any(reach.probe(name, ROOT) for name in USERS):
            grants = ",".join(f"u:{name}:x" for name in USERS)
            for closed in reach.unsearchable(ROOT):
                subprocess.run(["setfacl", "-m", grants, str(closed)], check=True)
                granted.append(closed)
        failed = [e for e in (reach.probe(name, ROOT) for name in USERS) if e]
        assert not failed, failed[0] + "\n" + reach.advice(list(USERS), ROOT)
        yield d, passwords
    finally:
        for name in fenced:
            pre = prefix(pwd.getpwnam(name).pw_uid)
            for inst in LabState.instances():
                if inst.startswith(pre):
                    clean(force=True, instance=inst)
        for closed in granted:
            subprocess.run(["setfacl", "-x", ",".join(f"u:{name}" for name in USERS), str(closed)])
        for name in made:
            subprocess.run(["userdel", "--remove", name], capture_output=True)
        shutil.rmtree(d, ignore_errors=True)
    for name in made:
        assert subprocess.run(["id", name], capture_output=True).returncode != 0, f"user {name} is still there"


class Hub:
    """A client of the hub at `url`, as one student."""

    def __init__(self, url: str, name: str):
        self.url, self.name = url, name
        self.token = ""

    @property
    def auth(self) -> dict:
        return {"Authorization": f"token {self.token}"}

    def login(self, password: str) -> requests.Session:
        s = requests.Session()
        s.get(f"{self.url}/hub/login", timeout=30).raise_for_status()
        r = s.post(f"{self.url}/hub/login", allow_redirects=False, timeout=60,
                   data={"username": self.name, "password": password, "_xsrf": s.cookies.get("_xsrf")})
        assert r.status_code == 302, f"{self.name}: login answered {r.status_code}: {r.text[:300]}"
        return s

    def get_token(self, session: requests.Session) -> None:
        r = session.post(f"{self.url}/hub/api/users/{self.name}/tokens", json={"note": "test_hub_lab"},
                         headers={"X-XSRFToken": session.cookies.get("_xsrf", path="/hub/")}, timeout=30)
        assert r.status_code == 201, r.text
        self.token = r.json()["token"]

    def api(self, method: str, path: str, **kw) -> requests.Response:
        return requests.request(method, f"{self.url}{path}", headers=self.auth, timeout=60, **kw)

    def server(self) -> dict | None:
        r = self.api("GET", f"/hub/api/users/{self.name}")
        r.raise_for_status()
        return r.json().get("servers", {}).get("")

    def start(self) -> str:
        r = self.api("POST", f"/hub/api/users/{self.name}/server")
        assert r.status_code in (201, 202), r.text
        srv = wait_until(lambda: (s := self.server()) and s.get("ready") and s, 240, 0.5,
                         what=f"{self.name}'s server ready")
        return srv["url"]            # /user/NAME/

    def stop(self) -> None:
        r = self.api("DELETE", f"/hub/api/users/{self.name}/server")
        assert r.status_code in (202, 204), r.text
        wait_until(lambda: self.server() is None, 120, 0.5, what=f"{self.name}'s server stopped")


class Kernel:
    """A kernel of a student's server, driven over its websocket channels."""

    def __init__(self, hub: Hub, server: str):
        self.hub, self.server = hub, server
        r = hub.api("POST", f"{server}api/kernels", json={"name": "labkit"})
        assert r.status_code == 201, r.text
        self.id = r.json()["id"]
        ws_url = hub.url.replace("http://", "ws://") + f"{server}api/kernels/{self.id}/channels"
        self.ws = websocket.create_connection(ws_url, header=[f"Authorization: token {hub.token}"],
                                              timeout=CELL_TIMEOUT)
        self.session = uuid.uuid4().hex

    def run(self, code: str) -> str:
        """Execute one cell; its printed output. A cell that raises fails the test with its traceback."""
        msg_id = uuid.uuid4().hex
        self.ws.send(json.dumps({
            "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": self.hub.name,
                       "session": self.session, "version": "5.3"},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                        "allow_stdin": False, "stop_on_error": True}}))
        out, idle, reply = [], False, None
        while not (idle and reply):
            msg = json.loads(self.ws.recv())        # the socket's timeout bounds each wait
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                out.append(content["text"])
            elif kind == "error":
                pytest.fail(f"{self.hub.name}'s cell failed:\n{code}\n" + "\n".join(content["traceback"]))
            elif kind == "status" and content["execution_state"] == "idle":
                idle = True
            elif kind == "execute_reply":
                reply = content
        assert reply["status"] == "ok", reply
        return "".join(out)

    def pid(self) -> int:
        """The kernel's process: the one started on this kernel's connection file."""
        mark = f"kernel-{self.id}.json"
        pids = [p for p in Path("/proc").iterdir() if p.name.isdigit() and mark in _cmdline(p)]
        assert len(pids) == 1, pids
        return int(pids[0].name)

    def shutdown(self) -> None:
        self.ws.close()
        r = self.hub.api("DELETE", f"{self.server}api/kernels/{self.id}")
        assert r.status_code == 204, r.text


def _cmdline(p: Path) -> str:
    try:
        return (p / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def lines_after(label: str, text: str) -> str:
    return next(line[len(label):].strip() for line in text.splitlines() if line.startswith(label))


def test_two_students_each_run_a_notebook_on_their_own_lab_through_the_hub(students):
    base, passwords = students
    uids = {name: pwd.getpwnam(name).pw_uid for name in USERS}
    own = {name: prefix(uid) for name, uid in uids.items()}
    (base / "class.txt").write_text("# test_hub_lab's class\n" + "\n".join(USERS) + "\n")
    port = free_port()
    broker = base / "broker.sock"
    env = {**os.environ, "LABKIT_CLASS_LIST": str(base / "class.txt"), "LABKIT_HUB_STATE": str(base / "hub"),
           "LABKIT_HUB_PORT": str(port), "LABKIT_BROKER": str(broker), "LABKIT_TEACHER": "lkhteacher",
           "PATH": f"{ROOT / '.venv/bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}"}
    url = f"http://127.0.0.1:{port}"
    seen: dict[int, Proc] = {}      # every process the hub started, by PID and start time

    def record(hub_pid: int) -> None:
        for pid in descendants(hub_pid):
            if pid not in seen and (p := Proc.of(pid, _cmdline(Path(f"/proc/{pid}"))[:100])):
                seen[pid] = p

    def hub_answers() -> bool:
        try:
            return requests.get(f"{url}/hub/api/", timeout=5).status_code == 200
        except requests.ConnectionError:
            return False

    procs = OwnProcesses()
    try:
        with procs:          # leaving it stops the hub first, which stops what it started
            hub = procs.spawn([str(ROOT / ".venv/bin/jupyterhub"), "-f", str(HUB_DIR / "jupyterhub_config.py")],
                              log=base / "hub.log", env=env, cwd=base)
            wait_until(lambda: hub.poll() is not None or hub_answers(), 120, 0.2, what="the hub's API")
            assert hub.poll() is None, (base / "hub.log").read_text()[-3000:]
            wait_until(broker.exists, 60, 0.1, what="the hub's lab broker's socket")
            record(hub.pid)
            proxy = [p for p in seen.values() if "configurable-http-proxy" in p.what]
            brokers = [p for p in seen.values() if "labkit.cli broker" in p.what]
            assert len(proxy) == 1 and len(brokers) == 1, seen                # both started by the hub
            assert uid_of(brokers[0].pid) == 0 and str(broker) in _cmdline(Path(f"/proc/{brokers[0].pid}"))
            listening = subprocess.run(["ss", "-Hltnp"], capture_output=True, text=True).stdout
            ours = [line.split()[3] for line in listening.splitlines()
                    if any(f"pid={p.pid}," in line for p in seen.values()) or f"pid={hub.pid}," in line]
            assert ours and all(a.startswith("127.0.0.1:") for a in ours), ours    # loopback only

            clients = {name: Hub(url, name) for name in USERS}
            bad = requests.Session()
            bad.get(f"{url}/hub/login", timeout=30)
            r = bad.post(f"{url}/hub/login", allow_redirects=False, timeout=60,
                         data={"username": USERS[0], "password": "not-" + passwords[USERS[0]],
                               "_xsrf": bad.cookies.get("_xsrf")})
            assert r.status_code != 302 and "Invalid username or password" in r.text    # PAM said no
            for name, c in clients.items():
                c.get_token(c.login(passwords[name]))
            servers = {name: c.start() for name, c in clients.items()}
            record(hub.pid)

            cells = {}
            for name, c in clients.items():
                nb = nbformat.read(HUB_DIR / "first-lab.ipynb", as_version=4)
                r = c.api("PUT", f"{servers[name]}api/contents/first-lab.ipynb",
                          json={"type": "notebook", "format": "json", "content": nb})
                assert r.status_code in (200, 201), r.text
                saved = pwd.getpwnam(name).pw_dir + "/first-lab.ipynb"
                assert os.stat(saved).st_uid == uids[name]         # written by the student's own server
                got = c.api("GET", f"{servers[name]}api/contents/first-lab.ipynb").json()["content"]
                cells[name] = ["".join(cell["source"]) for cell in got["cells"] if cell["cell_type"] == "code"]
            kernels = {name: Kernel(c, servers[name]) for name, c in clients.items()}
            record(hub.pid)
            for name, k in kernels.items():     # server and kernel run as the student
                assert uid_of(k.pid()) == uids[name]
            servers_as = {environ_of(p.pid).get("JUPYTERHUB_USER"): uid_of(p.pid)
                          for p in seen.values() if "jupyterhub-singleuser" in p.what}
            assert servers_as == uids, servers_as

            out = {name: [] for name in USERS}
            for i in range(max(len(c) for c in cells.values())):      # interleaved: both labs up at once
                for name, k in kernels.items():
                    out[name].append(k.run(cells[name][i]))
            record(hub.pid)

            for name in USERS:
                other = next(n for n in USERS if n != name)
                first, ping, status, last = out[name]
                assert lines_after("api:", first) == "labkit.broker.student StudentLab", first
                assert lines_after("lab:", first) == f"StudentLab {own[name]}seed", first
                assert lines_after("uid:", first) == str(uids[name]), first
                assert " 1 received" in lines_after("ping:", ping), ping
                mine = f"lab seed (up, instance {own[name]}seed)"
                assert mine in status, status                                    # their own lab...
                assert own[other] not in status and "(up" not in status.replace(mine, ""), \
                    status                                                       # ...and nobody else's
                assert lines_after("down:", last) == "[]", last
                assert "no lab is up" in last, last

            for name, k in kernels.items():
                k.shutdown()
            for c in clients.values():
                c.stop()
            procs.stop(grace=60)         # SIGTERM: the hub stops its proxy and its broker itself
            assert hub.returncode is not None
            wait_until(lambda: not [p for p in seen.values() if p.alive()], 60, 0.2,
                       what="every process the hub started gone")
            assert processes_of_users(set(uids.values())) == []
            for name in USERS:
                assert leftovers(own[name] + "seed") == []
    finally:      # what the hub left running (a failed test), by the records taken above only
        stop([p for p in seen.values() if p.alive()], grace=5)


def test_a_checkout_students_cannot_reach_is_named_with_its_fix(students):
    """The hub's start-up check (reach.py) on a checkout behind a directory others cannot
    search (a clone under /root): the student's interpreter fails, the advice names that
    directory, and the grant it prints is enough."""
    base, _ = students
    closed = base / "closed"
    venv = closed / "labkit" / ".venv"
    (venv / "bin").mkdir(parents=True)
    closed.chmod(0o700)
    shutil.copy(ROOT / ".venv" / "pyvenv.cfg", venv / "pyvenv.cfg")    # this checkout's environment,
    (venv / "lib").symlink_to(ROOT / ".venv" / "lib")                    # seen from behind `closed`
    (venv / "bin" / "python").symlink_to(os.path.realpath(ROOT / ".venv" / "bin" / "python"))
    checkout = closed / "labkit"
    assert reach.probe("root", checkout) is None          # it works for whoever can get there
    err = reach.probe(USERS[0], checkout)
    assert err and "Permission denied" in err, err
    assert reach.unsearchable(checkout) == [closed]
    advice = reach.advice(list(USERS), checkout)
    grant = f"setfacl -m u:{USERS[0]}:x,u:{USERS[1]}:x {closed}"
    assert f"{closed} (drwx------)" in advice and grant in advice, advice
    subprocess.run(grant.split(), check=True)
    assert [reach.probe(name, checkout) for name in USERS] == [None, None]


def test_the_hub_refuses_a_class_list_naming_no_account(students):
    base, _ = students
    (base / "bad-class.txt").write_text(f"{USERS[0]}\nlkhnobody  # not made\n")
    env = {**os.environ, "LABKIT_CLASS_LIST": str(base / "bad-class.txt"), "LABKIT_HUB_STATE": str(base / "bad-hub"),
           "LABKIT_HUB_PORT": str(free_port()), "LABKIT_BROKER": str(base / "bad-broker.sock")}
    p = subprocess.run([str(ROOT / ".venv/bin/jupyterhub"), "-f", str(HUB_DIR / "jupyterhub_config.py")], env=env,
                       cwd=base, capture_output=True, text=True, timeout=120)
    assert p.returncode != 0
    assert f"no Unix account for {base / 'bad-class.txt'}:2: lkhnobody" in p.stdout + p.stderr, p.stderr[-2000:]
    assert not (base / "bad-broker.sock").exists()      # refused before anything started
