"""Problems found in sources and definitions, in frictionless's error vocabulary.

Every problem names where it is (dataset, file, row as the officer sees it, column) and
carries a one-line hint in Japanese and English. Nothing here raises for bad data: problems
are collected into a `Report` so that all of them reach the officer at once.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

# type → (Japanese hint, English hint). One vocabulary, shared with frictionless where it has a word.
HINTS: dict[str, tuple[str, str]] = {
    "package-error": (
        "dataset.yaml の記述を直してください",
        "fix the dataset definition (dataset.yaml)",
    ),
    "resource-error": (
        "resources の path はデータセットのフォルダ内のファイルを指してください",
        "point the resource path at a file inside the dataset folder",
    ),
    "format-error": (
        "CSV（UTF-8 / Shift_JIS）または XLSX で保存してください",
        "save the source as CSV (UTF-8 or Shift_JIS) or XLSX",
    ),
    "encoding-error": (
        "UTF-8 か Shift_JIS（cp932）で保存し直すか、encoding を指定してください",
        "re-save as UTF-8 or Shift_JIS (cp932), or declare `encoding`",
    ),
    "duplicate-label": (
        "列見出しが重複しています。どちらかの名前を変えてください",
        "two columns share a header; rename one",
    ),
    "missing-label": (
        "この列を元の表に追加するか、schema の name/title を見出しに合わせてください",
        "add this column to the source, or match the field's name/title to its header",
    ),
    "extra-label": (
        "この列を削除するか、schema に項目を追加してください",
        "remove the column, or add a field for it to the schema",
    ),
    "extra-cell": (
        "行の列数が見出しより多いです。余分なセル（カンマ）を削除してください",
        "the row has more cells than the header; remove the extra cells",
    ),
    "missing-cell": (
        "行の列数が見出しより少ないです。欠けたセルを補うか、不要な行を削除してください",
        "the row has fewer cells than the header; fill them in or delete the row",
    ),
    "blank-row": (
        "空の行を削除してください",
        "delete the empty row",
    ),
    "type-error": (
        "値の形式を直してください（例：数値は 1234、年度は 令和4年度 または 2022）",
        "fix the value's format (numbers like 1234, years like 令和4年度 or 2022)",
    ),
    "constraint-error": (
        "schema の制約（必須・範囲・選択肢など）を満たす値にしてください",
        "make the value satisfy the field's constraints (required, range, enum, ...)",
    ),
    "unique-error": (
        "この列の値は重複できません。重複した行を直してください",
        "values in this column must be unique; fix the duplicated rows",
    ),
    "primary-key": (
        "主キーの組み合わせが重複しているか空です。行を直してください",
        "the primary key is duplicated or empty; fix the rows",
    ),
    "foreign-key": (
        "参照先の表に存在する値にしてください",
        "use a value that exists in the referenced table",
    ),
    "unsafe-cell": (
        "先頭の記号（= + - @）を削除してください。式として意図した値なら allow_formulas で除外できます",
        "remove the leading = + - @ (spreadsheet formula); opt out with allow_formulas",
    ),
    "source-warning": (
        "公開してよい内容か確認してください（よければ、そのままで構いません）",
        "check that this is meant to be published (if it is, nothing to do)",
    ),
    "metadata-warning": (
        "公開前にメタデータを補ってください",
        "complete the metadata before publishing",
    ),
    "metadata-error": (
        "dataset.yaml のメタデータを補い、build してから release し直してください",
        "complete the metadata in dataset.yaml, build, then release again",
    ),
    "file-error": (
        "ファイルを元のソフトで保存し直すか、出力し直してください（壊れている・開けない・規格に合わない）",
        "save or export the file again: it is broken, cannot be opened or does not follow its format",
    ),
    "gtfs-error": (
        "GTFS の規定（gtfs.org の Schedule Reference）に合わせてフィードを直し、zip を作り直してください",
        "fix the feed as the GTFS Schedule Reference (gtfs.org) says and zip it again",
    ),
    "geometry-error": (
        "図形を直してください（RFC 7946: 座標は [経度, 緯度]、ポリゴンの輪は4点以上で始点に戻る）",
        "fix the geometry (RFC 7946: [lon, lat]; a polygon ring has 4+ positions and closes)",
    ),
    "footer-row": (
        "表の下の行（版の表示や注記）は footer_rows で除いています。データの行なら footer_rows を減らしてください",
        "rows under the table (a version stamp, a note) are left out by footer_rows; if one is data, lower footer_rows",
    ),
    "size-error": (
        "ファイルを分けるか小さくしてください。大きいままでよければ上限の環境変数を引き上げてください",
        "split or shrink the file, or raise the limit's environment variable if it is meant to be this large",
    ),
    "release-error": (
        "opendata release の指定を直してください",
        "fix the release options",
    ),
}


@dataclass(frozen=True)
class Problem:
    """One thing wrong, located as precisely as the source allows."""

    type: str
    message: str
    dataset: str | None = None
    resource: str | None = None
    file: str | None = None
    row: int | None = None
    column: str | None = None
    field: str | None = None
    value: str | None = None
    fix: str | None = None  # the corrected value, where it can be computed from the wrong one

    @property
    def hint_ja(self) -> str:
        return HINTS.get(self.type, HINTS["package-error"])[0]

    @property
    def hint_en(self) -> str:
        return HINTS.get(self.type, HINTS["package-error"])[1]

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if v is not None}
        data["hint_ja"] = self.hint_ja
        data["hint_en"] = self.hint_en
        return data

    def location(self) -> str:
        parts = [self.file or self.dataset or ""]
        if self.row is not None:
            parts.append(f"{self.row}行目 row {self.row}")
        if self.column is not None:
            column = (
                self.column
                if self.field in (None, self.column)
                else f"{self.column} → {self.field}"
            )
            parts.append(f"列 column 「{column}」")
        return ", ".join(p for p in parts if p)

    def render(self) -> str:
        """For a terminal: control characters from the officer's files (an escape sequence in
        a folder name or a header cell) are shown as escapes, never acted on."""
        value = f" 値 value: {self.value!r}" if self.value is not None else ""
        fix = f"\n    修正案 fix: {self.fix!r}" if self.fix is not None else ""
        return printable(f"[{self.type}] {self.location()}:{value}\n    {self.message}{fix}")


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """`text` with every control character but line break and tab written as an escape."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


class DefinitionError(Exception):
    """A dataset definition that cannot be read at all; carries its problems."""

    def __init__(self, problems: list[Problem]):
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems


@dataclass
class Report:
    """All problems of a run, capped per resource so a broken million-row file stays readable."""

    limit: int = 1000
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)

    def add(self, problem: Problem) -> None:
        self.counts[problem.type] += 1
        if len(self.problems) < self.limit:
            self.problems.append(problem)

    def add_count(self, type_: str, count: int) -> None:
        """Count problems beyond those listed (the listed ones are added with `add`)."""
        if count > 0:
            self.counts[type_] += count

    def extend(self, problems: list[Problem]) -> None:
        for problem in problems:
            self.add(problem)

    def warn(self, problem: Problem) -> None:
        self.warnings.append(problem)

    @property
    def valid(self) -> bool:
        return not self.counts

    @property
    def total(self) -> int:
        return sum(self.counts.values())
