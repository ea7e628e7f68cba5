"""DNS for the seed lab: zone files and lint, labkit's authoritative server (same answers
as BIND 9.18), the BIND backend, the lab internet's root/TLD zones, the ISP resolver, the
EC2 security group, and scapy probes. See docs/notes/dns.md.

Submodules are imported on use (``from labkit.dns.lint import lint_zone``) so that
``labkit lint`` does not load the servers.
"""
