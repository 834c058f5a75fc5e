"""Where outbound calls that a tenant can aim may go: provider base URLs, model sync, alert webhooks.

Tenant admins choose these URLs. Unchecked, they could make the portal send its stored credentials and their own
bodies into the portal's network (an admin port on loopback, the cloud metadata service at 169.254.169.254, a
database on a private range) and read the answer back. So an outbound call may reach a *public* address only,
unless the operator allows more: networks or host names in an allow-list, or everything (a trusted provider, an
alert setting).

The rule is applied to the address a connection is actually made to, when it is made: `GuardedTransport` here for
httpx, `apps.providers.clients.netguard` for aiohttp. A name that resolves somewhere public when a URL is saved and
inward later (DNS rebinding) is caught then. `address_refusal` is the same rule at save time, for a clear early error.

Django-free: the data plane imports it.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from typing import Any
from urllib.parse import urlsplit

import httpx

IPAddress = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network

_NAT64 = IPv6Network("64:ff9b::/96")  # RFC 6052: a gateway relays these to the IPv4 address in the last 32 bits
_IPV4_COMPATIBLE = IPv6Network("::/96")  # deprecated ::a.b.c.d
_HOST_NAME = re.compile(
    r"(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*"
)
# What inet_aton reads as an IPv4 address besides the dotted quad: 2130706433, 0x7f.1, 127.1, 0177.0.0.1.
_LEGACY_IPV4 = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+)){0,3}")
INTERNAL = "loopback, private, link-local or reserved"
_LOOPBACK = (IPv4Address("127.0.0.1"), IPv6Address("::1"))


class AddressRefused(Exception):
    """The host of an outbound call is, or resolves only to, addresses the policy does not allow."""

    def __init__(self, host: str) -> None:
        super().__init__(f"{host} is or resolves to an internal address ({INTERNAL})")
        self.host = host


def _embedded_ipv4(address: IPv6Address) -> IPv4Address | None:
    """The IPv4 address an IPv6 address carries to (mapped, 6to4, NAT64, IPv4-compatible), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64 or (address in _IPV4_COMPATIBLE and int(address) > 1):
        return IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public(address: IPAddress) -> bool:
    """Whether `address` is on the public internet: not loopback, private (RFC 1918, unique-local fc00::/7),
    link-local (169.254/16 with the metadata service, fe80::/10), CGNAT (100.64/10), site-local (fec0::/10),
    multicast, unspecified (0.0.0.0, ::), reserved or documentation ranges, nor an IPv6 form of such an IPv4
    address (::ffff:127.0.0.1, 64:ff9b::7f00:1, 2002:7f00:1::)."""
    if isinstance(address, IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None and not is_public(embedded):
            return False
        if address.ipv4_mapped is not None:
            return True  # the IPv4 address it maps to is public
        if address.is_site_local:
            return False
    return address.is_global and not (
        address.is_multicast
        or address.is_private
        or address.is_reserved
        or address.is_loopback
        or address.is_link_local
        or address.is_unspecified
    )


def normalize_host(host: str) -> str:
    """A host as compared: lower case, without the brackets of an IPv6 literal or the dot of a rooted name."""
    host = host.strip().lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host.rstrip(".")


def host_address(host: str) -> IPAddress | None:
    """The address a host written as an IP literal stands for, legacy numeric IPv4 forms included; None for a name."""
    host = normalize_host(host)
    try:
        return ip_address(host)
    except ValueError:
        pass
    if _LEGACY_IPV4.fullmatch(host):
        try:
            return IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def is_local_name(host: str) -> bool:
    """`localhost` and its subdomains always mean this machine (RFC 6761), whatever DNS says."""
    host = normalize_host(host)
    return host == "localhost" or host.endswith(".localhost")


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """Which internal destinations an outbound call may reach besides public addresses: addresses in `networks`,
    any address of a host named in `hosts`, or anything at all (`allow_all`)."""

    networks: tuple[Network, ...] = ()
    hosts: frozenset[str] = frozenset()
    allow_all: bool = False

    @classmethod
    def from_entries(cls, entries: Iterable[str]) -> AddressPolicy:
        """A policy from an operator's list: CIDR networks or addresses (10.0.0.0/8, ::1) and host names
        (ollama, gpu-box.internal). ValueError names an entry that is neither."""
        networks: list[Network] = []
        hosts: set[str] = set()
        for entry in entries:
            entry = entry.strip()
            try:
                networks.append(ip_network(entry.strip("[]"), strict=False))
                continue
            except ValueError:
                pass
            host = normalize_host(entry)
            if not _HOST_NAME.fullmatch(host) or host_address(host) is not None:
                raise ValueError(f"{entry!r} is neither a network such as 10.0.0.0/8 nor a host name")
            hosts.add(host)
        return cls(networks=tuple(networks), hosts=frozenset(hosts))

    def permits_host(self, host: str) -> bool:
        """Whether every address of `host` is allowed without looking at them (allow-all, or a listed name)."""
        return self.allow_all or normalize_host(host) in self.hosts

    def permits(self, address: IPAddress) -> bool:
        if self.allow_all:
            return True
        if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped  # the connection goes to the IPv4 address
        return is_public(address) or any(address in network for network in self.networks)


ALLOW_ALL = AddressPolicy(allow_all=True)
PUBLIC_ONLY = AddressPolicy()


def resolve(host: str, port: int, family: int = 0) -> list[IPAddress]:
    """Every address `host` resolves to (OSError when it does not resolve)."""
    infos = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)
    # An IPv6 link-local answer carries its interface (fe80::1%eth0); the address alone is what is judged.
    return list(dict.fromkeys(ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos))


