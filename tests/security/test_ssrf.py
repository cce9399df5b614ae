"""The SSRF guard: address rules, the policy, and a real httpx client against local servers."""

from __future__ import annotations

import json
import ssl
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import ip_address, ip_network
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from wirework.security.ssrf import (
    SsrfBlocked,
    SsrfPolicy,
    address_problem,
    check_url,
    guarded_client,
    resolve_checked,
)

HINT = " Allow it with WIREWORK_HTTP_ALLOW_HOSTS if you mean it."
LOOPBACK = SsrfPolicy(allow_networks=(ip_network("127.0.0.0/8"),))


# -- address rules -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "a loopback address"),
        ("127.255.0.9", "a loopback address"),
        ("10.1.2.3", "a private address"),
        ("172.16.5.4", "a private address"),
        ("172.31.255.255", "a private address"),
        ("192.168.1.1", "a private address"),
        ("169.254.169.254", "a link-local/metadata address"),
        ("100.64.0.1", "a carrier-grade NAT (shared) address"),
        ("100.100.100.200", "a carrier-grade NAT (shared) address"),  # Alibaba metadata
        ("192.0.0.192", "a special-purpose (IETF) address"),  # Oracle metadata
        ("0.0.0.0", "an unspecified ('this network') address"),
        ("224.0.0.1", "a multicast address"),
        ("240.0.0.1", "a reserved address"),
        ("255.255.255.255", "a reserved address"),
        ("198.18.0.1", "a benchmarking address"),
        ("192.0.2.10", "not a public internet address"),  # documentation range
        ("::1", "a loopback address"),
        ("::", "an unspecified address"),
        ("fc00::1", "a private (unique local) address"),
        ("fd00:ec2::254", "a private (unique local) address"),  # AWS metadata over IPv6
        ("fe80::1", "a link-local address"),
        ("ff02::1", "a multicast address"),
        ("2001:db8::1", "not a public internet address"),
        ("::ffff:127.0.0.1", "an IPv4-mapped address of 127.0.0.1, a loopback address"),
        (
            "::ffff:169.254.169.254",
            "an IPv4-mapped address of 169.254.169.254, a link-local/metadata address",
        ),
        ("::ffff:10.0.0.1", "an IPv4-mapped address of 10.0.0.1, a private address"),
        ("::7f00:1", "an IPv4-compatible address of 127.0.0.1, a loopback address"),
        ("2002:7f00:1::1", "a 6to4 address of 127.0.0.1, a loopback address"),
        ("64:ff9b::a9fe:a9fe", "a NAT64 address of 169.254.169.254, a link-local/metadata address"),
    ],
)
def test_blocked_addresses(address: str, reason: str) -> None:
    assert address_problem(ip_address(address)) == reason


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700:4700::1111", "::ffff:8.8.8.8", "2002:808:808::1"],
)
def test_public_addresses_pass(address: str) -> None:
    assert address_problem(ip_address(address)) is None


def test_policy_from_setting_entries() -> None:
    policy = SsrfPolicy.from_entries(
        ["LocalHost.", " 10.0.0.0/8 ", "*.corp.example", "", "::1", "[fd00::]/8"]
    )
    assert policy.allow_hosts == frozenset({"localhost", "*.corp.example"})
    assert policy.allow_networks == (ip_network("10.0.0.0/8"), ip_network("::1/128"), ip_network("fd00::/8"))
    assert not policy.allow_all
    assert policy.allows_host("localhost")
    assert policy.allows_host("api.corp.example")
    assert not policy.allows_host("corp.example")
    assert not policy.allows_host("evilcorp.example")
    assert policy.allows_address(ip_address("10.9.9.9"))
    assert policy.allows_address(ip_address("::ffff:10.9.9.9"))  # the mapped form of an allowed address
    assert not policy.allows_address(ip_address("11.0.0.1"))
    assert SsrfPolicy.from_entries(["*"]).allow_all


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "http://169.254.169.254/latest/meta-data/",
            "Refused to call http://169.254.169.254/latest/meta-data/: "
            "169.254.169.254 is a link-local/metadata address." + HINT,
        ),
        (
            "http://[::ffff:127.0.0.1]:8080/",
            "Refused to call http://[::ffff:127.0.0.1]:8080/: ::ffff:127.0.0.1 is an IPv4-mapped address of "
            "127.0.0.1, a loopback address." + HINT,
        ),
        (
            "http://Metadata.Google.Internal./computeMetadata/v1/",
            "Refused to call http://metadata.google.internal./computeMetadata/v1/: "
            "metadata.google.internal. is a cloud metadata service." + HINT,
        ),
        (
            "file:///etc/passwd",
            "Refused to call file:/etc/passwd: only http and https URLs are allowed, not file.",
        ),
        (
            "gopher://example.com/",
            "Refused to call gopher://example.com/: only http and https URLs are allowed, not gopher.",
        ),
        (
            "http://user:pw@10.0.0.1/",
            "Refused to call http://10.0.0.1/: 10.0.0.1 is a private address." + HINT,
        ),
    ],
)
def test_check_url_refuses_with_a_clear_message(url: str, message: str) -> None:
    with pytest.raises(SsrfBlocked) as caught:
        check_url(url, SsrfPolicy())
    assert str(caught.value) == message


