"""Who may use a page this tool serves (the live page, the studio): only the person who started it, in their browser.

- **A token per page**, random (as Jupyter's), in the address the start line prints (`?token=...`). The live page's
  own script reads it from its address and sends it with every request in a header (TOKEN_HEADER) that no other
  page can make a browser send: a header other than the simple ones needs a CORS preflight, which is never answered.
  No cookie carries it: a browser sends a host's cookies to every port of that host, so any local server the user
  visits would receive it. The address is the only place it is accepted from in the query (for the page itself).
  The studio is Gradio's page, whose requests cannot carry a header of ours: it gets a cookie (HttpOnly,
  SameSite=Strict), with the weakness docs/security.md states.
- **Only the page's own origin**: any request, GET included, whose `Sec-Fetch-Site` is not same-origin (or none: the
  user typing the address) or whose `Origin` is another origin, is refused; a request that changes something (POST)
  must say its origin, so one that says nothing is refused too. No answer carries CORS headers.
- **The Host header** must name the address the page listens on, exactly: its IP literal (parsed, not a prefix), or
  `localhost` for a loopback address; for one on every address, an IP literal or this machine's name. A name that
  only points here through DNS rebinding (`127.evil.example`) is refused.
- **Anything malformed** (a token that is not ASCII, a Host that is not a host) is a refusal, never an error.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
import socket
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Dict, FrozenSet, Mapping, Optional, Tuple
from urllib.parse import parse_qs, urlsplit

LOCALHOST = "localhost"
LOOPBACK_NAMES = (LOCALHOST, "127.0.0.1", "::1")
WILDCARD_HOSTS = ("0.0.0.0", "::", "")
TOKEN_PARAMETER = "token"
TOKEN_HEADER = "x-neural-style-token"  # lower case, as headers are compared
# Sec-Fetch-Site values of a request from the page itself, or typed by the user (a bookmark, the address bar).
OWN_SITES = ("same-origin", "none")
# What every answer says besides its content: never framed, never cached, no referrer, no sniffing.
SECURITY_HEADERS: Dict[str, str] = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


def new_token() -> str:
    """A random token: 32 bytes, URL-safe."""
    return secrets.token_urlsafe(32)


def _ip(name: str) -> Optional[ipaddress._BaseAddress]:
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        return None


def is_loopback(host: str) -> bool:
    """Whether `host` (an address to listen on) is this machine's own loopback: `localhost` or a loopback IP literal,
    parsed (so `127.example.com` is not)."""
    address = _ip(host.strip("[]"))
    return host == LOCALHOST or (address is not None and address.is_loopback)


def _this_machine() -> FrozenSet[str]:
    names = {socket.gethostname().lower()}
    try:
        names.add(socket.getfqdn().lower())
    except OSError:
        pass
    return frozenset(names)


def _split_host(header: str) -> Tuple[str, Optional[int]]:
    """'name:port' or '[v6]:port' as (name, port); a port that is not a number is -1."""
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


def _same_secret(given: str, token: str) -> bool:
    """Constant-time comparison of any text (a non-ASCII token is simply wrong, not an error)."""
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), token.encode("ascii"))


@dataclass(frozen=True)
class Access:
    """The rules of one page, listening on `host`:`port`, with its `token`; `cookie`: whether the token may also come
    in a cookie (the studio, in front of Gradio's page)."""

    host: str
    port: int
    token: str = field(default_factory=new_token)
    cookie: bool = False

    @property
    def cookie_name(self) -> str:
        return f"neural_style_token_{self.port}"

    def url(self, path: str = "/") -> str:
        """The address to print: the page with its token."""
        return f"{self.origin()}{path}?{TOKEN_PARAMETER}={self.token}"

    def origin(self) -> str:
        """The page's origin as the browser names it (scheme, the printed host, port)."""
        shown = "127.0.0.1" if self.host in WILDCARD_HOSTS else self.host
        shown = f"[{shown}]" if ":" in shown else shown
        return f"http://{shown}:{self.port}"

    def host_allowed(self, header: Optional[str]) -> bool:
        """Whether a request's Host header names this page's address (see the module's docstring)."""
        if not header:
            return False
        name, port = _split_host(header)
        if port not in (None, self.port):
            return False
        address = _ip(name)
        if self.host in WILDCARD_HOSTS:
            return address is not None or name == LOCALHOST or name in _this_machine()
        if is_loopback(self.host):
            return name == LOCALHOST or (address is not None and address.is_loopback)
        listened = _ip(self.host)
        return (address == listened) if listened is not None else name == self.host.lower()

    def token_in(self, target: str, headers: Mapping[str, str]) -> Tuple[bool, bool]:
        """(the request carries the token, it came in the address: a cookie page's answer should set the cookie).
        The address's token is taken for the page itself ('/') only."""
        given = headers.get(TOKEN_HEADER)
        if given is not None:
            return _same_secret(given, self.token), False
        parts = urlsplit(target)
        if parts.path == "/" or self.cookie:
            query = parse_qs(parts.query).get(TOKEN_PARAMETER, [""])[0]
            if query and _same_secret(query, self.token):
                return True, True
        if self.cookie and headers.get("cookie"):
            cookies = SimpleCookie()
            try:
                cookies.load(headers["cookie"])
            except Exception:  # a malformed cookie header is no token
                return False, False
            morsel = cookies.get(self.cookie_name)
            if morsel is not None and _same_secret(morsel.value, self.token):
                return True, False
        return False, False

    def own_origin(self, origin: str) -> bool:
        """Whether an Origin header names this page (the scheme, an allowed host, the port)."""
        parts = urlsplit(origin)
        return parts.scheme == "http" and self.host_allowed(parts.netloc)

    def foreign(self, method: str, headers: Mapping[str, str]) -> bool:
        """Whether a request comes from another origin (or, changing something, does not say where from)."""
        site = headers.get("sec-fetch-site")
        if site is not None and site not in OWN_SITES:
            return True
        origin = headers.get("origin")
        if origin is not None and not self.own_origin(origin):  # "null" included: a sandboxed or file page
            return True
        if method not in ("GET", "HEAD"):
            return not (site == "same-origin" or (origin is not None and self.own_origin(origin)))
        return False

    def refusal(self, method: str, target: str, headers: Mapping[str, str], public: bool = False) -> Optional[str]:
        """Why a request is refused (None: let in). `headers` with lower-case names; a `public` file (the page's
        script and style, as the package ships them) needs no token, only the page's address and origin."""
        if not self.host_allowed(headers.get("host")):
            return "this page answers only at the address it printed"
        if self.foreign(method, headers):
            return "only the page itself may ask that"
        if public:
            return None
        allowed, _ = self.token_in(target, headers)
        if not allowed:
            return "open the address the run printed, with its token"
        return None

    def set_cookie(self) -> str:
        """The Set-Cookie header's value that lets a cookie page's own requests in (the studio)."""
        return f"{self.cookie_name}={self.token}; Path=/; HttpOnly; SameSite=Strict"


__all__ = ["Access", "LOOPBACK_NAMES", "SECURITY_HEADERS", "TOKEN_HEADER", "TOKEN_PARAMETER", "is_loopback",
           "new_token"]
