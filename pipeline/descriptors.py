"""Reading the YAML an officer writes (dataset.yaml, catalog.yaml) and checking its shape
against a declared JSON Schema (schemas/) before anything reads a value from it, so a value
of the wrong kind is a located problem, never an internal error.

YAML is read strictly: a key given twice is refused (not "the last wins"), and nesting deeper
than any descriptor needs is refused before the parser recurses on it.
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import os
import stat
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from .errors import DefinitionError, Problem

SCHEMAS = Path(__file__).with_name("schemas")
MAX_DEPTH = 50  # a dataset.yaml nests about 8 deep
MAX_VALUES = 100_000  # a dataset.yaml with 1,000 fields holds about 10,000
MAX_BYTES = 10 << 20  # a dataset.yaml with 1,000 fields is about 200 KB


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys and runaway nesting."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth = getattr(self, "_depth", 0) + 1
        try:
            if self._depth > MAX_DEPTH:
                raise yaml.constructor.ConstructorError(
                    None, None, f"nested deeper than {MAX_DEPTH} levels", self.get_mark()
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, Any] = {}
        for key_node, _value in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen[key] = True
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_timestamp(self, node: Any, values: Any = None) -> Any:
        """A date as YAML reads it, or an error at its line: 2024-02-30 looks like a date
        to YAML, and Python's date then refuses it."""
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError as exc:
            raise yaml.constructor.ConstructorError(
                None, None, f"{node.value} is no date or time: {exc}", node.start_mark
            ) from None


_StrictLoader.add_constructor("tag:yaml.org,2002:timestamp", _StrictLoader.construct_yaml_timestamp)


def load_yaml(path: Path, file: str, dataset: str | None = None) -> Any:
    """The document, or a DefinitionError naming the file, the line and what to fix."""

    def problem(message: str, row: int | None = None) -> DefinitionError:
        return DefinitionError(
            [Problem("package-error", message, dataset=dataset, file=file, row=row)]
        )

    try:
        text = _read_bytes(path, problem).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise problem(
            f"{path.name} は UTF-8 で保存してください / save {path.name} as UTF-8"
        ) from None
    except OSError as exc:
        raise problem(
            f"{path.name} を読めません（{exc.strerror}） / cannot read {path.name}: {exc.strerror}"
        ) from None
    try:
        document = yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        row = mark.line + 1 if mark is not None else None
        detail = str(getattr(exc, "problem", None) or exc).splitlines()[0]
        raise problem(
            f"YAML として読めません（{detail}） / not valid YAML: {detail}", row
        ) from None
    # Anchors (&a … *a) may share a value — a schema used by two resources — but not loop
    # or multiply a small file into millions of values.
    size = _expanded_size(document, {}, set())
    if size is None:
        raise problem(
            "YAML の別名（*）が自分自身を指しています / a YAML alias (*) refers to itself"
        )
    if size > MAX_VALUES:
        raise problem(
            f"YAML の別名（*）で {MAX_VALUES:,} 個を超える値に広がります / YAML aliases (*)"
            f" expand this file past {MAX_VALUES:,} values"
        )
    return document


