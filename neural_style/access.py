"""Who may use a page this tool serves (the live page, the studio): only the person who started it.

- **A token per page**, random (as Jupyter's), in the address the start line prints (`?token=...`). A request that
  brings it is answered and given a cookie holding it (HttpOnly, SameSite=Strict, named after the port), so the
  page's own later requests carry it; any other request is refused (403). Another page in the same browser cannot
  read the token, and with SameSite=Strict its requests do not carry the cookie.
- **The Host header** must name the address the page listens on (for a page on the loopback, any of localhost,
  127.0.0.1 and [::1]; for one on every address, this machine's name or an IP address): a name that only points here
  through DNS rebinding is refused.
- **A request that changes something** (POST: the Stop button, the studio's Paint) must also come from the page's
  own origin: an Origin (or Sec-Fetch-Site) header naming another site is refused.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
import socket
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import FrozenSet, Mapping, Optional, Tuple
from urllib.parse import parse_qs, urlsplit

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
WILDCARD_HOSTS = ("0.0.0.0", "::", "")
TOKEN_PARAMETER = "token"


def new_token() -> str:
    """A random token: 32 bytes, URL-safe."""
    return secrets.token_urlsafe(32)


def is_loopback(host: str) -> bool:
    return host in LOOPBACK_NAMES or host.startswith("127.")


def _this_machine() -> FrozenSet[str]:
    names = {socket.gethostname().lower()}
    try:
        names.add(socket.getfqdn().lower())
    except OSError:
        pass
    return frozenset(names)


def _split_host(header: str) -> Tuple[str, Optional[int]]:
    """'name:port' or '[v6]:port' as (name, port)."""
    header = header.strip().lower()
    if header.startswith("["):
        name, _, rest = header[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    else:
        name, _, port = header.rpartition(":") if header.count(":") == 1 else (header, "", "")
    try:
        return name, int(port) if port else None
    except ValueError:
        return name, -1


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        return False


@dataclass(frozen=True)
class Access:
    """The rules of one page, listening on `host`:`port`, with its `token`."""

    host: str
    port: int
    token: str = field(default_factory=new_token)

    @property
    def cookie_name(self) -> str:
        return f"neural_style_token_{self.port}"

    def url(self, path: str = "/") -> str:
        """The address to print: the page with its token."""
        shown = "127.0.0.1" if self.host in WILDCARD_HOSTS else self.host
        shown = f"[{shown}]" if ":" in shown else shown
        return f"http://{shown}:{self.port}{path}?{TOKEN_PARAMETER}={self.token}"

    def host_allowed(self, header: Optional[str]) -> bool:
        """Whether a request's Host header names this page's address (see the module's docstring)."""
        if not header:
            return False
        name, port = _split_host(header)
        if port not in (None, self.port):
            return False
        if is_loopback(self.host):
            return name in LOOPBACK_NAMES or name.startswith("127.")
        if self.host in WILDCARD_HOSTS:
            return _is_ip(name) or name in LOOPBACK_NAMES or name in _this_machine()
        return name == self.host.lower()

    def token_in(self, target: str, cookie_header: Optional[str]) -> Tuple[bool, bool]:
        """(the request carries the token, it came in the address: the response should set the cookie)."""
        given = parse_qs(urlsplit(target).query).get(TOKEN_PARAMETER, [""])[0]
        if given and hmac.compare_digest(given, self.token):
            return True, True
        if cookie_header:
            cookies = SimpleCookie()
            try:
                cookies.load(cookie_header)
            except Exception:  # a malformed cookie header is no token
                return False, False
            morsel = cookies.get(self.cookie_name)
            if morsel is not None and hmac.compare_digest(morsel.value, self.token):
                return True, False
        return False, False

    def same_origin(self, headers: Mapping[str, str]) -> bool:
        """Whether a request that changes something comes from the page itself (no other site's Origin)."""
        site = headers.get("sec-fetch-site")
        if site is not None and site not in ("same-origin", "none"):
            return False
        origin = headers.get("origin")
        if origin is None or origin == "null":
            return origin is None
        parts = urlsplit(origin)
        return self.host_allowed(parts.netloc) and parts.scheme in ("http", "https")

    def refusal(self, method: str, target: str, headers: Mapping[str, str]) -> Optional[str]:
        """Why a request is refused (None: let in). `headers` with lower-case names."""
        if not self.host_allowed(headers.get("host")):
            return "this page answers only at the address it printed"
        allowed, _ = self.token_in(target, headers.get("cookie"))
        if not allowed:
            return "open the address the run printed, with its token"
        if method not in ("GET", "HEAD", "OPTIONS") and not self.same_origin(headers):
            return "only the page itself may do that"
        return None

    def set_cookie(self) -> str:
        """The Set-Cookie header's value that lets the page's own requests in."""
        return f"{self.cookie_name}={self.token}; Path=/; HttpOnly; SameSite=Strict"


__all__ = ["Access", "LOOPBACK_NAMES", "TOKEN_PARAMETER", "is_loopback", "new_token"]
