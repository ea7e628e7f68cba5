"""labkit: the network of the dumais.io blog posts as labs that run and check themselves.

    import labkit
    with labkit.Lab.up("seed") as lab:
        print(lab.node("pc1").cmd("ping -c1 1.2.3.4"))
"""
from .lab import Lab, LabkitError, TopologyError, load

__all__ = ["Lab", "LabkitError", "TopologyError", "load"]
