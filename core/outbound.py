"""Outbound HTTP GET of JSON for URLs that users supply (Lightning Address / LNURL-pay
services): public https hosts only, connected at the very address that was checked, within
one deadline and a size cap. Whatever is refused or fails raises OutboundError, whose
message is safe to show the user; the details (never shown) go to the log."""

import http.client
import io
import ipaddress
import logging
import os
import re
import socket
import ssl
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as LookupTimeout
from typing import Any
from urllib.parse import urljoin, urlsplit

from django.utils.translation import gettext as _

from . import hostile

logger = logging.getLogger(__name__)

DEADLINE_SECONDS = 10.0
MAX_BYTES = 64 * 1024
MAX_REDIRECTS = 3
REDIRECT_STATUSES = {301, 302, 303, 307, 308}
LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
HOSTNAME = re.compile(rf"^{LABEL}(?:\.{LABEL})*$")
NAT64 = ipaddress.ip_network("64:ff9b::/96")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# (host, port) -> the addresses it resolves to; tests pass a stub.
Resolver = Callable[[str, int], list[str]]
# (checked address, port, timeout) -> a connected TCP socket; tests pass one that records calls.
Connector = Callable[[str, int, float], socket.socket]

# getaddrinfo has no timeout of its own: it runs here so the deadline can stop waiting for it.
_lookups = ThreadPoolExecutor(max_workers=4, thread_name_prefix="outbound-dns")


def _new_lookups_after_fork() -> None:
    # A forked child (Celery prefork, gunicorn) inherits the pool but not its threads.
    global _lookups
    _lookups = ThreadPoolExecutor(max_workers=4, thread_name_prefix="outbound-dns")


os.register_at_fork(after_in_child=_new_lookups_after_fork)


class OutboundError(Exception):
    """The URL was refused or its service failed. The message is ours alone (never the
    remote service's text), so it may be shown to the user."""


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return [str(info[4][0]) for info in infos]


def tcp_connect(address: str, port: int, timeout: float) -> socket.socket:
    return socket.create_connection((address, port), timeout=timeout)


def is_public(address: IPAddress) -> bool:
    """Whether `address` is a globally reachable unicast address (not loopback, private,
    link-local, CGNAT, multicast, unspecified, reserved or documentation)."""
    if isinstance(address, ipaddress.IPv6Address):
        # These IPv6 forms reach the IPv4 host they carry: that host must be public too.
        embedded = address.ipv4_mapped or address.sixtofour
        if address.teredo:
            embedded = address.teredo[1]
        if address in NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None and not is_public(embedded):
            return False
    return address.is_global and not (
        address.is_multicast
        or address.is_private
        or address.is_reserved
        or address.is_loopback
        or address.is_link_local
        or address.is_unspecified
    )


def get_json(
    url: str,
    *,
    allow_private: bool = False,
    resolver: Resolver = system_resolver,
    connect: Connector = tcp_connect,
    ssl_context: ssl.SSLContext | None = None,
    deadline_seconds: float = DEADLINE_SECONDS,
    max_bytes: int = MAX_BYTES,
) -> Any:
    """The decoded JSON at `url`, following at most MAX_REDIRECTS redirects that pass the
    same checks, all within one deadline. `allow_private` (local tests only) lifts the
    public-address check and allows plain http."""
    deadline = time.monotonic() + deadline_seconds
    context = ssl_context or ssl.create_default_context()
    for _hop in range(MAX_REDIRECTS + 1):
        status, location, body = _get_once(
            url,
            allow_private=allow_private,
            resolver=resolver,
            connect=connect,
            context=context,
            deadline=deadline,
            max_bytes=max_bytes,
        )
        if status in REDIRECT_STATUSES and location:
            url = urljoin(url, location)
            continue
        if not 200 <= status < 300:
            raise OutboundError(
                _("The service answered with an error (HTTP %(status)s).") % {"status": status}
            )
        try:
            return hostile.loads(body)  # a hostile service's nesting or numbers, too
        except ValueError as exc:
            logger.warning("outbound %s: not JSON (%s)", _host_of(url), exc)
            raise OutboundError(_("The service's answer is not JSON.")) from exc
    raise OutboundError(_("The service redirected too many times."))


def _get_once(
    url: str,
    *,
    allow_private: bool,
    resolver: Resolver,
    connect: Connector,
    context: ssl.SSLContext,
    deadline: float,
    max_bytes: int,
) -> tuple[int, str | None, bytes]:
    scheme, host, port, target = _split(url, allow_private=allow_private)
    addresses = _checked_addresses(
        host, port, allow_private=allow_private, resolver=resolver, deadline=deadline
    )
    connection = _PinnedConnection(
        host,
        port,
        addresses=addresses,
        connect=connect,
        tls=context if scheme == "https" else None,
        deadline=deadline,
    )
    response: http.client.HTTPResponse | None = None
    try:
        connection.request(
            "GET", target, headers={"Accept": "application/json", "User-Agent": "marketplace"}
        )
        response = connection.getresponse()
        if response.status in REDIRECT_STATUSES:
            return response.status, response.getheader("Location"), b""
        length = response.getheader("Content-Length", "")
        if length.isdigit() and int(length) > max_bytes:
            raise OutboundError(_("The service's answer is too large."))
        body = response.read(max_bytes + 1)
        if len(body) > max_bytes:
            raise OutboundError(_("The service's answer is too large."))
        return response.status, None, body
    except OutboundError:
        raise
    except TimeoutError as exc:
        logger.warning("outbound %s: timed out (%s)", host, exc)
        raise OutboundError(_("The service did not answer in time.")) from exc
    except ssl.SSLCertVerificationError as exc:
        logger.warning("outbound %s: certificate refused (%s)", host, exc)
        raise OutboundError(_("The service's certificate is not valid.")) from exc
    except (OSError, http.client.HTTPException, ValueError) as exc:
        logger.warning("outbound %s: failed (%r)", host, exc)
        raise OutboundError(_("The service could not be reached.")) from exc
    finally:
        if response is not None:
            response.close()
        connection.close()


