"""A private network of Linux network namespaces, for tests that need several "hosts".

Each host is a namespace with one veth link to a bridge that lives in a namespace
of its own, like machines on one switch. Addresses are IPv4 link-local
(169.254.0.0/16): they exist only inside this network and are never routed off
the machine. The test process joins the network too (one more veth, on the root
side) so it can reach every host. Names carry a random run id, and
:meth:`Network.close` removes everything even after a failure.
"""

from __future__ import annotations

import contextlib
import os
import random
import secrets
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field


def netns_unavailable() -> str | None:
    """Why namespaced tests cannot run here, or None when they can."""
    if os.name != "posix" or not hasattr(os, "geteuid"):
        return "network namespaces exist only on Linux"
    if os.geteuid() != 0:
        return "making network namespaces needs root (CI runs the suite as root)"
    if shutil.which("ip") is None or shutil.which("unshare") is None:
        return "the ip (iproute2) and unshare (util-linux) commands are not installed"
    probe = f"i2vprobe{secrets.token_hex(3)}"
    made = subprocess.run(
        ["ip", "netns", "add", probe], check=False, capture_output=True, text=True
    )
    if made.returncode != 0:
        return f"ip netns is not available here: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], check=False, capture_output=True)
    return None


def ip(*args: str, netns: str | None = None) -> None:
    """Run an ``ip`` command, in ``netns`` if given; raise with its message on failure."""
    command = ["ip", *args] if netns is None else ["ip", "netns", "exec", netns, "ip", *args]
    done = subprocess.run(command, check=False, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)}: {done.stderr.strip()}")


@dataclass
class Host:
    """One namespace on the network: its name, address and the name of its link."""

    netns: str
    address: str
    link: str
    #: The bridge-side end of the link: taking it down is pulling the host's cable.
    port: str


@dataclass
class Network:
    """A bridge and the hosts on it; use as a context manager."""

    run: str = field(default_factory=lambda: secrets.token_hex(3))
    hosts: dict[str, Host] = field(default_factory=dict)
    #: The test process's own address on the network.
    address: str = ""
    _subnet: str = ""
    _bridge_ns: str = ""
    _root_link: str = ""
    _made: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        # A /24 inside 169.254.0.0/16, avoiding .169 (cloud metadata lives at 169.254.169.254).
        third = random.choice([n for n in range(10, 250) if n != 169])
        self._subnet = f"169.254.{third}"
        self._bridge_ns = f"i2v{self.run}-sw"

    def __enter__(self) -> Network:
        try:
            self._add_netns(self._bridge_ns)
            ip("link", "add", "br0", "type", "bridge", netns=self._bridge_ns)
            ip("link", "set", "br0", "up", netns=self._bridge_ns)
            # The test process's own link stays in the root namespace.
            self._root_link = f"i2v{self.run}t"
            self.address = f"{self._subnet}.250"
            self._plug(None, self._root_link, f"i2v{self.run}T", self.address)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add_host(self, name: str) -> Host:
        """Add a host namespace with the next free address."""
        number = len(self.hosts) + 1
        netns = f"i2v{self.run}-{name}"
        self._add_netns(netns)
        ip("link", "set", "lo", "up", netns=netns)
        link, port = f"i2v{self.run}{number}", f"i2v{self.run}{number}p"
        host = Host(netns, f"{self._subnet}.{number}", link, port)
        self._plug(netns, link, port, host.address)
        self.hosts[name] = host
        return host

    def cut(self, name: str) -> None:
        """Pull the host's cable: its packets go nowhere, and it is not told."""
        ip("link", "set", self.hosts[name].port, "down", netns=self._bridge_ns)

    def restore(self, name: str) -> None:
        """Plug the host's cable back in."""
        ip("link", "set", self.hosts[name].port, "up", netns=self._bridge_ns)

    def _add_netns(self, netns: str) -> None:
        ip("netns", "add", netns)
        self._made.append(netns)

    def _plug(self, netns: str | None, link: str, port: str, address: str) -> None:
        ip("link", "add", link, "type", "veth", "peer", "name", port)
        ip("link", "set", port, "netns", self._bridge_ns)
        ip("link", "set", port, "master", "br0", netns=self._bridge_ns)
        ip("link", "set", port, "up", netns=self._bridge_ns)
        if netns is not None:
            ip("link", "set", link, "netns", netns)
        ip("addr", "add", f"{address}/24", "dev", link, netns=netns)
        ip("link", "set", link, "up", netns=netns)

    def close(self) -> None:
        """Stop whatever still runs in the hosts, then remove every namespace and link."""
        for netns in reversed(self._made):
            _kill_all_in(netns)
            subprocess.run(["ip", "netns", "del", netns], check=False, capture_output=True)
        self._made.clear()
        if self._root_link:
            # Gone with its peer's namespace already; this only covers a half-made network.
            subprocess.run(["ip", "link", "del", self._root_link], check=False, capture_output=True)


def _kill_all_in(netns: str) -> None:
    """Kill the processes left in a namespace of this run (every one of them was started here)."""
    for _ in range(50):
        listed = subprocess.run(
            ["ip", "netns", "pids", netns], check=False, capture_output=True, text=True
        )
        pids = [int(p) for p in listed.stdout.split()]
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)
