"""The outer layer of every request: request id, body size limit, access log, last-resort 500.

* Every request gets an ``X-Request-ID`` (also in error bodies and the audit trail).
* A body larger than the limit (``max_upload_bytes`` for ``multipart/form-data``,
  ``max_request_bytes`` otherwise) is refused with 413: at once when ``Content-Length``
  says so, or as soon as a streamed body passes the limit.
* The access log names the route template (``/patients/{patient_id}/visits``), never the
  path itself, the query or the body, so no patient id or value reaches the logs; an
  unexpected exception is logged by type only, with the request id.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from oncofusion.serve.errors import error_response

__all__ = ["ServiceMiddleware"]

log = logging.getLogger("oncofusion.serve.access")
errlog = logging.getLogger("oncofusion.serve")


class _TooLarge(Exception):
    pass


class ServiceMiddleware:
    """Pure ASGI middleware (see the module docstring)."""

    def __init__(self, app: ASGIApp, *, max_request_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.max_request_bytes = max_request_bytes
        self.max_upload_bytes = max_upload_bytes

    def _limit(self, scope: Scope) -> tuple[int, int | None, str]:
        ctype, length = "", None
        for k, v in scope.get("headers", ()):
            if k == b"content-type":
                ctype = v.decode("latin-1").split(";")[0].strip().lower()
            elif k == b"content-length":
                try:
                    length = int(v)
                except ValueError:
                    length = None
        if ctype == "multipart/form-data":
            return self.max_upload_bytes, length, "upload"
        return self.max_request_bytes, length, "request"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        start = time.perf_counter()
        status = {"code": 0, "started": False}
        limit, length, kind = self._limit(scope)
        header = (b"x-request-id", request_id.encode())

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                status["started"] = True
                message = {**message, "headers": [*message.get("headers", []), header]}
            await send(message)

        received = 0

        async def receive_wrapper() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge
            return message

        async def too_large() -> None:
            resp = error_response(
                413, "payload_too_large",
                f"the {kind} body is larger than this service accepts ({limit} bytes). Fix: send fewer "
                "records per request or smaller images; the limit is ONCOFUSION_MAX_"
                f"{'UPLOAD' if kind == 'upload' else 'REQUEST'}_BYTES.",
                request_id=request_id,
            )  # fmt: skip
            await resp(scope, receive, send_wrapper)

        try:
            if length is not None and length > limit:
                await too_large()
            else:
                await self.app(scope, receive_wrapper, send_wrapper)
        except _TooLarge:
            if not status["started"]:
                await too_large()
        except Exception as exc:  # noqa: BLE001 - last resort: never a traceback with patient values
            errlog.error("unhandled %s in %s (request %s)", type(exc).__name__, _route(scope), request_id)
            if not status["started"]:
                resp = error_response(500, "internal_error", "the service failed to answer; the request id "
                                      "identifies it in the service log.", request_id=request_id)
                await resp(scope, receive, send_wrapper)
        finally:
            state = scope.get("state", {})
            log.info(
                "%s %s %s %.1fms client=%s request=%s", scope.get("method"), _route(scope), status["code"],
                (time.perf_counter() - start) * 1000, state.get("client", "-"), request_id,
            )


def _route(scope: Scope) -> str:
    route: Any = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "<unmatched>"
