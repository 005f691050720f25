"""core.outbound refuses every address that is not public before connecting, connects at
the address it checked (with the right Host, SNI and certificate name), follows only
checked redirects, and stops slow, large or non-JSON answers.

Nothing here leaves 127.0.0.1: names "resolve" through a stub resolver, and the stub
connector carries the one public-looking test address to a local TLS server."""

import ipaddress
import json
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from core import outbound
from core.outbound import OutboundError

PUBLIC_IP = "93.184.215.14"  # looks public to the check; the stub connector keeps it local
NAME = "pay.example"  # the name the test certificate is for


@pytest.fixture(autouse=True)
def only_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """A safety net under the stubs: any socket connect outside 127.0.0.0/8 or ::1 fails."""
    real_connect = socket.socket.connect

    def connect(sock: socket.socket, address: tuple) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            assert ipaddress.ip_address(address[0]).is_loopback, address
        real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    command = (
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1"
        f" -subj /CN={NAME} -addext subjectAltName=DNS:{NAME}"
    ).split()
    subprocess.run(
        [*command, "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return cert, key


class Server:
    """An HTTP(S) server on 127.0.0.1 whose paths map to handler functions."""

    def __init__(self, tls: tuple[Path, Path] | None) -> None:
        self.routes: dict[str, Callable[[BaseHTTPRequestHandler], None]] = {}
        self.requests: list[tuple[str, str | None]] = []  # (path, Host header)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                server.requests.append((self.path, self.headers.get("Host")))
                route = server.routes.get(self.path.split("?")[0])
                if route is None:
                    self.send_error(404)
                else:
                    route(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False
        if tls is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*tls)
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def reply_json(body: object, status: int = 200) -> Callable[[BaseHTTPRequestHandler], None]:
    def route(handler: BaseHTTPRequestHandler) -> None:
        raw = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Length", str(len(raw)))
        handler.end_headers()
        handler.wfile.write(raw)

    return route


def redirect(location: str) -> Callable[[BaseHTTPRequestHandler], None]:
    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(302)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return route


class Stubs:
    """The resolver and connector passed to get_json: `names` says what a name resolves
    to; the connector records every connection and carries PUBLIC_IP to the local server."""

    def __init__(self, server: Server, certificate: tuple[Path, Path]) -> None:
        self.server = server
        self.names: dict[str, list[str]] = {NAME: [PUBLIC_IP]}
        self.lookups: list[str] = []
        self.connections: list[tuple[str, int]] = []
        self.context = ssl.create_default_context(cafile=str(certificate[0]))

    def resolve(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        if host not in self.names:
            raise socket.gaierror(socket.EAI_NONAME, "unknown")
        return self.names[host]

    def connect(self, address: str, port: int, timeout: float) -> socket.socket:
        self.connections.append((address, port))
        assert address == PUBLIC_IP, "only the public test address may be connected"
        return socket.create_connection(("127.0.0.1", self.server.port), timeout=timeout)

    def get(self, url: str, **options: object) -> object:
        return outbound.get_json(
            url,
            resolver=self.resolve,
            connect=self.connect,
            ssl_context=self.context,
            **options,  # type: ignore[arg-type]
        )


@pytest.fixture
def server(certificate: tuple[Path, Path]) -> Iterator[Server]:
    running = Server(tls=certificate)
    yield running
    running.close()


@pytest.fixture
def stubs(server: Server, certificate: tuple[Path, Path]) -> Stubs:
    return Stubs(server, certificate)


REFUSED_ADDRESSES = [
    ("loopback", "127.0.0.1"),
    ("loopback, not .1", "127.45.6.7"),
    ("private 10/8", "10.0.0.1"),
    ("private 172.16/12", "172.16.5.4"),
    ("private 192.168/16", "192.168.1.1"),
    ("link-local (cloud metadata)", "169.254.169.254"),
    ("CGNAT 100.64/10", "100.64.0.1"),
    ("multicast", "224.0.0.1"),
    ("unspecified", "0.0.0.0"),
    ("broadcast", "255.255.255.255"),
    ("reserved 240/4", "240.0.0.1"),
    ("documentation", "192.0.2.1"),
    ("benchmarking", "198.18.0.1"),
    ("IPv6 loopback", "::1"),
    ("IPv6 unspecified", "::"),
    ("IPv6 unique local fc00::/7", "fd12:3456::1"),
    ("IPv6 link-local", "fe80::1"),
    ("IPv6 multicast, link scope", "ff02::1"),
    ("IPv6 multicast, global scope", "ff0e::1"),
    ("IPv4-mapped private", "::ffff:10.0.0.1"),
    ("IPv4-mapped loopback", "::ffff:127.0.0.1"),
    ("IPv4-compatible loopback", "::127.0.0.1"),
    ("6to4 of a private address", "2002:a00:1::1"),
    ("Teredo", "2001:0:4136:e378:8000:63bf:f5ff:fffe"),
    ("NAT64 of a private address", "64:ff9b::a00:1"),
    ("IPv6 documentation", "2001:db8::1"),
]


@pytest.mark.parametrize(
    ("kind", "address"), REFUSED_ADDRESSES, ids=[k for k, _ in REFUSED_ADDRESSES]
)
def test_a_name_resolving_to_a_non_public_address_is_refused_before_connecting(
    stubs: Stubs, kind: str, address: str
) -> None:
    stubs.names[NAME] = [address]
    with pytest.raises(OutboundError, match="not public"):
        stubs.get(f"https://{NAME}/")
    assert stubs.connections == []


def test_one_private_address_among_public_ones_is_refused(stubs: Stubs) -> None:
    stubs.names[NAME] = [PUBLIC_IP, "10.0.0.1"]
    with pytest.raises(OutboundError, match="not public"):
        stubs.get(f"https://{NAME}/")
    assert stubs.connections == []


LITERAL_HOSTS = [
    ("dotted loopback", "127.0.0.1", "not public"),
    ("IPv6 loopback", "[::1]", "not public"),
    ("IPv4-mapped private", "[::ffff:10.0.0.1]", "not public"),
    ("IPv4-mapped metadata", "[::ffff:169.254.169.254]", "not public"),
    ("short form", "127.1", "not valid"),
    ("hex parts", "0x7f.1", "not valid"),
    ("octal integer", "017700000001", "not valid"),
    ("decimal integer", "2130706433", "not valid"),
    ("octal dotted", "0177.0.0.1", "not valid"),
    ("hex integer", "0x7f000001", "not valid"),
    ("short private", "10.1", "not valid"),
    ("trailing dot", "127.0.0.1.", "not public"),
]


@pytest.mark.parametrize(
    ("kind", "host", "reason"), LITERAL_HOSTS, ids=[k for k, *_ in LITERAL_HOSTS]
)
def test_an_ip_in_the_url_in_any_spelling_is_refused_without_lookup_or_connection(
    stubs: Stubs, kind: str, host: str, reason: str
) -> None:
    with pytest.raises(OutboundError, match=reason):
        stubs.get(f"https://{host}/.well-known/lnurlp/alice")
    assert stubs.lookups == [] and stubs.connections == []


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        (f"http://{NAME}/", "must use https"),
        (f"ftp://{NAME}/", "must use https"),
        (f"https://user:secret@{NAME}/", "not valid"),
        ("https:///nohost", "not valid"),
        ("https://bad_name.example/", "not valid"),
        (f"https://{NAME}:99999/", "not valid"),
    ],
)
def test_a_url_that_is_not_plain_https_is_refused(stubs: Stubs, url: str, reason: str) -> None:
    with pytest.raises(OutboundError, match=reason):
        stubs.get(url)
    assert stubs.connections == []


def test_a_public_https_service_is_read_at_the_checked_address(
    stubs: Stubs, server: Server
) -> None:
    server.routes["/.well-known/lnurlp/alice"] = reply_json({"tag": "payRequest"})
    assert stubs.get(f"https://{NAME}/.well-known/lnurlp/alice?x=1") == {"tag": "payRequest"}
    assert stubs.lookups == [NAME]  # resolved once: no second lookup to rebind
    assert stubs.connections == [(PUBLIC_IP, 443)]
    assert server.requests == [("/.well-known/lnurlp/alice?x=1", NAME)]


def test_the_certificate_must_be_for_the_name_not_the_address(stubs: Stubs) -> None:
    stubs.names["other.example"] = [PUBLIC_IP]  # same address, a name the cert is not for
    with pytest.raises(OutboundError, match="certificate"):
        stubs.get("https://other.example/")


def test_redirects_are_followed_when_they_pass_the_checks(stubs: Stubs, server: Server) -> None:
    server.routes["/a"] = redirect("/b")
    server.routes["/b"] = redirect(f"https://{NAME}/c")
    server.routes["/c"] = reply_json({"ok": True})
    assert stubs.get(f"https://{NAME}/a") == {"ok": True}
    assert [path for path, _ in server.requests] == ["/a", "/b", "/c"]


@pytest.mark.parametrize(
    "location",
    ["https://internal.example/", "https://127.0.0.1/", "https://[::ffff:10.0.0.1]/"],
)
def test_a_redirect_to_a_private_address_is_refused(
    stubs: Stubs, server: Server, location: str
) -> None:
    stubs.names["internal.example"] = ["10.0.0.1"]
    server.routes["/start"] = redirect(location)
    with pytest.raises(OutboundError, match="not public"):
        stubs.get(f"https://{NAME}/start")
    assert stubs.connections == [(PUBLIC_IP, 443)]  # the first hop only


def test_a_redirect_to_plain_http_is_refused(stubs: Stubs, server: Server) -> None:
    server.routes["/start"] = redirect(f"http://{NAME}/")
    with pytest.raises(OutboundError, match="https"):
        stubs.get(f"https://{NAME}/start")


def test_more_than_three_redirects_are_refused(stubs: Stubs, server: Server) -> None:
    server.routes["/loop"] = redirect("/loop")
    with pytest.raises(OutboundError, match="redirected too many times"):
        stubs.get(f"https://{NAME}/loop")
    assert len(server.requests) == 4  # the request and three redirects


def test_a_slow_drip_is_cut_at_the_one_deadline(stubs: Stubs, server: Server) -> None:
    def drip(handler: BaseHTTPRequestHandler) -> None:
        # A byte every 0.1 s: no single read ever waits long, the whole answer takes 6 s.
        for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n" + b"{" + b" " * 18 + b"}":
            try:
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
            except OSError:
                return
            time.sleep(0.1)

    server.routes["/drip"] = drip
    started = time.monotonic()
    with pytest.raises(OutboundError, match="in time"):
        stubs.get(f"https://{NAME}/drip", deadline_seconds=1.0)
    assert time.monotonic() - started < 1.5


def test_a_slow_lookup_is_cut_at_the_deadline(stubs: Stubs) -> None:
    def slow(host: str, port: int) -> list[str]:
        time.sleep(2)
        return [PUBLIC_IP]

    started = time.monotonic()
    with pytest.raises(OutboundError, match="in time"):
        outbound.get_json(
            f"https://{NAME}/", resolver=slow, connect=stubs.connect, deadline_seconds=0.5
        )
    assert time.monotonic() - started < 1.0
    assert stubs.connections == []


@pytest.mark.parametrize("with_length", [True, False])
def test_an_oversized_answer_is_refused(stubs: Stubs, server: Server, with_length: bool) -> None:
    def big(handler: BaseHTTPRequestHandler) -> None:
        raw = b"[" + b"0," * 40_000 + b"0]"  # ~80 KB of valid JSON
        handler.send_response(200)
        if with_length:
            handler.send_header("Content-Length", str(len(raw)))
        handler.end_headers()
        handler.wfile.write(raw)

    server.routes["/big"] = big
    with pytest.raises(OutboundError, match="too large"):
        stubs.get(f"https://{NAME}/big")


def test_an_answer_that_is_not_json_is_refused(stubs: Stubs, server: Server) -> None:
    def html(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", "15")
        handler.end_headers()
        handler.wfile.write(b"<html>hi</html>")

    server.routes["/html"] = html
    with pytest.raises(OutboundError, match="not JSON"):
        stubs.get(f"https://{NAME}/html")


def test_an_error_status_is_reported_without_the_services_text(
    stubs: Stubs, server: Server
) -> None:
    server.routes["/fail"] = reply_json({"reason": "internal secret detail"}, status=500)
    with pytest.raises(OutboundError) as error:
        stubs.get(f"https://{NAME}/fail")
    assert str(error.value) == "The service answered with an error (HTTP 500)."


def test_allow_private_lifts_the_address_check_for_a_local_http_service() -> None:
    local = Server(tls=None)
    try:
        local.routes["/x"] = reply_json({"local": True})
        url = f"http://127.0.0.1:{local.port}/x"
        with pytest.raises(OutboundError, match="https"):
            outbound.get_json(url)
        assert outbound.get_json(url, allow_private=True) == {"local": True}
    finally:
        local.close()
