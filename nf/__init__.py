"""dmm-nf: the mobility network function (signalling, state, data plane). Imports nothing from mgmt/ or exporters/."""

VERSION = "0.1.0"
