"""labkit.ios: the Cisco IOS subset of the seed's home network, run on Linux.

    cfg = labkit.ios.load("topologies/sw3550.ios")      # parse; IosConfigError lists every error
    labkit.ios.interface_plan(cfg)                       # for the builder: Linux names, kinds, VLANs
    t = labkit.ios.translate(cfg, run_dir, wan={...})    # ip/sysctl steps, nft ruleset, dnsmasq
    labkit.ios.show_ip_route(node.cmd)                   # IOS-looking show output from live state

See docs/notes/ios.md for the decisions behind each translation.
"""
from . import show
from .errors import IosConfigError, ios_error, ios_warning
from .model import IosConfig
from .names import ios_name, linux_name, parse_ifname
from .parser import load, parse
from .translate import PortInfo, Translation, bridge_vlans, interface_plan, port_info, translate

__all__ = ["show", "IosConfigError", "ios_error", "ios_warning", "IosConfig", "ios_name",
           "linux_name", "parse_ifname", "load", "parse", "PortInfo", "Translation", "bridge_vlans",
           "interface_plan", "port_info", "translate"]
