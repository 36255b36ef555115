"""The national standard layouts (自治体標準オープンデータセット) as presets: a resource that says
`standard: 公衆無線LANアクセスポイント一覧` (or `standard: "07"`) takes its schema from the registry
in `pipeline/standards/` — data files, one per kind and layout (see the README there).

A standard resource publishes the standard's Japanese item names, in the standard's order, so
that aggregators and apps recognise the file by its header.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib.resources import files
from typing import Any, Literal

import yaml

from .vocabulary import EXTENSION

Layout = Literal["current", "legacy"]
LAYOUTS: tuple[Layout, ...] = ("current", "legacy")
BODIK_TAG = "自治体標準ODS"  # the tag BODIK finds a standard dataset by, beside the kind's

# Japan's extremes (Okinotorishima 20.4 N … Etorofu 45.6 N; Yonaguni 122.9 E … Minamitorishima 154.0 E).
LATITUDES = (20.0, 46.0)
LONGITUDES = (122.0, 154.0)

# What Table Schema itself can say of each rule (frictionless validate checks it too); the
# rest (check digits, swapped coordinates, the publisher's area) is pipeline/rules.py's.
RULE_CONSTRAINTS: dict[str, dict[str, Any]] = {
    "local_government_code": {"pattern": "[0-9]{6}"},
    "corporate_number": {"pattern": "[0-9]{13}"},
    "phone": {"pattern": "0[0-9]{1,4}-[0-9]{1,4}-[0-9]{3,4}"},
    "url": {"pattern": "https?://[^\\s]+"},
    "time": {"pattern": "([01][0-9]|2[0-3]):[0-5][0-9]|24:00"},
    "weekdays": {"pattern": "(月|火|水|木|金|土|日|祝)(,(月|火|水|木|金|土|日|祝))*"},
    "yes_no": {"enum": ["1", "0", "有", "無"]},
    "latitude": {"minimum": LATITUDES[0], "maximum": LATITUDES[1]},
    "longitude": {"minimum": LONGITUDES[0], "maximum": LONGITUDES[1]},
}
RULE_DESCRIPTIONS: dict[str, str] = {
    "local_government_code": "6桁の全国地方公共団体コード（検査数字付き）",
    "corporate_number": "13桁の法人番号（先頭は検査数字）",
    "phone": "半角数字とハイフン（例 03-3578-2111）",
    "url": "http:// または https:// で始まる URL",
    "time": "HH:MM（例 09:30）",
    "weekdays": "月,火,水,木,金,土,日,祝 をカンマ区切りで",
    "yes_no": "1 / 0 または 有 / 無",
    "latitude": "緯度（十進法の度、世界測地系）",
    "longitude": "経度（十進法の度、世界測地系）",
}


@dataclass(frozen=True)
class Item:
    name: str
    type: str = "string"
    required: bool = False
    rule: str | None = None

    def field(self) -> dict[str, Any]:
        """The item as a Table Schema field (its rule kept under x-opendata for the checks)."""
        fld: dict[str, Any] = {"name": self.name, "title": self.name, "type": self.type}
        if self.rule:
            fld["description"] = RULE_DESCRIPTIONS[self.rule]
        constraints = dict(RULE_CONSTRAINTS.get(self.rule or "", {}))
        if self.required:
            constraints["required"] = True
        if constraints:
            fld["constraints"] = constraints
        if self.rule:
            fld[EXTENSION] = {"rule": self.rule}
        return fld


@dataclass(frozen=True)
class Standard:
    number: str
    name: str
    layout: Layout
    tag: str  # the kind's tag for BODIK
    items: tuple[Item, ...]

    def fields(self) -> list[dict[str, Any]]:
        return [item.field() for item in self.items]

    @property
    def label(self) -> str:
        return f"{self.number} {self.name}（{self.layout}）"


def standard_rule(fld: dict[str, Any]) -> str | None:
    """The value rule a standard field carries, if any."""
    return (fld.get(EXTENSION) or {}).get("rule")


class UnknownStandard(ValueError):
    pass


def find(kind: str, layout: str | None = None) -> Standard:
    """The preset for a kind given by name or number; `layout` defaults to current where the
    registry has the current layout of that kind, else legacy."""
    known = registry()
    number = next((s.number for s in known.values() if kind in (s.name, s.number)), None)
    if number is None:
        names = "、".join(sorted({f"{s.number} {s.name}" for s in known.values()}))
        raise UnknownStandard(
            f"標準データセット「{kind}」は登録されていません（{names}）"
            f" / unknown standard dataset {kind!r}"
        )
    if layout is None:
        layout = "current" if (number, "current") in known else "legacy"
    if (number, layout) not in known:
        have = [lay for lay in LAYOUTS if (number, lay) in known]
        raise UnknownStandard(
            f"「{kind}」の {layout} の項目定義は登録されていません（あるのは {', '.join(have)}）"
            f" / no {layout} layout of {kind!r} (there is {', '.join(have)})"
        )
    return known[(number, layout)]


# libyaml's safe loader where PyYAML has it (its wheels do): the pure-Python one took 0.8 s
# to read the registry, at the start of every build with a standard dataset.
FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@functools.cache
def registry() -> dict[tuple[str, str], Standard]:
    """Every preset of pipeline/standards/, by (number, layout)."""
    folder = files(__package__ or "pipeline").joinpath("standards")
    parts: dict[str, list[Item]] = {}
    kinds: list[dict[str, Any]] = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".yaml"):
            continue
        raw = yaml.load(entry.read_text(encoding="utf-8"), Loader=FAST_LOADER)
        if "part" in raw:
            parts[raw["part"]] = [Item(**i) for i in raw["items"]]
        else:
            kinds.append(raw)
    result: dict[tuple[str, str], Standard] = {}
    for raw in kinds:
        items: list[Item] = []
        for entry in raw["items"]:
            items.extend(parts[entry["include"]] if "include" in entry else [Item(**entry)])
        standard = Standard(
            str(raw["number"]), raw["name"], raw["layout"], raw["tag"], tuple(items)
        )
        result[(standard.number, standard.layout)] = standard
    return result
