"""Where outgoing webhooks may go: never the server's own network unless the operator says so.

A webhook URL is chosen by an organization admin, so without a rule the server would
POST to whatever it can reach: its loopback services, the private network it runs in,
the cloud metadata endpoint (169.254.169.254). Every address a destination resolves to
must be a public (globally routable) one, unless the host, or a network containing the
address, is on the operator's allow list (``PASSGATE_WEBHOOK_ALLOWED_HOSTS``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Iterable
from urllib.parse import urlsplit

from passgate.domain.errors import ValidationError

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# Names that mean "this machine" or a cloud's metadata service whatever DNS says.
_LOCAL_NAMES = ("localhost", "localhost.localdomain", "metadata.google.internal")
_LOCAL_SUFFIXES = (".localhost", ".internal", ".local")


def host_of(url: str, field: str = "url") -> str:
    try:
        host = urlsplit(url).hostname
    except ValueError as exc:
        raise ValidationError(f"{field} is not a valid URL", field=field) from exc
    if not host:
        raise ValidationError(f"{field} must name a host", field=field)
    return host.lower().rstrip(".")


def _ip(text: str) -> IpAddress | None:
    try:
        ip = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    return ip


def _allowed(host: str, ip: IpAddress | None, allowed: Collection[str]) -> bool:
    """The host by name, or its address inside an allowed address or network."""
    for raw in allowed:
        entry = raw.strip().lower()
        if entry == host:
            return True
        if ip is None:
            continue
        try:
            network = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            continue  # a host name, not a network
        if ip in network:
            return True
    return False


def _refusal(field: str, what: str) -> ValidationError:
    return ValidationError(
        f"{field} points to {what}; webhooks go to public addresses only unless the operator "
        "allows the host (PASSGATE_WEBHOOK_ALLOWED_HOSTS)",
        field=field,
    )


def check_host(host: str, allowed: Collection[str], field: str = "url") -> None:
    """What can be told from the URL alone: a literal internal address or a local name."""
    ip = _ip(host)
    if _allowed(host, ip, allowed):
        return
    if ip is not None and not ip.is_global:
        raise _refusal(field, f"the non-public address {ip}")
    if host in _LOCAL_NAMES or host.endswith(_LOCAL_SUFFIXES):
        raise _refusal(field, f"the local name {host}")


def check_addresses(
    host: str, addresses: Iterable[str], allowed: Collection[str], field: str = "url"
) -> None:
    """Every address ``host`` resolved to must be public or allowed (checked per delivery)."""
    check_host(host, allowed, field)
    if host in (a.strip().lower() for a in allowed):
        return
    for text in addresses:
        ip = _ip(text)
        if ip is None:
            raise _refusal(field, f"an unreadable address {text!r}")
        if not ip.is_global and not _allowed(host, ip, allowed):
            raise _refusal(field, f"the non-public address {ip} (resolved from {host})")
