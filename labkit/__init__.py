"""labkit: the network of the dumais.io blog posts as labs that run and check themselves.

    import labkit
    with labkit.Lab.up("seed") as lab:
        print(lab.node("pc1").cmd("ping -c1 1.2.3.4"))
"""
import os as _os

from .lab import Lab, LabkitError, TopologyError, load

if _os.geteuid() != 0:              # a student on a class server: the same Lab, through the broker
    from .broker.server import SOCKET as _SOCKET
    if _SOCKET.exists():
        from .broker.student import StudentLab as Lab   # noqa: F811

__all__ = ["Lab", "LabkitError", "TopologyError", "load"]
