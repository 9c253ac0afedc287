"""HTTP requests to addresses on the public internet only: the guard against SSRF.

A URL that a user typed (a webhook, a media URL) must not make our servers call into their own network:
the cloud metadata service at 169.254.169.254, Redis on 127.0.0.1, an admin panel on 10.x.
`resolve_allowed` resolves the host and refuses it when ANY of its addresses is private,
loopback, link-local, multicast, reserved or unspecified (IPv4 and IPv6, IPv4-mapped IPv6
unwrapped), unless that address lies in one of the allowed networks
(`HTTP_ALLOW_PRIVATE_NETWORKS`). `post` then connects to the very addresses it checked, so a
DNS answer that changes between the check and the connection (DNS rebinding) cannot slip past;
TLS still verifies the certificate for the host name. Redirects are not followed, and a whole
request has one deadline, so a receiver that drips its answer byte by byte cannot hold us.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import ssl
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class UnsafeUrl(ValueError):
    """The URL is not one we may call: wrong scheme, no host, or a host outside the public internet."""


def is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not (
        address.is_private or address.is_loopback or address.is_link_local or address.is_multicast
        or address.is_reserved or address.is_unspecified
    )


def is_allowed(address: IPAddress, allowed: Iterable[IPNetwork]) -> bool:
    return is_public(address) or any(address in network for network in allowed if network.version == address.version)


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str  # with the query string


def parse_url(url: str) -> Target:
    """The parts of an http(s) URL we call; credentials in it are refused (they would sit in logs)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise UnsafeUrl(f"not a valid URL: {error}") from None
    if parts.scheme not in ("http", "https"):
        raise UnsafeUrl("the URL must start with http:// or https://")
    if not parts.hostname:
        raise UnsafeUrl("the URL has no host")
    if parts.username or parts.password:
        raise UnsafeUrl("put no credentials in the URL; check the signature header instead")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80), path)


def resolve_allowed(host: str, port: int, allowed: Iterable[IPNetwork]) -> list[IPAddress]:
    """The addresses to connect to; `UnsafeUrl` when any address of the host is not allowed.

    A name that does not resolve raises `socket.gaierror` (an OSError: worth a retry later).
    """
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos))
    allowed = tuple(allowed)
    refused = [str(address) for address in addresses if not is_allowed(address, allowed)]
    if refused or not addresses:
        raise UnsafeUrl(f"{host} resolves to an address that is not public ({', '.join(refused)})")
    return addresses


def check_url(url: str, allowed: Iterable[IPNetwork]) -> Target:
    """Refuse a URL whose host is not on the public internet (nor allowed); return its parts."""
    return checked(url, allowed)[0]


def checked(url: str, allowed: Iterable[IPNetwork]) -> tuple[Target, list[IPAddress]]:
    """The URL's parts and the addresses its host has now; `UnsafeUrl` as `check_url`."""
    target = parse_url(url)
    try:
        return target, resolve_allowed(target.host, target.port, allowed)
    except socket.gaierror:
        raise UnsafeUrl(f"the host {target.host} does not resolve") from None


def first_that_answers(addresses: list[IPAddress], connect, refusals: type[Exception] | tuple[type[Exception], ...]):
    """`connect(address)` for the first checked address that answers (IPv6 may be unreachable);
    the last refusal when none does."""
    error: Exception | None = None
    for address in addresses:
        try:
            return connect(address)
        except refusals as refused:
            error = refused
    raise error or OSError("no address to connect to")


class PinnedNetwork(httpcore.SyncBackend):
    """httpcore's connections, opened to the checked addresses whatever name a request gives; TLS still
    verifies the certificate for the name."""

    def __init__(self, addresses: list[IPAddress]) -> None:
        self.addresses = addresses

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        connect_to = super().connect_tcp

        def connect(address: IPAddress):
            return connect_to(str(address), port, timeout, local_address, socket_options)

        return first_that_answers(self.addresses, connect, httpcore.ConnectError)


