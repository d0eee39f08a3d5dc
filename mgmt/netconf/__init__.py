"""NETCONF server (RFC 6241 over SSH, RFC 6242) on the ``netconf`` library and libyang.

``NetconfServer`` is the entry point; ``ServerHooks`` connect it to the runtime.
"""
