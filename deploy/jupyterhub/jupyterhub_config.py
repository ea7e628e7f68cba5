# JupyterHub for a labkit class on one server (issue 16). Start it as root from the checkout:
#
#     LABKIT_CLASS_LIST=class.txt ./run hub
#
# (./run hub is .venv/bin/jupyterhub -f deploy/jupyterhub/jupyterhub_config.py, after the set-up.)
#
# - Students log in with their Unix accounts and passwords (PAM, service "login"); only the
#   users named in LABKIT_CLASS_LIST may (one per line, `#` comments: the file `labkit class up
#   --config` takes), plus the teacher (LABKIT_TEACHER, default "teacher") as the hub's admin.
# - Each student's JupyterLab runs as that user (LocalProcessSpawner) on this checkout's
#   interpreter, with the machine-wide `labkit` kernel (./run setup points it at this checkout),
#   so `labkit.Lab.up("seed")` in a notebook and `labkit ...` in a terminal go through the lab
#   broker as that student. The hub refuses to start if a student cannot run that interpreter
#   (a clone under /root, say), with the commands that fix it (reach.py).
# - The lab broker is a managed service of the hub: started with it as root, restarted if it
#   dies, stopped with it. It listens on LABKIT_BROKER (default /run/labkit/broker.sock).
# - The proxy is Debian's node-configurable-http-proxy. The hub listens on 127.0.0.1 only
#   (LABKIT_HUB_PORT, default 8000): put the school's TLS proxy in front.
# - The hub's database and cookie secret live in LABKIT_HUB_STATE (default /var/lib/labkit/hub).
import os
import pwd
import sys
from pathlib import Path

c = get_config()  # noqa: F821 (JupyterHub provides it)

here = Path(__file__).resolve().parent
checkout = here.parents[1]
sys.path.insert(0, str(here))
import reach  # noqa: E402 (deploy/jupyterhub/reach.py, beside this file)

from labkit.procs import free_port  # noqa: E402

venv_bin = Path(sys.executable).parent          # the hub runs on the checkout's .venv
if venv_bin.parent.resolve() != (checkout / ".venv").resolve():
    sys.exit(f"labkit hub: start the hub with {checkout / '.venv/bin/jupyterhub'} (./run hub), "
             f"not {sys.executable}: the students' servers run on the checkout's environment")


def class_list() -> list[str]:
    path = Path(os.environ.get("LABKIT_CLASS_LIST", here / "class.txt"))
    if not path.is_file():
        sys.exit(f"labkit hub: no class list at {path}: set LABKIT_CLASS_LIST to a file of login "
                 "names, one per line")
    names, unknown = [], []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        name = line.split("#", 1)[0].strip()
        if not name:
            continue
        try:
            pwd.getpwnam(name)
        except KeyError:
            unknown.append(f"{path}:{n}: {name}")
        names.append(name)
    if unknown:
        sys.exit("labkit hub: no Unix account for " + "; ".join(unknown) + " (useradd NAME; passwd NAME)")
    return names


def kernel_is_this_checkouts() -> None:
    """The machine-wide labkit kernel names the interpreter of the checkout that last ran the
    set-up; the students' notebooks must run this one's."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
    try:
        argv0 = KernelSpecManager().get_kernel_spec("labkit").argv[0]
    except NoSuchKernel:
        sys.exit("labkit hub: no 'labkit' Jupyter kernel on this machine: run ./run setup")
    if Path(argv0) != venv_bin / "python":
        sys.exit(f"labkit hub: the machine-wide labkit kernel runs {argv0}, not this checkout's "
                 f"{venv_bin / 'python'}: run ./run setup from {checkout}")


students = class_list()
kernel_is_this_checkouts()
failed = [e for e in (reach.probe(s, checkout) for s in students) if e]
if failed:
    sys.exit("labkit hub: " + failed[0] + "\n" + reach.advice(students, checkout))

state = Path(os.environ.get("LABKIT_HUB_STATE", "/var/lib/labkit/hub"))
state.mkdir(parents=True, exist_ok=True)
state.chmod(0o700)
broker = os.environ.get("LABKIT_BROKER", "/run/labkit/broker.sock")
port = int(os.environ.get("LABKIT_HUB_PORT", "8000"))

c.JupyterHub.bind_url = f"http://127.0.0.1:{port}"
c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{free_port()}"      # the hub's own API, for the proxy
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{free_port()}"
# Debian's proxy finds its modules in /usr/share/nodejs, which Debian's nodejs searches by
# itself and another build (NodeSource's, say) does not.
c.ConfigurableHTTPProxy.command = ["env", "NODE_PATH=/usr/share/nodejs", "configurable-http-proxy"]
c.ConfigurableHTTPProxy.pid_file = str(state / "proxy.pid")
c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
c.JupyterHub.cleanup_servers = True      # stopping the hub stops every student's server
c.JupyterHub.cleanup_proxy = True

c.JupyterHub.authenticator_class = "pam"
c.Authenticator.allowed_users = set(students)
c.Authenticator.admin_users = {os.environ.get("LABKIT_TEACHER", "teacher")}

c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [str(venv_bin / "jupyterhub-singleuser")]
c.Spawner.args = ["--MultiKernelManager.default_kernel_name=labkit"]
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"
c.Spawner.environment = {          # JupyterHub passes no variable of its own on to a student
    "LABKIT_BROKER": broker,
    "PATH": f"{venv_bin}:/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
}
c.Spawner.start_timeout = 180      # a JupyterLab's first start on a loaded 2-core machine
c.Spawner.http_timeout = 180

c.JupyterHub.services = [{
    "name": "labkit-broker",
    "command": [sys.executable, "-P", "-m", "labkit.cli", "broker", "--socket", broker,
                "--labs", "2", "--nodes", "40"],
    "cwd": "/",                    # never a directory a student can write (the engine runs as root)
    "environment": {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"},
}]
