"""Metadata fit to publish: what `build` warns about and a release refuses."""

from __future__ import annotations

from typing import Any

from pipeline.errors import Problem
from pipeline.vocabulary import FREQUENCIES, THEMES

from ..model import meta

MIN_DESCRIPTION = 50  # schema.org / Google Dataset Search ask for 50–5000 characters


def metadata_problems(package: dict[str, Any]) -> list[Problem]:
    name = package["name"]
    extra = meta(package)
    problems: list[str] = []
    description = package.get("description") or ""
    if not description:
        problems.append("説明（description）がありません / the description is missing")
    elif len(description) < MIN_DESCRIPTION:
        problems.append(
            f"説明が{len(description)}文字です（{MIN_DESCRIPTION}文字以上にしてください）"
            f" / the description has {len(description)} characters; schema.org wants {MIN_DESCRIPTION}+"
        )
    for licence in package.get("licenses") or []:
        if not licence.get("path"):
            problems.append(
                f"ライセンス {licence.get('name')} に URL がありません / the licence has no URL"
            )
    for keyword in package.get("keywords") or []:
        if len(keyword) < 2:
            problems.append(
                f"キーワード「{keyword}」は1文字です（CKAN は2文字以上） / one-character tag"
            )
    if not package.get("keywords"):
        problems.append("キーワードがありません / no keywords")
    if not extra.get("title_en") or not extra.get("description_en"):
        problems.append(
            "英語のタイトル・説明（title_en, description_en）がありません / no English title or description"
        )
    if not package.get("created"):
        problems.append("作成日（created）がありません / no created date, so no catalog dates")
    if not package.get("sources"):
        problems.append("出典（sources）がありません / no upstream source")
    if not extra.get("department"):
        problems.append("担当部署（department）がありません / no department")
    if extra.get("frequency") not in FREQUENCIES:
        problems.append(
            f"更新頻度（frequency）は {', '.join(FREQUENCIES)} のいずれかにしてください / unknown or missing frequency"
        )
    standard = extra.get("standard_dataset")
    if standard and not {"自治体標準ODS", standard} <= set(package.get("keywords") or []):
        problems.append(
            f"自治体標準オープンデータセット「{standard}」には BODIK が探すキーワード「自治体標準ODS」「{standard}」を付けてください"
            " / a standard dataset needs the BODIK tags"
        )
    for theme in extra.get("themes") or []:
        if theme not in THEMES:
            problems.append(
                f"分類「{theme}」は一覧にありません（{'、'.join(THEMES)}） / unknown theme"
            )
    return [
        Problem("metadata-warning", message, dataset=name, file=f"{name}/dataset.yaml")
        for message in problems
    ]
