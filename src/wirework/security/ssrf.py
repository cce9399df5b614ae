"""SSRF guard for outbound HTTP from nodes: loopback, private, link-local and metadata addresses are refused.

A node that calls a URL a workflow author (or an incoming webhook) chose must not be
able to reach the server's own network: the cloud metadata service at
169.254.169.254, an admin port on 127.0.0.1, the database on 10.0.0.5. `SsrfPolicy`
says what is allowed anyway (self-hosted users calling their own services, tests).

How the guard is wired, and why this way:

- **Check the address that is connected to.** Checking a URL's host and then letting
  the HTTP library resolve it again leaves a window for DNS rebinding (the first
  answer is public, the second is 127.0.0.1). So the check lives in the connection
  layer: `GuardedTransport` is an `httpx.AsyncHTTPTransport` whose connection pool
  uses `GuardedNetworkBackend`. When the pool opens a connection to `host:port`, the
  backend resolves the host once (`loop.getaddrinfo`), refuses if *any* address is
  blocked, and then connects to one of exactly those IP addresses. TLS still runs
  against the host name (httpcore passes the URL's host as `server_hostname`), so SNI
  and certificate checks are unchanged, and the `Host` header is the URL's. Pooled
  connections are keyed by host name and were checked when they were opened. (The
  alternative, rewriting the URL to the IP and passing `sni_hostname`, would key the
  pool by IP and share a TLS connection verified for one name with another name.)
- **Every request, every hop.** The transport also checks each request's URL before
  sending (scheme, metadata host names, literal IP addresses, for a clear message
  without a connection attempt). Redirects, pagination and OAuth2 token requests all
  go through the same transport, so each hop is checked; `guarded_client` disables
  httpx's automatic redirects so the caller can also decide which headers a redirect
  may carry.
- **No side doors.** `trust_env=False`: no proxy from `HTTP_PROXY` (the proxy, not
  the target, would be checked) and no credentials from `~/.netrc`.

Refused: loopback, private (10/8, 172.16/12, 192.168/16, fc00::/7), link-local
(169.254/16, fe80::/10), unspecified, multicast, reserved and other special-purpose
ranges (anything Python does not consider globally reachable), CGNAT 100.64/10, IPv6
forms that embed such an IPv4 address (IPv4-mapped, IPv4-compatible, 6to4, NAT64),
and well-known metadata host names.
"""

from __future__ import annotations

import asyncio
import functools
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from typing import Final

import httpcore
import httpx

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network
Resolver = Callable[[str, int], Awaitable[list[str]]]
"""(host, port) → IP address strings, in the order to try them."""

ALLOW_SETTING: Final = "WIREWORK_HTTP_ALLOW_HOSTS"
ALLOWED_SCHEMES: Final = frozenset({"http", "https"})

METADATA_HOSTS: Final = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.azure.internal",
        "metadata.oraclecloud.com",
    }
)
"""Host names of cloud metadata services (their addresses are refused too, this is for clarity)."""

_NAMED_NETWORKS: Final[tuple[tuple[IPNetwork, str], ...]] = tuple(
    (ip_network(cidr), reason)
    for cidr, reason in (
        ("0.0.0.0/8", "an unspecified ('this network') address"),
        ("10.0.0.0/8", "a private address"),
        ("100.64.0.0/10", "a carrier-grade NAT (shared) address"),
        ("127.0.0.0/8", "a loopback address"),
        ("169.254.0.0/16", "a link-local/metadata address"),
        ("172.16.0.0/12", "a private address"),
        ("192.0.0.0/24", "a special-purpose (IETF) address"),
        ("192.168.0.0/16", "a private address"),
        ("198.18.0.0/15", "a benchmarking address"),
        ("224.0.0.0/4", "a multicast address"),
        ("240.0.0.0/4", "a reserved address"),
        ("::/128", "an unspecified address"),
        ("::1/128", "a loopback address"),
        ("::/8", "a reserved address"),
        ("64:ff9b:1::/48", "a local-use NAT64 address"),
        ("fc00::/7", "a private (unique local) address"),
        ("fe80::/10", "a link-local address"),
        ("fec0::/10", "a site-local address"),
        ("ff00::/8", "a multicast address"),
    )
)
_NAT64: Final = ip_network("64:ff9b::/96")


