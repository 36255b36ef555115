"""Who publishes the catalog: a municipality, read from `datasets/catalog.yaml`.

Minato City is the default; another municipality changes this one file.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .descriptors import load_yaml, shape_problems
from .errors import DefinitionError, Problem


@dataclass(frozen=True)
class Publisher:
    name: str = "港区"
    name_en: str = "Minato City"
    code: str = "131032"  # 全国地方公共団体コード
    prefecture: str = "東京都"
    url: str = "https://www.city.minato.tokyo.jp/"
    organization: str = "minatoku"  # the CKAN organization name
    catalog_title: str = "港区オープンデータカタログサイト"
    catalog_title_en: str = "Minato City Open Data Catalog"
    site_url: str = "https://opendata.city.minato.tokyo.jp/"  # where dist/ is served
    catalog_department: str = "企画経営部区長室"  # the office that runs the catalog
    email: str | None = None
    # The area's bounding box (west, south, east, north in WGS 84 degrees): Minato City's
    # extent rounded outward to 0.01°, so that every place in the ward lies inside it. Another
    # municipality states its own in catalog.yaml, or has none.
    extent: tuple[float, float, float, float] | None = (139.70, 35.61, 139.79, 35.69)
    # The background of the site's maps (XYZ tiles; empty: none, the points alone).
    map_tiles: str | None = "https://cyberjapandata.gsi.go.jp/xyz/pale/{z}/{x}/{y}.png"

    def contributors(self, department: str | None) -> list[dict[str, Any]]:
        people: list[dict[str, Any]] = [
            {"title": self.name, "path": self.url, "roles": ["publisher", "rightsHolder"]}
        ]
        if department:
            people.append({"title": department, "organization": self.name, "roles": ["contact"]})
        return people


def check_code(code: str) -> bool:
    """全国地方公共団体コード check digit: S = 6a+5b+4c+3d+2e, check = (11 − S mod 11) mod 10."""
    if len(code) != 6 or not code.isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(code[:5], (6, 5, 4, 3, 2), strict=True))
    return (11 - total % 11) % 10 == int(code[5])


PUBLISHER_FILE = "catalog.yaml"  # in the datasets folder


def url_rule(what: str) -> str:
    """What a publisher's address (`what`) must be, in both languages."""
    return (
        f"{what} は http:// か https:// で始まる正しい URL にしてください"
        f'（空白や < > " {{ }} | \\ ^ ` は %20 などに） / {what} must be a valid http(s) URL'
        ' (spaces and < > " { } | \\ ^ ` written as %20, %3C, …)'
    )


def is_iri(text: str) -> bool:
    """Whether the catalog's DCAT can name something by `text`: the publisher's addresses
    become IRIs, which pyoxigraph's serialiser checks (RFC 3987) — mid-build, unless here."""
    import pyoxigraph

    try:
        pyoxigraph.NamedNode(text)
    except ValueError:
        return False
    return True


def is_web_url(text: str) -> bool:
    """An http(s) URL with a host, no space of any kind (U+3000 too), and a valid IRI."""
    from urllib.parse import urlsplit

    return (
        text.startswith(("http://", "https://"))
        and not any(ch.isspace() for ch in text)
        and bool(urlsplit(text).netloc)
        and is_iri(text)
    )


def load_publisher(datasets_dir: Path) -> Publisher:
    path = datasets_dir / PUBLISHER_FILE
    if not path.exists():
        return Publisher()
    raw = load_yaml(path, path.name) or {}
    shape = shape_problems(raw, "catalog.schema.json", path.name)
    if shape:
        raise DefinitionError(shape)
    known = set(Publisher.__dataclass_fields__)
    unknown = set(raw.get("publisher", {})) - known
    given = raw.get("publisher", {})
    texts: dict[str, Any] = {
        k: None if v is None else str(v) for k, v in given.items() if k in known - {"extent"}
    }
    publisher = Publisher(**texts)
    extent = tuple(given.get("extent") or ())
    if extent:
        publisher = replace(publisher, extent=extent)
    elif publisher.code != Publisher.code:  # Minato City's extent is not another's
        publisher = replace(publisher, extent=None)
    problems = [
        Problem(
            "package-error",
            f"catalog.yaml の知らない項目です / unknown key: {key}",
            file="catalog.yaml",
        )
        for key in sorted(unknown)
    ]
    if not check_code(publisher.code):
        problems.append(
            Problem(
                "package-error",
                f"全国地方公共団体コード {publisher.code} の検査数字が合いません / bad check digit",
                file="catalog.yaml",
                value=publisher.code,
            )
        )
    for key in ("url", "site_url"):
        if not is_web_url(getattr(publisher, key)):
            problems.append(_problem(url_rule(f"publisher.{key}"), getattr(publisher, key)))
    if publisher.email is not None and not _is_email(publisher.email):
        problems.append(
            _problem(
                "publisher.email は空白や < > などを含まないメールアドレスにしてください"
                " / publisher.email must be an e-mail address with no spaces, < > and the like",
                publisher.email,
            )
        )
    if extent and not (extent[0] < extent[2] and extent[1] < extent[3]):
        problems.append(
            Problem(
                "package-error",
                "extent は [西, 南, 東, 北] の順で、西 < 東、南 < 北 にしてください"
                " / extent is [west, south, east, north] with west < east and south < north",
                file="catalog.yaml",
                value=str(list(extent)),
            )
        )
    if problems:
        raise DefinitionError(problems)
    return publisher


def _is_email(text: str) -> bool:
    """Someone's address, as the catalog's `mailto:` IRI: a name, one @, a domain."""
    name, at, domain = text.partition("@")
    return bool(name and at and domain and "@" not in domain) and is_iri(f"mailto:{text}")


def _problem(message: str, value: str) -> Problem:
    return Problem("package-error", message, file=PUBLISHER_FILE, value=value)
