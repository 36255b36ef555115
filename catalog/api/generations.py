"""The built site a running server answers from — one build at a time, and the next one as
soon as `opendata build` or `release` swaps it in, without a restart.

A `Generation` is one build: its folder held open (so what it reads stays that build's even
after a newer one is swapped in at the same path), its search index and actions, and its
files. Each request takes the current generation once and is answered from it alone; the
first request after a swap loads the new one while others are still answered from the old.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from pathlib import Path

from pipeline.files import open_path

from .. import paths
from .actions import Actions
from .files import SiteFiles

log = logging.getLogger("opendata.serve")


class Generation:
    def __init__(self, site: Path):
        self.fd = os.open(site, os.O_RDONLY | os.O_DIRECTORY)
        weakref.finalize(self, os.close, self.fd)  # when its last request is answered
        stat = os.fstat(self.fd)
        self.identity = (stat.st_dev, stat.st_ino)
        # The open folder by a path of its own: it names this build even once the name
        # `site` is given to a newer one (and until the old build's files are removed).
        self.root = open_path(self.fd, site)  # without /proc: the name, as before
        self.actions = Actions(self.root)
        self.files = SiteFiles(self.root)


class LiveSite:
    """The site folder a server follows: `generation()` is the build it holds now."""

    def __init__(self, site: Path):
        self.site = site
        self.current = Generation(site)
        self._loading = threading.Lock()
        self._refused: tuple[int, int] | None = None  # a build that could not be loaded

    def generation(self, wait: bool = False) -> Generation:
        """The current build; after a swap, the new one (loaded by one request, once). While
        it loads, other requests are answered from the last — or, with `wait`, wait for it."""
        identity = self._identity()
        if identity in (self.current.identity, self._refused):
            return self.current
        if not self._loading.acquire(blocking=wait):
            return self.current
        try:
            if identity in (self.current.identity, self._refused):  # loaded while we waited
                return self.current
            self.current = Generation(self.site)
        except Exception as exc:
            if not (self.site / paths.SEARCH_INDEX).is_file():
                self._refused = identity  # a build without a catalog (--no-catalog)
            log.warning("keeping the previous build: %s: %s", type(exc).__name__, exc)
        finally:
            self._loading.release()
        return self.current

    def stale(self, generation: Generation) -> bool:
        """Whether a newer build has been swapped in since `generation` was taken."""
        return generation.identity != self._identity()

    def _identity(self) -> tuple[int, int]:
        stat = os.stat(self.site)
        return stat.st_dev, stat.st_ino
