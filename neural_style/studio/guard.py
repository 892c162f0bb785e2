"""The studio's door (an ASGI middleware in front of Gradio's app): every request must bring the studio's token and
name its address, and one that changes something must come from the page itself (access.py). Anyone else gets a 403
(a WebSocket, a policy-violation close)."""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Dict

from neural_style.access import Access

Scope = Dict[str, Any]
Receive = Callable[[], Awaitable[Dict[str, Any]]]
Send = Callable[[Dict[str, Any]], Awaitable[None]]
# Gradio's launch asks its own server this, without the token, to run its start-up events (once): it serves nothing.
GRADIO_OWN_PATHS = ("/gradio_api/startup-events",)


class StudioGuard:
    """Let in only the studio's user; give a request that brought the token in its address the cookie that lets the
    page's own requests in."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], access: Access) -> None:
        self.app = app
        self.access = access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
        query = scope.get("query_string", b"").decode("latin-1")
        target = scope.get("path", "/") + (f"?{query}" if query else "")
        method = scope.get("method", "GET") if scope["type"] == "http" else "GET"
        reason = self.access.refusal(method, target, headers)
        if reason is not None and scope.get("path") in GRADIO_OWN_PATHS and self.access.host_allowed(headers.get("host")):
            reason = None
        if reason is not None:
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            body = f"forbidden: {reason}\n".encode()
            await send({"type": "http.response.start", "status": 403,
                        "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        _, in_address = self.access.token_in(target, None)
        if not in_address or scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cookie = self.access.set_cookie().encode("latin-1")

        async def with_cookie(message: Dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = dict(message, headers=[*message.get("headers", []), (b"set-cookie", cookie)])
            await send(message)

        await self.app(scope, receive, with_cookie)


__all__ = ["StudioGuard"]
