"""The lab engine: topology model and loader, Mininet builder, daemon lifecycle, cleanup."""
from .errors import LabkitError, ServiceError, TopologyError
from .loader import load
from .runtime import Lab, clean, down

__all__ = ["Lab", "LabkitError", "ServiceError", "TopologyError", "clean", "down", "load"]
