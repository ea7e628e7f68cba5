# JupyterHub for a labkit class on one server (issue 16). Start, as root, from the checkout:
#
#     sudo LABKIT_CLASS_LIST=class.txt .venv/bin/jupyterhub -f deploy/jupyterhub/jupyterhub_config.py
#
# - Students log in with their Unix accounts (PAM); only the users named in LABKIT_CLASS_LIST
#   (one per line, the same file `labkit class up --config` takes) may, plus the teacher.
# - Each student's JupyterLab runs as that user (LocalProcessSpawner), with the machine-wide
#   labkit kernel (./run setup installs it), so `labkit.Lab.up("seed")` and `labkit ...` in a
#   terminal go through the lab broker as that student.
# - The broker is a service the hub starts and restarts (as root, like the hub).
# - The proxy is Debian's node-configurable-http-proxy (apt install node-configurable-http-proxy).
# Written, not yet run on this machine: docs/notes/class.md says what is tested.
import os
import sys
from pathlib import Path

c = get_config()  # noqa: F821 (JupyterHub provides it)

here = Path(__file__).resolve().parent
checkout = here.parents[1]
class_list = Path(os.environ.get("LABKIT_CLASS_LIST", here / "class.txt"))
students = {line.split("#", 1)[0].strip() for line in class_list.read_text().splitlines()} - {""} \
    if class_list.is_file() else set()

c.JupyterHub.bind_url = "http://127.0.0.1:8000"          # put the school's TLS proxy in front
c.JupyterHub.authenticator_class = "pam"
c.Authenticator.allowed_users = students
c.Authenticator.admin_users = {os.environ.get("LABKIT_TEACHER", "teacher")}
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.default_url = "/lab"
c.Spawner.environment = {"LABKIT_BROKER": "/run/labkit/broker.sock"}
c.Spawner.notebook_dir = "~"
c.ConfigurableHTTPProxy.command = ["configurable-http-proxy"]
c.JupyterHub.services = [{
    "name": "labkit-broker",
    "command": [sys.executable, "-P", "-m", "labkit.cli", "broker", "--labs", "2", "--nodes", "40"],
    "cwd": "/",
}]
c.JupyterHub.cleanup_servers = True