def _split(url: str, *, allow_private: bool) -> tuple[str, str, int, str]:
    """(scheme, host, port, request target) of an acceptable URL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise OutboundError(_("The service's URL is not valid.")) from exc
    if parts.scheme != "https" and not (allow_private and parts.scheme == "http"):
        raise OutboundError(_("The service must use https."))
    if parts.username is not None or parts.password is not None:
        raise OutboundError(_("The service's URL is not valid."))
    host = (parts.hostname or "").removesuffix(".")
    if not host:
        raise OutboundError(_("The service's URL is not valid."))
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, host, port or (443 if parts.scheme == "https" else 80), target


def _checked_addresses(
    host: str, port: int, *, allow_private: bool, resolver: Resolver, deadline: float
) -> list[str]:
    """Every address `host` stands for, resolved once; all of them must be public, since
    we connect to the one we checked and a mix is how rebinding tricks start."""
    literal = _literal_address(host)
    if literal is not None:
        found = [literal]
    else:
        if not HOSTNAME.match(host):
            raise OutboundError(_("The service's host name is not valid."))
        try:
            names = _lookups.submit(resolver, host, port).result(timeout=_time_left(deadline))
            found = [ipaddress.ip_address(name) for name in names]
        except (TimeoutError, LookupTimeout) as exc:
            raise OutboundError(_("The service did not answer in time.")) from exc
        except (OSError, UnicodeError, ValueError) as exc:
            logger.warning("outbound %s: does not resolve (%r)", host, exc)
            raise OutboundError(_("The service's host name does not resolve.")) from exc
    if not found:
        raise OutboundError(_("The service's host name does not resolve."))
    refused = [str(address) for address in found if not is_public(address)]
    if refused and not allow_private:
        logger.warning("outbound %s: refused, resolves to %s", host, ", ".join(refused))
        raise OutboundError(_("The service's address is not public."))
    return list(dict.fromkeys(str(address) for address in found))


def _literal_address(host: str) -> IPAddress | None:
    """The address a host names literally; OutboundError for the short, octal, hex and
    integer IPv4 spellings (`127.1`, `0x7f.1`, `2130706433`) that resolvers accept too."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        socket.inet_aton(host)
    except OSError:
        return None
    raise OutboundError(_("The service's host name is not valid."))


def _time_left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("outbound deadline passed")
    return left


def _host_of(url: str) -> str:
    return urlsplit(url).hostname or "?"


class _PinnedConnection(http.client.HTTPConnection):
    """Connects to the addresses checked above, never resolving `host` again (DNS
    rebinding), while the Host header, SNI and certificate check still use `host`."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        addresses: list[str],
        connect: Connector,
        tls: ssl.SSLContext | None,
        deadline: float,
    ) -> None:
        super().__init__(host, port)
        self.default_port = 443 if tls is not None else 80  # the Host header omits it
        self._addresses = addresses
        self._connect = connect
        self._tls = tls
        self._deadline = deadline

    def connect(self) -> None:
        error: OSError = OSError("no address")
        for address in self._addresses:
            try:
                raw = self._connect(address, self.port, _time_left(self._deadline))
                break
            except TimeoutError:
                raise
            except OSError as exc:
                error = exc
        else:
            raise error
        if self._tls is not None:
            # Python's TLS handshake keeps one deadline for the whole handshake (the
            # socket's timeout), so a dripping handshake ends at our deadline too.
            raw.settimeout(_time_left(self._deadline))
            raw = self._tls.wrap_socket(raw, server_hostname=self.host)
        self.sock = _DeadlineSocket(raw, self._deadline)


class _DeadlineSocket:
    """The connected socket as http.client uses it (sendall, makefile, close), each call
    given only the time left: a server that drips a byte a second is cut at the deadline,
    not allowed a fresh timeout per read."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock = sock
        self._deadline = deadline
        # http.client closes the connection while its response still reads from it (as
        # socket.makefile allows): the socket closes once it and every reader are closed.
        self._users = 1

    def sendall(self, data: bytes) -> None:
        self._sock.settimeout(_time_left(self._deadline))
        self._sock.sendall(data)

    def recv_into(self, buffer: Any) -> int:
        self._sock.settimeout(_time_left(self._deadline))
        return self._sock.recv_into(buffer)

    def makefile(self, mode: str) -> io.BufferedReader:
        self._users += 1
        return io.BufferedReader(_DeadlineReader(self))

    def close(self) -> None:
        self._users -= 1
        if self._users == 0:
            self._sock.close()


class _DeadlineReader(io.RawIOBase):
    def __init__(self, sock: _DeadlineSocket) -> None:
        self._sock = sock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        return self._sock.recv_into(buffer)

    def close(self) -> None:
        if not self.closed:
            self._sock.close()
        super().close()
