"""`opendata init`: a dataset folder drafted from an officer's file (pipeline/infer.py does
the inferring); the file is copied in and `dataset.yaml` written with its blanks marked."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import yaml

from pipeline.errors import Problem
from pipeline.infer import Draft, InitError, draft
from pipeline.vocabulary import NAME_PATTERN

HEADER = """\
# opendata init の下書き / drafted by `opendata init` from {file}
# 確認して書き足してください / check and fill in:
#   description, keywords, x-opendata.title_en / description_en / department / themes,
#   frequency, created, sources — 空欄は build がメタデータの警告として報告します
#   (each blank is reported by `opendata build` as a metadata warning);
#   license (CC-BY-4.0 is the catalog's default: confirm it), and each field's description.
"""


class InitRefused(Exception):
    def __init__(self, problem: Problem):
        super().__init__(problem.message)
        self.problem = problem


def _name_from(path: Path) -> str:
    name = re.sub(r"[^a-z0-9_-]+", "-", path.stem.lower()).strip("-_")
    return name if NAME_PATTERN.match(name) else ""


def init_dataset(
    file: Path, datasets_dir: Path, *, name: str | None = None, force: bool = False
) -> dict[str, Any]:
    display = str(file)
    if not file.is_file():
        raise InitRefused(
            Problem("format-error", "ファイルがありません / no such file", file=display)
        )
    name = name or _name_from(file)
    if not NAME_PATTERN.match(name or ""):
        raise InitRefused(
            Problem(
                "package-error",
                "データセット名を --name で指定してください（a-z 0-9 - _ の2～100文字）"
                " / give the dataset a name with --name (2-100 of a-z 0-9 - _)",
                file=display,
                value=name or None,
            )
        )
    folder = datasets_dir / name
    if folder.exists() and not force:
        raise InitRefused(
            Problem(
                "package-error",
                f"フォルダ {folder} は既にあります（上書きするには --force）"
                f" / the dataset folder {folder} exists (use --force to overwrite)",
                file=display,
            )
        )
    try:
        result = draft(file, name, display=display)
    except InitError as exc:
        raise InitRefused(exc.problem) from exc
    folder.mkdir(parents=True, exist_ok=True)
    if file.resolve() != (folder / file.name).resolve():
        shutil.copyfile(file, folder / file.name)
    definition = folder / "dataset.yaml"
    text = yaml.safe_dump(
        result.descriptor, allow_unicode=True, sort_keys=False, default_flow_style=False, width=100
    )
    definition.write_text(HEADER.format(file=file.name) + text, encoding="utf-8")
    return {
        "dataset": name,
        "definition": str(definition),
        "inferred": result.summary(),
        "lines": _lines(result),
    }


def _lines(result: Draft) -> list[str]:
    lines = [
        f"文字コード encoding: {result.encoding}"
        if result.encoding
        else f"シート sheet: {result.sheet}",
        f"見出し行 header row: {result.header_row}"
        + (f"（表題 title: {' / '.join(result.title_rows)}）" if result.title_rows else ""),
        f"行数 rows: {result.rows}",
    ]
    if result.standard:
        lines.append(f"標準データセット standard: {result.standard}（{result.layout}）")
    if result.footer:
        lines.append(
            f"表の下の行 footer（データから除外、build が警告） / left out: {' | '.join(result.footer)}"
            f" → footer_rows: {len(result.footer)}"
        )
    if result.unpivot:
        lines.append(f"年の列 → 縦持ち unpivot: {', '.join(result.unpivot)}")
    for col in result.columns:
        extra = " ".join(f"{k}={v}" for k, v in col.options.items())
        lines.append(f"{col.title} → {col.name}: {col.type} {extra}".rstrip())
    lines.append(f"主キー primary key: {', '.join(result.primary_key) or '（なし / none）'}")
    return lines
