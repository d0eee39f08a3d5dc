"""A network-namespace lab: one LMA, two MAGs, two mobile nodes and a correspondent node."""
from .topology import DEFAULT_PREFIX, Host, LabError, Topology

__all__ = ["DEFAULT_PREFIX", "Host", "LabError", "Topology"]
