"""Metadata fit to publish: what `build` warns about and a release refuses."""

from __future__ import annotations

from pipeline.errors import Problem
from pipeline.vocabulary import CHART_RESOURCES, FREQUENCIES, THEMES

from ..model import BuiltPackage

MIN_DESCRIPTION = 50  # schema.org / Google Dataset Search ask for 50–5000 characters


def metadata_problems(package: BuiltPackage) -> list[Problem]:
    name = package.name
    problems: list[str] = []
    description = package.description
    if not description:
        problems.append("説明（description）がありません / the description is missing")
    elif len(description) < MIN_DESCRIPTION:
        problems.append(
            f"説明が{len(description)}文字です（{MIN_DESCRIPTION}文字以上にしてください）"
            f" / the description has {len(description)} characters; schema.org wants {MIN_DESCRIPTION}+"
        )
    for licence in package.licences:
        if not licence.get("path"):
            problems.append(
                f"ライセンス {licence.get('name')} に URL がありません / the licence has no URL"
            )
    for keyword in package.keywords:
        if len(keyword) < 2:
            problems.append(
                f"キーワード「{keyword}」は1文字です（CKAN は2文字以上） / one-character tag"
            )
    if not package.keywords:
        problems.append("キーワードがありません / no keywords")
    if not package.title_en or not package.description_en:
        problems.append(
            "英語のタイトル・説明（title_en, description_en）がありません / no English title or description"
        )
    if not package.created:
        problems.append("作成日（created）がありません / no created date, so no catalog dates")
    if not package.sources:
        problems.append("出典（sources）がありません / no upstream source")
    if not package.department:
        problems.append("担当部署（department）がありません / no department")
    if not package.frequency:
        problems.append(
            f"更新頻度（frequency）は {', '.join(FREQUENCIES)} のいずれかにしてください / unknown or missing frequency"
        )
    standard = package.standard_dataset
    if standard and not {"自治体標準ODS", standard} <= set(package.keywords):
        problems.append(
            f"自治体標準オープンデータセット「{standard}」には BODIK が探すキーワード「自治体標準ODS」「{standard}」を付けてください"
            " / a standard dataset needs the BODIK tags"
        )
    if package.chart and package.chart not in CHART_RESOURCES:
        problems.append(
            f"グラフ（chart）「{package.chart}」は {', '.join(CHART_RESOURCES)} のいずれかにしてください"
            " / unknown chart"
        )
    elif package.chart and package.chart_missing:
        problems.append(
            f"グラフ「{package.chart}」に必要なリソース {', '.join(package.chart_missing)} がありません"
            " / the chart needs these resources"
        )
    for theme in package.themes:
        if theme not in THEMES:
            problems.append(
                f"分類「{theme}」は一覧にありません（{'、'.join(THEMES)}） / unknown theme"
            )
    return [
        Problem("metadata-warning", message, dataset=name, file=f"{name}/dataset.yaml")
        for message in problems
    ]
