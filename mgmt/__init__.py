"""Management plane: NETCONF server, datastores, operational tree, notifications, NACM, dmmctl, daemon entry."""
