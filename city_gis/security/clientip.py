"""The client address of a request, trusting forwarded headers only from configured proxies.

Setting CITYGIS_TRUSTED_PROXIES (env, comma-separated IPs/CIDRs; default empty = trust no proxy).
Every rate limit (DRF throttles, django-axes, Open311, OGC) keys on :func:`client_ip`, so a client
cannot reset its counters by sending a random ``X-Forwarded-For``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from django.conf import settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(e.strip(), strict=False) for e in entries if e.strip())


def trusted_networks() -> tuple[Network, ...]:
    """The configured proxy networks (settings.CITYGIS_TRUSTED_PROXIES)."""
    entries: Iterable[str] = getattr(settings, "CITYGIS_TRUSTED_PROXIES", ()) or ()
    if isinstance(entries, str):
        entries = entries.split(",")
    return _networks(tuple(entries))


def _parse(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    value = value.strip()
    if value.startswith("[") and "]" in value:  # "[::1]:8080"
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # "1.2.3.4:5678"
        value = value.split(":", 1)[0]
    try:
        addr = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        return addr.ipv4_mapped
    return addr


def _is_trusted(addr: ipaddress.IPv4Address | ipaddress.IPv6Address, nets: tuple[Network, ...]) -> bool:
    return any(addr.version == n.version and addr in n for n in nets)


def client_ip(request_or_meta: Any) -> str:
    """The address of the client: REMOTE_ADDR, unless that is a trusted proxy.

    If REMOTE_ADDR is a trusted proxy, X-Forwarded-For is walked right to left, skipping trusted
    proxies; the first untrusted address is the client. Accepts a Django/DRF request or a META dict.
    """
    meta: Mapping[str, str] = request_or_meta if isinstance(request_or_meta, Mapping) else request_or_meta.META
    remote = meta.get("REMOTE_ADDR", "") or ""
    remote_addr = _parse(remote)
    nets = trusted_networks()
    if remote_addr is None or not nets or not _is_trusted(remote_addr, nets):
        return str(remote_addr) if remote_addr is not None else remote
    last = str(remote_addr)
    hops = [h for h in (meta.get("HTTP_X_FORWARDED_FOR", "") or "").split(",") if h.strip()]
    for hop in reversed(hops):
        addr = _parse(hop)
        if addr is None:
            # Garbage written by the client (or a broken proxy): stop at the last address we trust.
            return last
        if not _is_trusted(addr, nets):
            return str(addr)
        last = str(addr)
    return last


def address_in(address: str, entries: Iterable[str] | str) -> bool:
    """True if `address` (as returned by :func:`client_ip`) lies in one of `entries` (IPs/CIDRs, or a
    comma-separated string of them). Used for allow-lists such as CITYGIS_METRICS_ALLOWED."""
    if isinstance(entries, str):
        entries = entries.split(",")
    addr = _parse(address)
    return addr is not None and _is_trusted(addr, _networks(tuple(entries)))


def is_trusted_proxy(request_or_meta: Any) -> bool:
    """True if the request came straight from a configured proxy (REMOTE_ADDR in CITYGIS_TRUSTED_PROXIES):
    only then are headers a proxy sets (X-Forwarded-For, X-Request-ID) believed."""
    meta: Mapping[str, str] = request_or_meta if isinstance(request_or_meta, Mapping) else request_or_meta.META
    addr = _parse(meta.get("REMOTE_ADDR", "") or "")
    nets = trusted_networks()
    return addr is not None and bool(nets) and _is_trusted(addr, nets)


def axes_client_ip(request: Any) -> str:
    """django-axes AXES_CLIENT_IP_CALLABLE: the same rule as every other limit."""
    return client_ip(request)


__all__ = ["address_in", "axes_client_ip", "client_ip", "is_trusted_proxy", "trusted_networks"]