def test_check_url_leaves_names_to_connect_time_and_honours_the_policy() -> None:
    assert check_url("https://example.com/x", SsrfPolicy()).host == "example.com"
    assert check_url("http://localhost:8000/", SsrfPolicy()).host == "localhost"  # resolved when connecting
    assert check_url("http://169.254.169.254/", SsrfPolicy.from_entries(["169.254.169.254"])).port is None
    assert check_url(
        "http://metadata.google.internal/", SsrfPolicy.from_entries(["metadata.google.internal"])
    )
    with pytest.raises(SsrfBlocked, match="not ftp"):
        check_url("ftp://example.com/", SsrfPolicy(allow_all=True))


def fixed_resolver(table: dict[str, list[str]]) -> Any:
    async def resolve(host: str, port: int) -> list[str]:
        return table[host]

    return resolve


async def test_resolution_refuses_if_any_address_is_blocked() -> None:
    resolver = fixed_resolver(
        {"mixed.test": ["93.184.216.34", "127.0.0.1"], "public.test": ["93.184.216.34"]}
    )
    assert await resolve_checked("public.test", 80, SsrfPolicy(), resolver) == ["93.184.216.34"]
    with pytest.raises(SsrfBlocked, match=r"mixed\.test resolves to 127\.0\.0\.1, a loopback address"):
        await resolve_checked("mixed.test", 80, SsrfPolicy(), resolver)
    allowed = SsrfPolicy.from_entries(["mixed.test"])
    assert await resolve_checked("mixed.test", 80, allowed, resolver) == ["93.184.216.34", "127.0.0.1"]


async def test_real_resolution_of_localhost_is_refused() -> None:
    with pytest.raises(SsrfBlocked, match=r"localhost resolves to (127\.0\.0\.1|::1), a loopback address"):
        await resolve_checked("localhost", 80, SsrfPolicy())


# -- a real client against local servers ---------------------------------------------------


class Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.hits: Counter[str] = Counter()
        self.lock = threading.Lock()

    def url(self, path: str = "/", host: str = "127.0.0.1", scheme: str = "http") -> str:
        return f"{scheme}://{host}:{self.server_port}{path}"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        with self.server.lock:
            self.server.hits[parts.path] += 1
        if parts.path == "/redirect":
            target = parse_qs(parts.query)["to"][0]
            self.send_response(302)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = json.dumps({"path": parts.path, "host": self.headers.get("host")}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def serve(server: Server) -> Iterator[Server]:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    yield from serve(Server())


async def test_loopback_is_refused_before_connecting(server: Server) -> None:
    async with guarded_client(SsrfPolicy()) as client:
        with pytest.raises(SsrfBlocked) as caught:
            await client.get(server.url("/refused"))
    assert str(caught.value) == (
        f"Refused to call {server.url('/refused')}: 127.0.0.1 is a loopback address. "
        "Allow it with WIREWORK_HTTP_ALLOW_HOSTS if you mean it."
    )
    assert server.hits["/refused"] == 0


@pytest.mark.parametrize("host", ["localhost", "2130706433", "127.1"])
async def test_names_that_resolve_to_loopback_are_refused_when_connecting(server: Server, host: str) -> None:
    async with guarded_client(SsrfPolicy()) as client:
        with pytest.raises(
            SsrfBlocked, match=f"Refused to call http://{host}:.*: {host} resolves to .*loopback"
        ):
            await client.get(server.url("/by-name", host=host))
    assert server.hits["/by-name"] == 0


async def test_allow_listed_addresses_and_hosts_pass(server: Server) -> None:
    async with guarded_client(LOOPBACK) as client:
        response = await client.get(server.url("/ok"))
    assert response.json() == {"path": "/ok", "host": f"127.0.0.1:{server.server_port}"}
    async with guarded_client(SsrfPolicy.from_entries(["localhost"])) as client:
        response = await client.get(server.url("/ok", host="localhost"))  # falls back from ::1 if need be
    assert response.status_code == 200
    async with guarded_client(SsrfPolicy(allow_all=True)) as client:
        assert (await client.get(server.url("/ok"))).status_code == 200


async def test_the_connection_goes_to_the_checked_address_with_the_host_header_kept(server: Server) -> None:
    # A name whose (only) answer was checked: the connection uses that answer, not a second lookup.
    resolver = fixed_resolver({"api.rebind.test": ["127.0.0.2", "127.0.0.1"]})
    async with guarded_client(LOOPBACK, resolver=resolver) as client:
        response = await client.get(server.url("/named", host="api.rebind.test"))
    assert response.json() == {"path": "/named", "host": f"api.rebind.test:{server.server_port}"}
    rebinding = fixed_resolver({"api.rebind.test": ["127.0.0.1"]})
    async with guarded_client(SsrfPolicy(), resolver=rebinding) as client:
        with pytest.raises(SsrfBlocked, match=r"api\.rebind\.test resolves to 127\.0\.0\.1"):
            await client.get(server.url("/rebound", host="api.rebind.test"))
    assert server.hits["/rebound"] == 0


async def test_every_redirect_hop_is_checked(server: Server) -> None:
    async with guarded_client(LOOPBACK) as client:
        first = await client.get(server.url("/redirect?to=http://169.254.169.254/latest/meta-data/"))
        assert first.status_code == 302
        assert first.next_request is not None
        with pytest.raises(
            SsrfBlocked, match=r"^Refused to call http://169\.254\.169\.254/latest/meta-data/"
        ):
            await client.send(first.next_request)
        with pytest.raises(SsrfBlocked, match=r"169\.254\.169\.254 is a link-local"):
            await client.get(
                server.url("/redirect?to=http://169.254.169.254/"), follow_redirects=True
            )  # httpx's own redirects pass the transport too
        with pytest.raises(SsrfBlocked, match="only http and https"):
            await client.get(server.url("/redirect?to=file:///etc/passwd"), follow_redirects=True)


async def test_environment_proxies_are_ignored(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://10.0.0.1:3128")
    monkeypatch.setenv("ALL_PROXY", "http://10.0.0.1:3128")
    async with guarded_client(LOOPBACK) as client:
        assert (await client.get(server.url("/direct"))).status_code == 200


# -- TLS: the certificate is checked against the host name, not the connected address ------


@pytest.fixture(scope="module")
def tls(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Server, ssl.SSLContext, list[str | None]]]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, False, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    folder: Path = tmp_path_factory.mktemp("tls")
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    (folder / "cert.pem").write_bytes(cert_pem)
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    sni: list[str | None] = []
    server_context.sni_callback = lambda sock, name, ctx: sni.append(name)
    srv = Server()
    srv.socket = server_context.wrap_socket(srv.socket, server_side=True)
    client_context = ssl.create_default_context(cadata=cert_pem.decode())
    for running in serve(srv):
        yield running, client_context, sni


async def test_tls_verifies_the_host_name_and_sends_it_as_sni(
    tls: tuple[Server, ssl.SSLContext, list[str | None]],
) -> None:
    server, trust, sni = tls
    policy = SsrfPolicy.from_entries(["localhost"])
    async with guarded_client(policy, verify=trust) as client:
        response = await client.get(server.url("/secure", host="localhost", scheme="https"))
    assert response.json() == {"path": "/secure", "host": f"localhost:{server.server_port}"}
    assert sni[-1] == "localhost"
    # By address, the certificate (issued for "localhost") does not match: verification is on.
    async with guarded_client(LOOPBACK, verify=trust) as client:
        with pytest.raises(httpx.ConnectError, match="certificate verify failed"):
            await client.get(server.url("/secure", scheme="https"))
