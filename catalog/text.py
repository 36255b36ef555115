"""The one folding every search here uses — the static site's, the API's and the index's."""

from __future__ import annotations

import unicodedata

import pyarrow as pa
import pyarrow.compute as pc

IGNORED = set("-‐‑–—・")
# Every character `str.isspace` calls a space lies below U+3001 (the ideographic space is the
# last; tests/test_search_syntax.py checks all of Unicode), and the hyphens: deleted by one
# `str.translate`, not a Python loop over each character of every dataset's text.
_DELETED = {c: None for c in range(0x3001) if chr(c).isspace()} | dict.fromkeys(map(ord, IGNORED))


def fold(text: str) -> str:
    """NFKC, lower case, no spaces or hyphens: 「ＷｉＦｉ」 and 「Wi-Fi」 both become 「wifi」."""
    return unicodedata.normalize("NFKC", text).lower().translate(_DELETED)


# What `fold` drops, as one RE2 class over NFKC text: whitespace (after NFKC every Unicode
# space but these few is ASCII) and the hyphens of IGNORED.
_SPACES = "\\s\\x{0b}\\x{1c}-\\x{1f}\\x{85}\\x{2028}\\x{2029}"
_DROPPED = "[" + _SPACES + "".join(f"\\x{{{ord(c):x}}}" for c in sorted(IGNORED)) + "]"


def fold_column(text: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """`fold` over a whole column, in Arrow's C++ kernels (the same result, tested)."""
    lowered = pc.utf8_lower(pc.utf8_normalize(text, form="NFKC"))
    return pc.replace_substring_regex(lowered, _DROPPED, "")
