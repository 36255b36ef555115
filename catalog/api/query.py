"""The query language of `package_search`'s `q` and `fq`: the subset of Solr's standard
(Lucene) query syntax that CKAN clients send, parsed into a small typed tree.

    q=人権                        a word (Japanese substring of the folded text)
    q="港区 基本計画"              a phrase: the words next to each other
    q=tags:人権 res_format:CSV    field queries; juxtaposed clauses must all match
    q=人権 OR 子育て               OR, AND, NOT (upper case), && || !, a leading - or +
    q=tags:(人権 OR 防災) -title:計画
    q=*:*                         every dataset;  field:* → has a value
    fq=metadata_modified:[NOW-1YEAR TO NOW]

Bare clauses combine with AND (CKAN's Solr schema sets defaultOperator="AND"); AND binds
tighter than OR, so `a b OR c` is `(a AND b) OR c`. NOT, ! and - exclude; + marks a clause
required, which it already is. Everything else of Lucene's syntax — wildcards other than a
trailing `*`, fuzzy and proximity (`~`), boosts (`^`), regular expressions (`/…/`), ranges on
fields other than metadata_modified, local parameters (`{!…}`) — is a QueryError that names
it, never a silent 0.

The tokenizer is one regular expression applied left to right (linear); the parser is
recursive descent whose depth is bounded by MAX_DEPTH before it recurses, so a string of
10,000 parentheses is a QueryError, not a RecursionError. Length, clauses and distinct words
are bounded too (each word costs an index look-up).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum

from ..text import fold

MAX_LENGTH = 1000  # characters of one q or fq
MAX_DEPTH = 10  # nested parentheses
MAX_CLAUSES = 20  # field or word clauses in one q or fq
MAX_TERMS = 10  # distinct words (text look-ups) in one q or fq: a one-character one scans all


class QueryError(ValueError):
    """A query the index cannot run (CKAN's 'Search Query Error'). The message is Japanese
    first, English beside, and has no ": " — ckanapi keeps only what follows the first one
    (CKAN's own messages start "Search Query is invalid: ")."""


class Kind(Enum):
    TEXT = "text"  # folded, Japanese substring search
    EXACT = "exact"  # the whole value, as stored (Solr's string fields)
    DATE = "date"  # ranges of time


# The fields a query may name, and how each is matched. `text` is the default field: title,
# description, English title, tags, resource names and field titles, as the index folds them.
FIELDS: dict[str, Kind] = {
    "text": Kind.TEXT,
    "title": Kind.TEXT,
    "notes": Kind.TEXT,
    "name": Kind.EXACT,
    "id": Kind.EXACT,
    "tags": Kind.EXACT,
    "groups": Kind.EXACT,
    "organization": Kind.EXACT,
    "res_format": Kind.EXACT,
    "license_id": Kind.EXACT,
    "metadata_modified": Kind.DATE,
}
DEFAULT_FIELD = "text"


# -- the tree --------------------------------------------------------------------------------
@dataclass(frozen=True)
class All:
    """Every dataset (`*:*`, `*`, or an empty query)."""


@dataclass(frozen=True)
class Text:
    """The folded `term` is a substring of the field's folded text (a phrase: its words
    adjacent, as folding drops the spaces)."""

    field: str
    term: str
    phrase: bool = False


@dataclass(frozen=True)
class Exact:
    field: str
    value: str


@dataclass(frozen=True)
class Prefix:
    """`field:value*` on an exact field: a value starting with `prefix`."""

    field: str
    prefix: str


@dataclass(frozen=True)
class Exists:
    """`field:*`: the field has a (non-empty) value."""

    field: str


@dataclass(frozen=True)
class Range:
    """`field:[low TO high]` (`{` `}` exclude the bound); `*` is open."""

    field: str
    low: str
    high: str
    include_low: bool = True
    include_high: bool = True

    def seconds(self) -> tuple[int, int]:
        """The inclusive bounds in seconds since the epoch (as the index stores times)."""
        low = _time(self.low, low=True) + (0 if self.include_low else 1)
        high = _time(self.high, low=False) - (0 if self.include_high else 1)
        return low, high


@dataclass(frozen=True)
class Not:
    child: Node


@dataclass(frozen=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    children: tuple[Node, ...]


Node = All | Text | Exact | Prefix | Exists | Range | Not | And | Or
Leaf = Text | Exact | Prefix | Exists | Range


# -- tokens ----------------------------------------------------------------------------------
# Lucene's term characters: not white space and none of  " ( ) [ ] { } : ^ ~ \  (escaped with a
# backslash they are), and not starting with + - ! or / (a regular expression); * and ? are
# wildcards. A / inside a word is kept, unlike Lucene, so 「2023/04」 stays a word as before.
_TERM_START = r'(?:[^\s"()\[\]{}:^~/\\+!-]|\\.)'
_TERM_CHAR = r'(?:[^\s"()\[\]{}:^~\\]|\\.)'
TOKEN = re.compile(
    rf"""
    (?P<space>\s+)
    |(?P<phrase>"(?:[^"\\]|\\.)*")
    |(?P<range>[\[{{][^\[\]{{}}]*[\]}}])
    |(?P<open>\()
    |(?P<close>\))
    |(?P<and>&&)
    |(?P<or>\|\|)
    |(?P<not>!)
    |(?P<plus>\+)
    |(?P<minus>-)
    |(?P<colon>:)
    |(?P<term>{_TERM_START}{_TERM_CHAR}*)
    """,
    re.VERBOSE,
)
KEYWORDS = {"AND": "and", "OR": "or", "NOT": "not"}
UNSUPPORTED = {  # a character no token starts with → (Japanese, English)
    "^": ("ブースト（^）には対応していません", "boosts (^) are not supported"),
    "~": (
        "あいまい検索・近接検索（~）には対応していません",
        "fuzzy and proximity searches (~) are not supported",
    ),
    "/": ("正規表現（/…/）には対応していません", "regular expressions (/…/) are not supported"),
    "\\": ("末尾の \\ でエスケープする文字がありません", "a trailing \\ escapes nothing"),
    '"': ('閉じていない引用符（"）があります', 'unterminated quote (")'),
    "[": ("範囲（[…]）が閉じていません", "unterminated range ([…])"),
    "{": ("範囲（{…}）が閉じていません", "unterminated range ({…})"),
    "]": ("対応する [ のない ] です", "] without ["),
    "}": ("対応する { のない } です", "} without {"),
}


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    start: int
    end: int


def tokens(query: str) -> list[Token]:
    found: list[Token] = []
    position = 0
    while position < len(query):
        match = TOKEN.match(query, position)
        if match is None:
            char = query[position]
            ja, en = UNSUPPORTED.get(char, (f"読めない文字 {char!r} です", f"unexpected {char!r}"))
            raise QueryError(f"{ja}（位置 {position}） / {en} (at {position})")
        kind = match.lastgroup or ""
        text = match.group()
        if kind == "term" and text in KEYWORDS:
            kind = KEYWORDS[text]
        if kind != "space":
            found.append(Token(kind, text, match.start(), match.end()))
        position = match.end()
    return found


def _unescape(text: str) -> tuple[str, list[int]]:
    """The term without its backslashes, and where its unescaped `*` and `?` are."""
    out: list[str] = []
    wild: list[int] = []
    chars = iter(text)
    for char in chars:
        if char == "\\":
            out.append(next(chars, ""))
            continue
        if char in "*?":
            wild.append(len(out))
        out.append(char)
    return "".join(out), wild


# -- the parser ------------------------------------------------------------------------------
def parse(query: str, max_length: int = MAX_LENGTH) -> Node:
    """The tree of a q or fq string; QueryError for anything it cannot run."""
    if len(query) > max_length:
        raise QueryError(
            f"検索式は {max_length} 文字までです / a query is limited to {max_length} characters"
        )
    if query.strip() in ('""', "''"):  # CKAN: an empty quoted q means everything
        return All()
    if query.lstrip().startswith("{!"):
        raise QueryError(
            "ローカルパラメーター（{!…}）には対応していません / local parameters ({!…}) are not supported"
        )
    parser = _Parser(tokens(query))
    node = parser.query()
    leaves = list(_leaves(node))
    words = {(leaf.field, leaf.term) for leaf in leaves if isinstance(leaf, Text) and leaf.term}
    if len(words) > MAX_TERMS:  # first: of plain words, the bound that matters
        raise QueryError(
            f"検索語は {MAX_TERMS} 語までです / a query is limited to {MAX_TERMS} distinct words"
        )
    if len(leaves) > MAX_CLAUSES:
        raise QueryError(
            f"検索式の条件は {MAX_CLAUSES} 個までです / a query is limited to {MAX_CLAUSES} clauses"
        )
    return node


def _leaves(node: Node) -> list[Leaf]:
    """The leaves, found without recursion (the depth is bounded anyway)."""
    found: list[Leaf] = []
    stack: list[Node] = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, And | Or):
            stack.extend(current.children)
        elif isinstance(current, Not):
            stack.append(current.child)
        elif not isinstance(current, All):
            found.append(current)
    return found


class _Parser:
    """query := or;  or := and (OR and)*;  and := unary ((AND)? unary)*;
    unary := (NOT | ! | - | +)* primary;  primary := ( or ) | field:value | term | "phrase"."""

    def __init__(self, items: list[Token]):
        self.items = items
        self.position = 0
        self.depth = 0

    def peek(self) -> Token | None:
        return self.items[self.position] if self.position < len(self.items) else None

    def take(self) -> Token:
        token = self.items[self.position]
        self.position += 1
        return token

    def query(self) -> Node:
        if not self.items:
            return All()
        node = self.or_(DEFAULT_FIELD)
        extra = self.peek()
        if extra is not None:
            raise _unexpected(extra)
        return node

    def or_(self, field: str) -> Node:
        children = [self.and_(field)]
        while (token := self.peek()) is not None and token.kind == "or":
            self.take()
            children.append(self.and_(field))
        return _combine(Or, children)

    def and_(self, field: str) -> Node:
        children = [self.unary(field)]
        while (token := self.peek()) is not None and token.kind not in ("or", "close"):
            if token.kind == "and":
                self.take()
            children.append(self.unary(field))
        return _combine(And, children)

    def unary(self, field: str) -> Node:
        negate = False
        while (token := self.peek()) is not None and token.kind in ("not", "minus", "plus"):
            self.take()
            negate ^= token.kind != "plus"
        node = self.primary(field)
        return Not(node) if negate else node

    def primary(self, field: str) -> Node:
        token = self.peek()
        if token is None:
            raise QueryError("検索式が途中で終わっています / the query ends too early")
        if token.kind == "open":
            return self.group(field)
        if token.kind == "phrase":
            self.take()
            return _value(field, token)
        if token.kind == "term":
            self.take()
            after = self.peek()
            if after is not None and after.kind == "colon" and after.start == token.end:
                self.take()
                return self.fielded(token)
            return _value(field, token)
        if token.kind == "range":
            raise QueryError(
                f"範囲にはフィールド名が要ります（metadata_modified:[… TO …]）"
                f" / a range needs a field (metadata_modified:[… TO …]) (位置 {token.start} / at {token.start})"
            )
        raise _unexpected(token)

    def group(self, field: str) -> Node:
        opening = self.take()
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise QueryError(
                f"括弧の入れ子は {MAX_DEPTH} 段までです / parentheses nest at most {MAX_DEPTH} deep"
            )
        node = self.or_(field)
        closing = self.peek()
        if closing is None or closing.kind != "close":
            raise QueryError(
                f"閉じていない括弧があります（位置 {opening.start}） / unclosed parenthesis (at {opening.start})"
            )
        self.take()
        self.depth -= 1
        return node

    def fielded(self, name: Token) -> Node:
        field, _ = _unescape(name.text)
        value = self.peek()
        if field == "*":
            if value is not None and value.kind == "term" and value.text == "*":
                self.take()
                return All()
            raise QueryError(
                "フィールド * が使えるのは *:* だけです / only *:* may use the field *"
            )
        if field not in FIELDS:
            raise QueryError(
                f"不明なフィールド {field!r} です。使えるのは {', '.join(sorted(FIELDS))} です"
                f" / unknown field {field!r}; the known fields are {', '.join(sorted(FIELDS))}"
            )
        if value is None:
            raise QueryError(f"フィールド {field} の値がありません / field {field} has no value")
        if value.kind == "open":
            return self.group(field)
        if value.kind == "range":
            self.take()
            return _range(field, value)
        if value.kind in ("term", "phrase"):
            self.take()
            return _value(field, value)
        raise _unexpected(value)


def _combine(kind: type[And] | type[Or], children: list[Node]) -> Node:
    if len(children) == 1:
        return children[0]
    flat: list[Node] = []
    for child in children:  # a AND (b AND c) is a AND b AND c
        flat.extend(child.children if isinstance(child, kind) else (child,))
    return kind(tuple(flat))


def _unexpected(token: Token) -> QueryError:
    if token.kind == "close":
        return QueryError(
            f"対応する ( のない ) です（位置 {token.start}） / ) without ( (at {token.start})"
        )
    if token.kind == "colon":
        return QueryError(
            f"「:」の前にフィールド名がありません（位置 {token.start}） / a colon without a field name (at {token.start})"
        )
    return QueryError(
        f"{token.text!r} の前に語がありません（位置 {token.start}） / nothing before {token.text!r} (at {token.start})"
        if token.kind in ("and", "or")
        else f"{token.text!r} をここには置けません（位置 {token.start}） / unexpected {token.text!r} (at {token.start})"
    )


def _value(field: str, token: Token) -> Node:
    """A term or phrase for a field."""
    kind = FIELDS[field]
    wild: list[int] = []  # inside quotes * and ? are literal
    if token.kind == "phrase":
        value = _unescape(token.text[1:-1])[0]
    else:
        value, wild = _unescape(token.text)
    if token.kind == "term" and value == "*" and wild == [0]:
        return All() if field == DEFAULT_FIELD else Exists(field)
    if wild and (wild != [len(value) - 1] or value[-1] != "*"):
        raise QueryError(
            f"ワイルドカードは語末の * だけが使えます（{token.text!r}） / only a trailing * wildcard is supported ({token.text!r})"
        )
    if kind is Kind.DATE:
        raise QueryError(
            f"{field} には範囲を指定してください（{field}:[2024-01-01T00:00:00Z TO NOW]）"
            f" / {field} takes a range ({field}:[2024-01-01T00:00:00Z TO NOW])"
        )
    if wild:
        value = value[:-1]
        if kind is Kind.EXACT:
            return Prefix(field, value)
        # Substring search already finds every word that starts with the term.
    if kind is Kind.TEXT:
        return Text(field, fold(value), token.kind == "phrase")
    return Exact(field, value)


RANGE = re.compile(r"([\[{])\s*(\S+)\s+TO\s+(\S+)\s*([\]}])")


def _range(field: str, token: Token) -> Range:
    if FIELDS[field] is not Kind.DATE:
        raise QueryError(
            f"範囲が使えるのは metadata_modified だけです（{field} は不可） / only metadata_modified takes a range, not {field}"
        )
    match = RANGE.fullmatch(token.text)
    if match is None:
        raise QueryError(
            f"範囲は [FROM TO TO] と書きます（{token.text!r}） / a range is [FROM TO TO], not {token.text!r}"
        )
    opening, low, high, closing = match.groups()
    node = Range(field, low, high, opening == "[", closing == "]")
    node.seconds()  # a time it cannot read is an error now, not at search time
    return node


# -- times -----------------------------------------------------------------------------------
UNITS = ("YEAR", "MONTH", "DAY", "HOUR", "MINUTE", "SECOND")
DATE_MATH = re.compile(
    r"([+-])(\d{1,6})(YEAR|MONTH|DAY|HOUR|MINUTE|SECOND)S?|/(YEAR|MONTH|DAY|HOUR|MINUTE|SECOND)S?"
)


def _time(text: str, low: bool) -> int:
    """Seconds since the epoch of a bound: `*`, an ISO 8601 time (UTC unless it says), or Solr
    date math on NOW (`NOW-1YEAR`, `NOW/DAY`, `NOW-7DAYS/DAY`)."""
    if text == "*":
        return -(2**62) if low else 2**62
    if text.upper().startswith("NOW"):
        return int(_date_math(text[3:].upper(), datetime.now(UTC)).timestamp())
    try:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise QueryError(f"日時として読めません（{text!r}） / not a time ({text!r})") from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return int(stamp.timestamp())


def _date_math(steps: str, now: datetime) -> datetime:
    position = 0
    while position < len(steps):
        match = DATE_MATH.match(steps, position)
        if match is None:
            raise QueryError(
                f"日時の計算が読めません（NOW{steps}） / cannot read the date math NOW{steps}"
            )
        sign, amount, unit, round_to = match.groups()
        if round_to:
            now = _round(now, round_to)
        else:
            now = _add(now, int(amount) * (1 if sign == "+" else -1), unit)
        position = match.end()
    return now


def _add(stamp: datetime, amount: int, unit: str) -> datetime:
    if unit in ("YEAR", "MONTH"):
        months = stamp.year * 12 + stamp.month - 1 + amount * (12 if unit == "YEAR" else 1)
        year, month = divmod(months, 12)
        if not 1 <= year <= 9999:
            raise QueryError("日時が範囲外です / the time is out of range")
        day = min(stamp.day, calendar.monthrange(year, month + 1)[1])
        return stamp.replace(year=year, month=month + 1, day=day)
    seconds = {"DAY": 86400, "HOUR": 3600, "MINUTE": 60, "SECOND": 1}[unit]
    try:
        return stamp + timedelta(seconds=amount * seconds)
    except OverflowError:
        raise QueryError("日時が範囲外です / the time is out of range") from None


def _round(stamp: datetime, unit: str) -> datetime:
    """Down to the start of the unit, as Solr's `/DAY`."""
    parts = [stamp.year, stamp.month, stamp.day, stamp.hour, stamp.minute, stamp.second]
    starts = [1, 1, 1, 0, 0, 0]
    keep = UNITS.index(unit) + 1
    year, month, day, hour, minute, second = parts[:keep] + starts[keep:]
    return datetime(year, month, day, hour, minute, second, tzinfo=stamp.tzinfo)
