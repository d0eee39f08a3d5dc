"""The product's RPCs (module dmm-nf), served by the NETCONF server's `rpc_hook`.

Each handler reads its input from the libyang RPC tree, does its work on the runtime's loop
(`Runtime.call`) and returns the output as a libyang tree, or None for `<ok/>`. An RPC whose
machinery the running node does not have (a MAG operation on an LMA, a check that needs the
kernel data plane) answers `operation-not-supported` — never a fake success.
"""
from __future__ import annotations

import json
from typing import Any, Callable, Optional

import libyang

from mgmt.netconf.errors import RpcError, invalid_value, operation_failed, operation_not_supported
from mgmt.operational import link_layer_bytes
from nf.runtime import Runtime

MODULE = "dmm-nf"
Handler = Callable[[dict[str, Any]], Optional[dict[str, Any]]]


class ProductRpcs:
    def __init__(self, ctx: libyang.Context, runtime: Runtime) -> None:
        self.ctx = ctx
        self.runtime = runtime
        self.handlers: dict[str, Handler] = {
            "mn-attach": self.mn_attach,
            "mn-detach": self.mn_detach,
            "revoke-binding": self.revoke_binding,
        }

    def __call__(self, name: str, request: libyang.DNode) -> Optional[libyang.DNode]:
        handler = self.handlers.get(name)
        if handler is None:
            raise operation_not_supported(f"{name} is not available in this release of dmm-nf")
        params = request.print_dict(absolute=False).get(name, {})
        output = handler(params)
        if output is None:
            return None
        text = json.dumps({f"{MODULE}:{name}": output})
        return self.ctx.parse_op_mem("json", text, libyang.DataType.REPLY_YANG)

    def _role(self, name: str, rpc: str):
        role = self.runtime.roles.get(name)
        if role is None:
            raise operation_not_supported(f"{rpc}: this node has no {name.upper()} role")
        return role

    def _run(self, fn: Callable, *args: Any) -> Any:
        try:
            return self.runtime.call(fn, *args)
        except RpcError:
            raise
        except (ValueError, KeyError, LookupError) as e:
            raise invalid_value(str(e)) from None
        except Exception as e:  # the client gets a clear error; the runtime keeps running
            raise operation_failed(f"{type(e).__name__}: {e}") from None

    def mn_attach(self, p: dict[str, Any]) -> None:
        mag = self._role("mag", "mn-attach")
        att = p.get("access-technology-type")
        kwargs = {
            "link_layer_id": link_layer_bytes(p.get("link-layer-id", "")),
            "access_technology_type": self._enum_value("mn-attach/input/access-technology-type", att) if att else None,
            "interface": p.get("interface"),
        }
        self._run(lambda: mag.attach(p["mn-identifier"], **kwargs))

    def mn_detach(self, p: dict[str, Any]) -> None:
        mag = self._role("mag", "mn-detach")
        self._run(lambda: mag.detach(p["mn-identifier"], link_layer_bytes(p.get("link-layer-id", ""))))

    def revoke_binding(self, p: dict[str, Any]) -> dict[str, Any]:
        lma = self._role("lma", "revoke-binding")
        trigger = self._enum_value("revoke-binding/input/trigger", p.get("trigger", "administrative-reason"))
        revoked = self._run(lambda: lma.revoke(p["mn-identifier"], trigger))
        return {"revoked": int(revoked or 0)}

    def _enum_value(self, rpc_path: str, name: str) -> int:
        node = next(self.ctx.find_path(f"/{MODULE}:{rpc_path}"))
        for e in node.type().enums():
            if e.name() == name:
                return e.value()
        raise invalid_value(f"unknown value {name!r}")
