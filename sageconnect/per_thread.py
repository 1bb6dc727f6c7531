"""One client per thread, made on a thread's first use and closed together at the end.

The outside clients (PortalClient, SatStatusClient, …) hold a requests session and counters that are not
shared between threads; the steps and the reconcile report that call from a thread pool each need one per
worker thread. This module imports no app.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar


class Closable(Protocol):
    def close(self) -> None: ...


ClientT = TypeVar("ClientT", bound=Closable)


class PerThread(Generic[ClientT]):
    def __init__(self, make: Callable[[], ClientT]) -> None:
        self._make = make
        self._local = threading.local()
        self._lock = threading.Lock()
        self._made: list[ClientT] = []

    def get(self) -> ClientT:
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = self._make()
            with self._lock:
                self._made.append(client)
        return client

    def close(self) -> None:
        """Closes every client made; call once the threads are done with them."""
        with self._lock:
            made, self._made = self._made, []
        for client in made:
            client.close()