def pinned_http_client(url: str, allowed: Iterable[IPNetwork], timeout: float) -> httpx.Client:
    """An httpx client (for a library built on httpx, such as openai's) for `url`'s host that connects
    only to the addresses the host had when checked here: a DNS answer that changes afterwards (DNS
    rebinding) cannot take its requests into our network. Raises `UnsafeUrl` as `check_url`."""
    _, addresses = checked(url, allowed)
    transport = httpx.HTTPTransport(trust_env=False)
    # httpx builds its connection pool without a way to name the network backend: give it ours.
    transport._pool = httpcore.ConnectionPool(ssl_context=httpx.create_ssl_context(),
                                              network_backend=PinnedNetwork(addresses))
    return httpx.Client(transport=transport, timeout=timeout, trust_env=False, follow_redirects=False)


class Pinned:
    """Connects to the checked addresses; the Host header (and TLS's SNI) still name the host."""

    addresses: list[IPAddress]
    timeout: float
    port: int
    aborted = False
    # http.client drops `sock` once the response owns the connection: keep it to abort a slow read.
    opened: socket.socket | None = None

    def open_socket(self) -> socket.socket:
        def connect(address: IPAddress) -> socket.socket:
            return socket.create_connection((str(address), self.port), self.timeout)

        return first_that_answers(self.addresses, connect, OSError)

    def abort(self) -> None:
        """From another thread: end a request that takes too long (a slow drip beats per-read timeouts)."""
        self.aborted = True
        if self.opened is not None:
            with contextlib.suppress(OSError):
                self.opened.shutdown(socket.SHUT_RDWR)


class PinnedHTTPConnection(Pinned, http.client.HTTPConnection):
    def __init__(self, host: str, port: int, addresses: list[IPAddress], timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.addresses = addresses

    def connect(self) -> None:
        self.sock = self.opened = self.open_socket()


class PinnedHTTPSConnection(Pinned, http.client.HTTPSConnection):
    """The certificate is verified for the host name, not the address."""

    def __init__(self, host: str, port: int, addresses: list[IPAddress], timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self.addresses = addresses

    def connect(self) -> None:
        self.sock = self.opened = self._context.wrap_socket(self.open_socket(), server_hostname=self.host)


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes  # at most the bytes asked for


def post(url: str, body: bytes, headers: dict[str, str], *, allowed: Iterable[IPNetwork], timeout: float,
         read_bytes: int = 4096) -> Answer:
    """POST `body` to a public (or allowed) address and read the first `read_bytes` of the answer."""
    return request("POST", url, body, headers, allowed=allowed, timeout=timeout, read_bytes=read_bytes)


def request(method: str, url: str, body: bytes | None, headers: dict[str, str], *, allowed: Iterable[IPNetwork],
            timeout: float, read_bytes: int) -> Answer:
    """One request to a public (or allowed) address, reading the first `read_bytes` of the answer,
    all within `timeout` seconds. Raises `UnsafeUrl`, or OSError (`TimeoutError` included) and
    `http.client.HTTPException` for network failures."""
    target = parse_url(url)
    addresses = resolve_allowed(target.host, target.port, allowed)
    connection_class = PinnedHTTPSConnection if target.scheme == "https" else PinnedHTTPConnection
    connection = connection_class(target.host, target.port, addresses, timeout)
    deadline = threading.Timer(timeout, connection.abort)
    deadline.start()
    try:
        connection.request(method, target.path, body=body, headers=headers)
        response = connection.getresponse()
        answer = Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read(read_bytes))
        if connection.aborted:  # read(amt) returns what came before the deadline cut it short
            raise TimeoutError(f"no complete answer within {timeout:g} s")
        return answer
    except (OSError, http.client.HTTPException) as error:
        if connection.aborted:
            raise TimeoutError(f"no complete answer within {timeout:g} s") from error
        raise
    finally:
        deadline.cancel()
        connection.close()
        if connection.opened is not None:
            connection.opened.close()
