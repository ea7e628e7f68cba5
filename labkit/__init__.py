"""labkit: the network of the dumais.io blog posts as labs that run and check themselves.

    import labkit
    with labkit.Lab.up("seed") as lab:
        print(lab.node("pc1").cmd("ping -c1 1.2.3.4"))

The names below are imported on first use, not with the package: every daemon a lab runs
(`python -m labkit.dns.serve`, ...) imports `labkit` first, and the engine it does not need
would cost each of them about 9 MB (a seed lab runs eleven).
"""
__all__ = ["Lab", "LabkitError", "TopologyError", "load"]


def __getattr__(name: str):
    if name not in __all__:
        raise AttributeError(f"module 'labkit' has no attribute {name!r}")
    import os

    from . import lab
    value = getattr(lab, name)
    if name == "Lab" and os.geteuid() != 0:     # a student on a class server: the same Lab, through the broker
        from .broker.server import SOCKET
        if SOCKET.exists():
            from .broker.student import StudentLab as value
    globals()[name] = value
    return value