def _read_bytes(path: Path, problem: Callable[[str], DefinitionError]) -> bytes:
    """A definition's bytes: from a regular file (a pipe would wait for ever, /dev/zero
    never end), at most MAX_BYTES. Opened without waiting, then checked by what is open."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as file:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):  # an OSError, as reading a folder would say
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
        if not stat.S_ISREG(mode):
            raise problem(
                f"{path.name} がファイルではありません（パイプや装置など） / {path.name} is"
                " not a regular file (a pipe, a device)"
            )
        data = file.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise problem(
            f"{path.name} が {MAX_BYTES >> 20} MB を超えています / {path.name} is over"
            f" {MAX_BYTES >> 20} MB"
        )
    return data


def _expanded_size(value: Any, sizes: dict[int, int], path: set[int]) -> int | None:
    """How many values `value` stands for once every alias is written out (None: a loop),
    counted once per shared object."""
    if not isinstance(value, dict | list):
        return 1
    if id(value) in path:
        return None
    if id(value) not in sizes:
        path.add(id(value))
        items = list(value.values()) if isinstance(value, dict) else value
        total = 1
        for item in items:
            size = _expanded_size(item, sizes, path)
            if size is None:
                return None
            total += size
        path.discard(id(value))
        sizes[id(value)] = total
    return sizes[id(value)]


def shape_problems(
    document: Any, schema: str, file: str, dataset: str | None = None
) -> list[Problem]:
    """Every place where `document` does not have the shape `schemas/<schema>` declares."""
    errors = sorted(_validator(schema).iter_errors(_as_json(document)), key=_order)
    return [
        Problem(
            "package-error",
            _message(error),
            dataset=dataset,
            file=file,
            value=_short(error.instance),
        )
        for error in errors
    ]


@cache
def _validator(schema: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads((SCHEMAS / schema).read_text(encoding="utf-8")))


def _as_json(value: Any) -> Any:
    """YAML's own types as JSON's: a date as the text it was written as, every key as text."""
    if isinstance(value, dict):
        return {_key(k): _as_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_json(v) for v in value]
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, float) and value != value:  # .nan: no JSON for it; a wrong type anyway
        return "NaN"
    return value


def _key(key: Any) -> str:
    return key.isoformat() if isinstance(key, dt.date | dt.datetime) else str(key)


def _order(error: ValidationError) -> tuple[str, str]:
    return _where(error), error.message


def _where(error: ValidationError) -> str:
    """`resources[0].schema.primaryKey`: the key as the officer reads it in the file."""
    where = ""
    for part in error.absolute_path:
        where += f"[{part}]" if isinstance(part, int) else (f".{part}" if where else str(part))
    return where or "（最上位 top level）"


EXPECTED = {
    "string": ("文字列", "text"),
    "integer": ("整数", "a whole number"),
    "number": ("数値", "a number"),
    "boolean": ("true / false", "true or false"),
    "array": ("リスト（- で始まる行の並び）", "a list"),
    "object": ("項目の一覧（key: value）", "a mapping of keys"),
}


def _message(error: ValidationError) -> str:
    where, kind, rule = _where(error), str(error.validator), error.validator_value
    if kind == "type":
        wanted = [rule] if isinstance(rule, str) else [str(t) for t in rule]  # type: ignore[union-attr]
        ja = "・".join(EXPECTED.get(t, (t, t))[0] for t in wanted)
        en = " or ".join(EXPECTED.get(t, (t, t))[1] for t in wanted)
        return f"{where} は{ja}にしてください / {where} must be {en}"
    if kind == "required":
        missing = error.message.split("'")[1] if "'" in error.message else "?"
        return f"{where} に {missing} がありません / {where} needs {missing}"
    if kind in ("minimum", "maximum"):
        return f"{where} は {rule} {'以上' if kind == 'minimum' else '以下'}にしてください / {where} must be {'at least' if kind == 'minimum' else 'at most'} {rule}"
    if kind in ("maxLength", "maxItems"):
        return f"{where} が長すぎます（{rule} まで） / {where} is too long (at most {rule})"
    if kind in ("minLength", "minItems") and rule == 1:
        return f"{where} が空です / {where} is empty"
    if kind in ("minLength", "minItems"):
        return f"{where} が短すぎます（{rule} 以上） / {where} is too short (at least {rule})"
    if kind == "pattern":
        return f"{where} の書き方が違います（{rule}） / {where} does not match {rule}"
    if kind == "oneOf" and where.startswith("licenses"):
        return (
            f"{where} は CC-BY-4.0 のような ID か {{name: ID}} にしてください"
            f" / {where} must be a licence id like CC-BY-4.0, or {{name: id}}"
        )
    if kind == "oneOf":
        return f"{where} は文字列か文字列のリストにしてください / {where} must be text or a list of texts"
    if kind == "additionalProperties":
        return f"{where} に知らない項目があります / unknown key in {where}: {error.message}"
    return f"{where}: {error.message}"


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
    return text if len(text) <= 80 else text[:79] + "…"
