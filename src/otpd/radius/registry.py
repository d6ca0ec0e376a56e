"""Which NAS a packet comes from: its source address, matched against every NAS's ranges.

A per-process snapshot of the NAS table with opened secrets, reloaded every few seconds and at
most once a second on an unknown address, so a NAS added with `otpd nas create` is served
within seconds and a flood from unknown addresses costs no database read per packet. While
the node is sealed the snapshot is dropped: no secret stays in memory without the data keys.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from dataclasses import replace

from otpd.core.nas import NasClient
from otpd.radius.gate import RadiusGate

__all__ = ["NasRegistry"]

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_Address = ipaddress.IPv4Address | ipaddress.IPv6Address
RELOAD_SECONDS = 5.0
MISS_RELOAD_SECONDS = 1.0


class NasRegistry:
    def __init__(self, gate: RadiusGate) -> None:
        self._gate = gate
        self._lock = threading.Lock()
        self._entries: list[tuple[_Network, NasClient, bytes]] = []
        self._loaded_at = float("-inf")

    def surely_unknown(self, address: str) -> bool:
        """True if no NAS owns `address` by a snapshot so fresh that find() would not reload
        it: the event loop drops such a packet without a thread hop (an unknown address's
        flood then costs one reload a second, not one per packet)."""
        ip = _address(address)
        if ip is None:
            return True
        if time.monotonic() - self._loaded_at > MISS_RELOAD_SECONDS:
            return False
        return self._match(ip) is None

    def find(self, address: str) -> tuple[NasClient, bytes] | None:
        """The NAS (and its secret) owning `address`; the narrowest range wins."""
        ip = _address(address)
        if ip is None:
            return None
        now = time.monotonic()
        if now - self._loaded_at > RELOAD_SECONDS:
            self.reload()
        found = self._match(ip)
        if found is None and now - self._loaded_at > MISS_RELOAD_SECONDS:
            self.reload()
            found = self._match(ip)
        return found

    def reload(self) -> None:
        entries = []
        for nas, secret in self._gate.load_nas():
            for text in nas.networks:
                entries.append((ipaddress.ip_network(text), nas, secret))
        entries.sort(key=lambda e: -e[0].prefixlen)  # narrowest first
        with self._lock:
            self._entries = entries
            self._loaded_at = time.monotonic()

    def forget(self) -> None:
        with self._lock:
            self._entries = []
            self._loaded_at = float("-inf")

    def mark_message_authenticator(self, nas: NasClient) -> None:
        """Policy auto: this NAS has sent a Message-Authenticator; from now on it must."""
        self._gate.mark_message_authenticator(nas)
        seen = replace(nas, ma_seen=True)
        with self._lock:
            self._entries = [
                (net, seen if (n.tenant, n.name) == (nas.tenant, nas.name) else n, s)
                for net, n, s in self._entries
            ]

    def _match(self, ip: _Address) -> tuple[NasClient, bytes] | None:
        with self._lock:
            for network, nas, secret in self._entries:
                if ip.version == network.version and ip in network:
                    return nas, secret
        return None


def _address(text: str) -> _Address | None:
    try:
        ip = ipaddress.ip_address(text.partition("%")[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        return ip.ipv4_mapped  # a dual-stack socket reports an IPv4 NAS as ::ffff:a.b.c.d
    return ip
