"""DNS under the tests' control, for names they own (the reserved `.example` domain): each lookup of such a name
takes the next of its answers and the last one repeats, as a rebinding attacker's server answers; every other name
goes to the system resolver. The portal resolves through `socket.getaddrinfo` (in a worker thread for aiohttp),
so `ControlledDNS.install(monkeypatch)` is seen by save-time checks, provider clients and webhooks alike.

    dns = ControlledDNS.install(monkeypatch)
    dns.answer("rebind.example", "93.184.215.14", "127.0.0.1")   # public once, then loopback
    dns.lookups["rebind.example"]                                  # how many times it was asked
"""

from __future__ import annotations

import socket
from collections import Counter
from typing import Any


class ControlledDNS:
    def __init__(self, system_getaddrinfo: Any) -> None:
        self._system = system_getaddrinfo
        self._answers: dict[str, list[list[str]]] = {}
        self.lookups: Counter[str] = Counter()

    @classmethod
    def install(cls, monkeypatch) -> ControlledDNS:
        dns = cls(socket.getaddrinfo)
        monkeypatch.setattr(socket, "getaddrinfo", dns.getaddrinfo)
        return dns

    def answer(self, name: str, *answers: str | list[str]) -> None:
        """The answers to successive lookups of `name`: an address, or a list of addresses, each."""
        self._answers[name.lower()] = [[answer] if isinstance(answer, str) else list(answer) for answer in answers]

    def getaddrinfo(self, host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0):
        name = (host.decode() if isinstance(host, bytes) else str(host or "")).lower().rstrip(".")
        if name not in self._answers:
            return self._system(host, port, family, type, proto, flags)
        self.lookups[name] += 1
        answers = self._answers[name]
        addresses = answers.pop(0) if len(answers) > 1 else answers[0]
        port_number = int(port or 0)
        results = []
        for address in addresses:
            ipv6 = ":" in address
            if family not in (0, socket.AF_INET6 if ipv6 else socket.AF_INET):
                continue
            sockaddr = (address, port_number, 0, 0) if ipv6 else (address, port_number)
            results.append((socket.AF_INET6 if ipv6 else socket.AF_INET, socket.SOCK_STREAM, 6, "", sockaddr))
        if not results:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return results