def _addresses_of(host: str, port: int, family: int = 0) -> list[IPAddress]:
    literal = host_address(host)
    if literal is not None:
        return [literal]
    if is_local_name(host):  # never asked of DNS: loopback, whatever a resolver would say
        return [a for a in _LOOPBACK if family in (0, socket.AF_INET if a.version == 4 else socket.AF_INET6)]
    return resolve(normalize_host(host), port, family)


def permitted_addresses(host: str, port: int, policy: AddressPolicy, family: int = 0) -> list[IPAddress]:
    """The addresses of `host` that a connection may use under `policy`, resolved now. AddressRefused when there is
    none; OSError when the name does not resolve. A listed host name is resolved without being judged."""
    addresses = _addresses_of(host, port, family)
    if policy.permits_host(host):
        return addresses
    allowed = [address for address in addresses if policy.permits(address)]
    if not allowed:
        raise AddressRefused(host)
    return allowed


def url_problem(url: str) -> str | None:
    """What makes `url` unusable for an outbound HTTP call whatever its address, or None."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError on a bad port)
    except ValueError:
        return "Enter a valid URL."
    if parts.scheme not in ("http", "https"):
        return "Use an http:// or https:// URL."
    if parts.username is not None or parts.password is not None:
        return "Remove the user name and password from the URL: the API key field holds the credential."
    if not parts.hostname:
        return "The URL has no host."
    host = normalize_host(parts.hostname)
    literal = host_address(host)
    if literal is not None and isinstance(literal, IPv4Address) and str(literal) != host:
        return f"Write the IP address as {literal}, in dotted decimal form."
    return None


def address_refusal(url: str, policy: AddressPolicy) -> str | None:
    """Why the host of `url` (a URL url_problem accepts) may not be saved as a target under `policy`, or None.
    Stricter than the check made when connecting: a name with any internal address is refused. A name that does
    not resolve now is accepted; the check made when connecting decides then."""
    parts = urlsplit(url)
    host = normalize_host(str(parts.hostname))
    if policy.permits_host(host):
        return None
    try:
        addresses = _addresses_of(host, parts.port or (443 if parts.scheme == "https" else 80))
    except (OSError, UnicodeError):
        return None
    if all(policy.permits(address) for address in addresses):
        return None
    named = host_address(host) is None and not is_local_name(host)
    return f"{host} {'resolves to' if named else 'is'} an internal address ({INTERNAL})"


class GuardedTransport(httpx.HTTPTransport):
    """An httpx transport that connects only where `policy` allows. The host is resolved once, its addresses are
    judged, and the connection is made to a permitted one (TLS still checks the certificate against the name), so
    no second lookup can point elsewhere. Raises AddressRefused; a name that does not resolve is an
    httpx.ConnectError. Give each client one host: connections are pooled by address."""

    def __init__(self, policy: AddressPolicy, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._policy = policy

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        host = url.raw_host.decode("ascii")  # IDNA-encoded, IPv6 without brackets
        if self._policy.permits_host(host):
            return super().handle_request(request)
        try:
            address = permitted_addresses(host, url.port or (443 if url.scheme == "https" else 80), self._policy)[0]
        except (OSError, UnicodeError) as exc:
            raise httpx.ConnectError(f"{host} does not resolve: {exc}", request=request) from exc
        if str(address) != normalize_host(host):
            request.url = url.copy_with(host=str(address))
            if url.scheme == "https":
                request.extensions = {**request.extensions, "sni_hostname": host}
        return super().handle_request(request)