class SsrfBlocked(Exception):
    """An outbound request was refused by the SSRF guard. `reason` says why, for the user."""

    def __init__(self, url: str, reason: str, *, allowable: bool = True) -> None:
        self.url = url
        self.reason = reason
        self.allowable = allowable
        hint = f" Allow it with {ALLOW_SETTING} if you mean it." if allowable else ""
        super().__init__(f"Refused to call {url}: {reason}.{hint}")


def _normal_host(host: str) -> str:
    return host.strip().lower().rstrip(".").removeprefix("[").removesuffix("]")


@dataclass(frozen=True, slots=True)
class SsrfPolicy:
    """What the guard lets through besides public addresses.

    `allow_hosts`: host names (`"localhost"`, or `"*.corp.example"` for subdomains) whose
    addresses are not checked. `allow_networks`: address ranges that are allowed.
    `allow_all`: turn the guard off (the scheme check stays).
    """

    allow_hosts: frozenset[str] = frozenset()
    allow_networks: tuple[IPNetwork, ...] = ()
    allow_all: bool = False
    _suffixes: tuple[str, ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        hosts = frozenset(_normal_host(h) for h in self.allow_hosts if h.strip())
        object.__setattr__(self, "allow_hosts", hosts)
        suffixes = tuple(h[1:] for h in hosts if h.startswith("*."))
        object.__setattr__(self, "_suffixes", suffixes)

    @classmethod
    def from_entries(cls, entries: Iterable[str]) -> SsrfPolicy:
        """A policy from setting values: `*` allows all, CIDRs or IPs are networks, else host names."""
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        allow_all = False
        for raw in entries:
            entry = raw.strip()
            if not entry:
                continue
            if entry == "*":
                allow_all = True
                continue
            try:
                networks.append(ip_network(entry.replace("[", "").replace("]", ""), strict=False))
            except ValueError:
                hosts.add(entry)
        return cls(frozenset(hosts), tuple(networks), allow_all)

    def allows_host(self, host: str) -> bool:
        if self.allow_all:
            return True
        name = _normal_host(host)
        return name in self.allow_hosts or any(name.endswith(s) for s in self._suffixes)

    def allows_address(self, address: IPAddress) -> bool:
        if self.allow_all:
            return True
        candidates: list[IPAddress] = [address]
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            candidates.append(embedded[1])
        return any(a in net for a in candidates for net in self.allow_networks if a.version == net.version)


def _embedded_ipv4(address: IPAddress) -> tuple[str, IPv4Address] | None:
    """The kind and IPv4 address inside an IPv4-mapped, 6to4, NAT64 or IPv4-compatible address."""
    if not isinstance(address, IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return "an IPv4-mapped", address.ipv4_mapped
    if address.sixtofour is not None:
        return "a 6to4", address.sixtofour
    as_int = int(address)
    if address in _NAT64:
        return "a NAT64", IPv4Address(as_int & 0xFFFFFFFF)
    if as_int >> 32 == 0 and as_int > 1:
        return "an IPv4-compatible", IPv4Address(as_int)
    return None


def address_problem(address: IPAddress) -> str | None:
    """Why the guard refuses this address ("a loopback address"), or None if it is public.

    An IPv6 address that embeds an IPv4 address is judged by the IPv4 address.
    """
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        kind, inner = embedded
        problem = address_problem(inner)
        return None if problem is None else f"{kind} address of {inner}, {problem}"
    for network, reason in _NAMED_NETWORKS:
        if address.version == network.version and address in network:
            return reason
    if address.is_multicast:
        return "a multicast address"
    if not address.is_global or address.is_reserved:
        return "not a public internet address"
    return None


def _literal_address(host: str) -> IPAddress | None:
    try:
        return ip_address(_normal_host(host))
    except ValueError:
        return None


def check_url(url: httpx.URL | str, policy: SsrfPolicy) -> httpx.URL:
    """The checks that need no DNS: scheme, host present, metadata names, literal IPs.

    Raises SsrfBlocked; host names are resolved and checked when connecting.
    """
    parsed = url if isinstance(url, httpx.URL) else httpx.URL(url)
    shown = str(parsed.copy_with(username=None, password=None)) if parsed.userinfo else str(parsed)
    if parsed.scheme not in ALLOWED_SCHEMES:
        scheme = parsed.scheme or "no scheme"
        raise SsrfBlocked(shown, f"only http and https URLs are allowed, not {scheme}", allowable=False)
    host = parsed.host
    if not host:
        raise SsrfBlocked(shown, "the URL has no host", allowable=False)
    if policy.allows_host(host):
        return parsed
    if _normal_host(host) in METADATA_HOSTS:
        raise SsrfBlocked(shown, f"{host} is a cloud metadata service")
    address = _literal_address(host)
    if address is not None:
        problem = address_problem(address)
        if problem is not None and not policy.allows_address(address):
            raise SsrfBlocked(shown, f"{host} is {problem}")
    return parsed


async def system_resolver(host: str, port: int) -> list[str]:
    """The addresses the system resolver gives for a host, without duplicates, in its order."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def resolve_checked(
    host: str, port: int, policy: SsrfPolicy, resolver: Resolver = system_resolver
) -> list[str]:
    """Resolve `host` once and return its addresses if the guard allows every one of them.

    Raises SsrfBlocked (with the host as the URL; `GuardedTransport` puts the request
    URL in its place) if any address is refused, and socket.gaierror if it does not
    resolve.
    """
    literal = _literal_address(host)
    if literal is not None:
        addresses = [literal]
    else:
        if _normal_host(host) in METADATA_HOSTS and not policy.allows_host(host):
            raise SsrfBlocked(host, f"{host} is a cloud metadata service")
        addresses = [ip_address(a.split("%", 1)[0]) for a in await resolver(host, port)]
        if not addresses:
            raise socket.gaierror(socket.EAI_NONAME, f"{host} has no addresses")
    if policy.allows_host(host):
        return [str(a) for a in addresses]
    for address in addresses:
        problem = address_problem(address)
        if problem is not None and not policy.allows_address(address):
            what = (
                f"{host} is {problem}" if literal is not None else f"{host} resolves to {address}, {problem}"
            )
            raise SsrfBlocked(host, what)
    return [str(a) for a in addresses]


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """Opens TCP connections only to addresses the policy allows, resolving each host once."""

    def __init__(
        self,
        policy: SsrfPolicy,
        *,
        resolver: Resolver = system_resolver,
        inner: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self.policy = policy
        self.resolver = resolver
        self.inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        try:
            async with asyncio.timeout(timeout):
                addresses = await resolve_checked(host, port, self.policy, self.resolver)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from None
        except OSError as exc:
            raise httpcore.ConnectError(f"could not resolve {host}: {exc.strerror or exc}") from None
        options = list(socket_options) if socket_options is not None else None
        last: Exception | None = None
        for address in addresses:  # the checked addresses, and nothing else
            remaining = None if deadline is None else max(deadline - loop.time(), 0.0)
            try:
                return await self.inner.connect_tcp(
                    address, port, timeout=remaining, local_address=local_address, socket_options=options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


@functools.cache
def _default_ssl_context() -> ssl.SSLContext:
    """Certificate-verifying context, built once (loading the CA bundle takes ~15 ms)."""
    return httpx.create_ssl_context(trust_env=False)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """An httpx transport that checks every request's URL and every address it connects to."""

    def __init__(
        self,
        policy: SsrfPolicy,
        *,
        verify: ssl.SSLContext | bool = True,
        limits: httpx.Limits = httpx.Limits(max_connections=20, max_keepalive_connections=10),
        resolver: Resolver = system_resolver,
    ) -> None:
        if isinstance(verify, ssl.SSLContext):
            ssl_context = verify
        else:
            ssl_context = (
                _default_ssl_context() if verify else httpx.create_ssl_context(False, trust_env=False)
            )
        super().__init__(verify=ssl_context, trust_env=False, limits=limits)
        # httpx builds an httpcore pool without a way to pass the network backend; build
        # our own in its place, and refuse to run if httpx's internals ever change.
        if not isinstance(getattr(self, "_pool", None), httpcore.AsyncConnectionPool):
            raise RuntimeError("unexpected httpx transport internals: refusing to run without the SSRF guard")
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedNetworkBackend(policy, resolver=resolver),
        )
        self.policy = policy

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        check_url(request.url, self.policy)
        try:
            return await super().handle_async_request(request)
        except SsrfBlocked as exc:
            url = request.url.copy_with(username=None, password=None) if request.url.userinfo else request.url
            raise SsrfBlocked(str(url), exc.reason, allowable=exc.allowable) from None


def guarded_client(
    policy: SsrfPolicy,
    *,
    timeout: float = 30.0,
    verify: ssl.SSLContext | bool = True,
    resolver: Resolver = system_resolver,
) -> httpx.AsyncClient:
    """An httpx client whose every request passes the guard. Redirects are not followed
    automatically (use `response.next_request`); the environment is ignored."""
    return httpx.AsyncClient(
        transport=GuardedTransport(policy, verify=verify, resolver=resolver),
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
    )
