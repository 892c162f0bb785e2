"""The studio's door (an ASGI middleware in front of Gradio's app): every request must come from the page's own
origin, name its address and bring the studio's token (access.py). Anyone else gets a 403 (a WebSocket, a
policy-violation close). Every answer leaves without Gradio's CORS headers (no other origin may read it) and with the
security headers (never framed, never cached)."""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Dict

from neural_style.watch.access import SECURITY_HEADERS, Access

Scope = Dict[str, Any]
Receive = Callable[[], Awaitable[Dict[str, Any]]]
Send = Callable[[Dict[str, Any]], Awaitable[None]]
# Gradio's launch asks its own server this, without the token, to run its start-up events (once): it serves nothing.
GRADIO_OWN_PATHS = ("/gradio_api/startup-events",)
# Added to every answer; Gradio's Access-Control-* headers are taken out (its CORS answers loopback origins).
ADDED_HEADERS = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in SECURITY_HEADERS.items()
                 if name != "Content-Security-Policy"]  # Gradio's page has inline scripts and styles of its own
ADDED_HEADERS.append((b"content-security-policy", b"frame-ancestors 'none'"))


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
                                    (b"content-length", str(len(body)).encode()), *ADDED_HEADERS]})
            await send({"type": "http.response.body", "body": body})
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        _, in_address = self.access.token_in(target, {})
        added = [*ADDED_HEADERS, *([(b"set-cookie", self.access.set_cookie().encode("latin-1"))] if in_address else [])]

        async def guarded(message: Dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                kept = [(name, value) for name, value in message.get("headers", [])
                        if not name.lower().startswith(b"access-control-") and name.lower() not in
                        {header for header, _ in ADDED_HEADERS}]
                message = dict(message, headers=[*kept, *added])
            await send(message)

        await self.app(scope, receive, guarded)


__all__ = ["StudioGuard"]
