"""Lab services: `postfix` on the EC2 node, `smtpsink` for the gmail/yahoo mail hosts.

Topology YAML (the config file's directory also holds the seed's vdomains/vmbox/valias):

    ec2:
      services:
        - {type: postfix, config: ec2/main.cf}            # backend: hash | sqlite
                                                          # compat: "3.6" (default) | "2.6"
    gmail:
      services:
        - {type: smtpsink, hostname: mx.gmail.com}

Postfix keeps the seed's `inet_interfaces = all` inside the node's namespace and finds
gmail.com / yahoo.com through MX records of the lab's DNS (DNS lookups stay on); the
node's resolver comes from /etc/netns/<netns>/resolv.conf, which the engine/DNS side
writes. No transport map is used here: that is for loopback tests only.

`compat: "2.6"` runs the seed as the author's Postfix 2.6 answered (mainconf.POSTFIX_26:
relay refused with 554 5.7.1, the host's whole subnet in mynetworks); the default "3.6"
is labkit's compatibility_level (454 4.7.1, only the host itself in mynetworks).
"""
from __future__ import annotations

from labkit.lab.errors import ServiceError
from labkit.lab.service import Service
from labkit.mail.errors import MailError
from labkit.mail.mainconf import COMPAT
from labkit.mail.postfix import PostfixConfig


class PostfixService(Service):
    """Postfix from the seed, run through `PostfixConfig` (render, dry run, argv,
    readiness), the same description as the loopback rig (labkit.mail.postfix)."""

    kind = "postfix"
    ports = [("tcp", 25)]
    order = 40  # after DNS servers (it needs MX lookups only when mail flows, though)

    @property
    def cfg(self) -> PostfixConfig:
        main_cf = self.config_path("config")
        return PostfixConfig(run_dir=self.run_dir / "postfix", seed_dir=main_cf.parent,
                             backend=str(self.params.get("backend", "hash")),
                             port=int(self.params.get("port", 25)),
                             myhostname=str(self.params.get("myhostname",
                                                            "mail.exampledomain.ca")),
                             extra=dict(COMPAT[str(self.params.get("compat", "3.6"))]))

    def render(self) -> None:
        try:
            self.cfg.render()
        except MailError as e:
            raise ServiceError(self, str(e)) from e

    def check(self) -> None:
        self.run_checked(self.cfg.check_command())

    def start(self) -> None:
        cfg = self.cfg
        self.spawn(cfg.start_command())
        # postfix-script execs master only as PID 1; elsewhere master is its child, so
        # record master's own PID too (SIGTERM to master stops the whole instance).
        try:
            self.record_pid(cfg.master_pid())
        except MailError as e:
            raise ServiceError(self, str(e), cfg.log_text()) from e
        if cfg.backend == "hash":
            self.spawn(cfg.postmapd_command(self.python, float(self.params.get("quiet", 0.3))))

    def ready(self) -> bool:
        """smtpd greets inside the node (PostfixConfig.ready, the rig's probe too)."""
        return self.cfg.ready(self.address() or "127.0.0.1", self.node.netns)

    @property
    def conf_dir(self):
        """For `labkit mail ...` / labkit.mail.admin: the directory to edit."""
        return self.cfg.conf_dir


class SinkService(Service):
    kind = "smtpsink"
    ports = [("tcp", 25)]
    # Same rank as Postfix: Postfix delivers only what is sent after bring-up, by which
    # time every rank is ready, so the sinks need no head start (one rank less to wait for).

    def start(self) -> None:
        listen = self.params.get("listen") or "0.0.0.0"
        port = int(self.params.get("port", 25))
        hostname = str(self.params.get("hostname", f"mx.{self.node.name}.example"))
        self.spawn([self.python, "-m", "labkit.mail.sink", "--listen", f"{listen}:{port}",
                    "--store", str(self.run_dir / "maildirs"), "--hostname", hostname])

    @property
    def store(self):
        return self.run_dir / "maildirs"
