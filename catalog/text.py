"""The one folding every search here uses — the static site's, the API's and the index's."""

from __future__ import annotations

import unicodedata

IGNORED = set("-‐‑–—・")


def fold(text: str) -> str:
    """NFKC, lower case, no spaces or hyphens: 「ＷｉＦｉ」 and 「Wi-Fi」 both become 「wifi」."""
    folded = unicodedata.normalize("NFKC", text).lower()
    return "".join(ch for ch in folded if not ch.isspace() and ch not in IGNORED)


def bigrams(text: str) -> set[str]:
    return {text[i : i + 2] for i in range(len(text) - 1)}
