"""scapy probes shared by notebooks and tests. Each runs inside a lab node (LabNode.call)."""
