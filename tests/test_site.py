"""The catalog site in a real browser: Debian's headless Chromium driven by Playwright.

Pages are opened from disk (file://), as the static site promises to work with no server.
Screenshots of the index and the plan-indicators page are kept in tests/artifacts/.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalog.site import pages

from conftest import ROOT, opendata

ARTIFACTS = Path(__file__).parent / "artifacts"


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ja-JP")
    page = context.new_page()
    page.errors = []
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    yield page
    context.close()


def _open(page, path: Path) -> None:
    page.goto(path.as_uri())
    page.wait_for_load_state("load")


def _visible_titles(page) -> list[str]:
    return page.locator("#datasets > li:not([hidden]) h2").all_inner_texts()


def test_index_loads_without_errors_and_lists_every_dataset(page, built_site: Path) -> None:
    _open(page, built_site / "index.html")
    assert page.locator("html").get_attribute("lang") == "ja"
    assert len(_visible_titles(page)) == 4
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "index.png"), full_page=True)
    assert page.errors == []


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Wi-Fi", "港区 施設・サービス数（港区基本計画 政策24～26より）"),
        ("ＷｉＦｉ", "港区 施設・サービス数（港区基本計画 政策24～26より）"),
        ("人権", "港区 区民意識調査等の結果（港区基本計画 政策24～26より）"),
        ("見込", "港区基本計画 成果指標（政策24～26）"),  # a field title
    ],
)
def test_search_finds_datasets_by_any_japanese_substring(
    page, built_site: Path, query: str, expected: str
) -> None:
    _open(page, built_site / "index.html")
    page.fill("#q", query)
    assert expected in _visible_titles(page)
    assert page.errors == []


def test_search_for_open_data_finds_the_catalog_list(page, built_site: Path) -> None:
    _open(page, built_site / "index.html")
    page.fill("#q", "オープンデータ")
    titles = _visible_titles(page)
    assert titles == ["オープンデータ一覧"]  # the only dataset that mentions it
    page.fill("#q", "存在しない語句")
    assert _visible_titles(page) == [] and page.locator("#empty").is_visible()


def test_filters_by_theme_tag_and_format(page, built_site: Path) -> None:
    _open(page, built_site / "index.html")
    page.select_option("#theme", "人権・男女平等")
    assert _visible_titles(page) == ["港区 区民意識調査等の結果（港区基本計画 政策24～26より）"]
    page.select_option("#theme", "")
    page.select_option("#tag", "公衆無線LAN")
    assert _visible_titles(page) == ["港区 施設・サービス数（港区基本計画 政策24～26より）"]
    page.select_option("#tag", "")
    page.select_option("#format", "Parquet")
    assert len(_visible_titles(page)) == 4


def test_search_is_reachable_by_keyboard(page, built_site: Path) -> None:
    _open(page, built_site / "index.html")
    page.keyboard.press("Tab")  # the skip link first
    assert page.evaluate("document.activeElement.className") == "skip"
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "q"


@pytest.mark.parametrize(
    "name", ["plan-indicators", "facility-counts", "survey-results", "opendata-list"]
)
def test_dataset_pages_load_and_every_download_resolves(page, built_site: Path, name: str) -> None:
    _open(page, built_site / "datasets" / name / "index.html")
    assert page.errors == []
    links = page.locator("a[href]").evaluate_all("els => els.map(e => e.href)")
    local = [unquote(urlparse(h).path) for h in links if h.startswith("file://")]
    assert len(local) >= 3
    for target in local:
        assert Path(target).is_file(), target
    downloads = page.locator("a[download]").evaluate_all("els => els.map(e => e.href)")
    assert {Path(urlparse(h).path).suffix for h in downloads} == {".csv", ".parquet"}
    assert page.locator("table.preview tbody tr").count() >= 1
    assert "出典：港区オープンデータカタログサイト" in page.locator("#attribution").input_value()


def test_plan_indicator_charts_are_drawn_without_javascript(browser, built_site: Path) -> None:
    context = browser.new_context(
        java_script_enabled=False, viewport={"width": 1280, "height": 900}
    )
    page = context.new_page()
    _open(page, built_site / "datasets/plan-indicators/index.html")
    charts = page.locator("figure svg.chart")
    assert charts.count() == 31
    assert charts.first.bounding_box()["height"] > 100
    assert page.locator("figure#chart-P26-2-1").count() == 1  # the 70～80％ range
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "plan-indicators.png"), full_page=True)
    context.close()


def test_pages_fit_a_phone(browser, built_site: Path) -> None:
    context = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True)
    page = context.new_page()
    for path in (built_site / "index.html", built_site / "datasets/plan-indicators/index.html"):
        _open(page, path)
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
    context.close()


def test_words_apart_are_each_found_as_the_api_finds_them(page, built_site: Path) -> None:
    """「満足度 人権」: two words anywhere in a dataset, not the one string 「満足度人権」."""
    _open(page, built_site / "index.html")
    page.fill("#q", "満足度　人権")  # with an ideographic space, as a Japanese IME types it
    assert _visible_titles(page) == ["港区 区民意識調査等の結果（港区基本計画 政策24～26より）"]
    page.fill("#q", "満足度 存在しない語句")
    assert _visible_titles(page) == []


@pytest.fixture(scope="module")
def paged_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real catalog with two datasets a page: the front page, then list/2.html."""
    out = tmp_path_factory.mktemp("paged") / "dist"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pages, "PAGE_SIZE", 2)
        done = opendata("build", "--datasets", str(ROOT / "datasets"), "--out", str(out))
    assert done.returncode == 0, done.stderr
    return out


@given(st.integers(1, 400), st.data())
def test_a_list_page_links_to_the_first_the_last_and_its_neighbours(count: int, data) -> None:
    page = data.draw(st.integers(1, count))
    window = pages.page_window(page, count)
    numbers = [n for n in window if n is not None]
    assert numbers == sorted(set(numbers)) and numbers[0] == 1 and numbers[-1] == count
    assert set(range(max(1, page - 2), min(count, page + 2) + 1)) <= set(numbers)
    for before, after in itertools.pairwise(window):
        assert before is not None or after is not None  # never two gaps in a row
    for at, n in enumerate(window):  # a gap stands for two pages or more, never one
        if n is None:
            assert window[at + 1] - window[at - 1] > 2  # type: ignore[operator]
    assert len(window) <= 9  # not one link per page


def _items(page) -> list[object]:
    """The list's items as trees of (tag, attributes, text), whitespace between tags ignored."""
    return page.evaluate(
        """() => {
        const tree = (node) => node.nodeType === Node.TEXT_NODE ? node.textContent.trim() :
          [node.tagName, Array.from(node.attributes).map(a => a.name + "=" + a.value).sort(),
           Array.from(node.childNodes).map(tree).filter(c => c !== "")];
        return Array.from(document.querySelectorAll("#datasets > li")).map(tree);
      }"""
    )


def test_without_scripts_every_dataset_is_on_one_of_the_list_pages(browser, paged_site) -> None:
    context = browser.new_context(java_script_enabled=False, locale="ja-JP")
    page = context.new_page()
    _open(page, paged_site / "index.html")
    first = _visible_titles(page)
    assert len(first) == 2 and page.locator("#pages").is_visible()
    assert page.locator("#pages a[rel=prev]").count() == 0
    page.click("#pages a:text-is('2')")
    assert page.url.endswith("/list/2.html")
    assert page.locator("#pages [aria-current=page]").inner_text() == "2"
    assert page.locator("#pages a[rel=next]").count() == 0
    page.click("#pages a[rel=prev]")
    assert page.url.endswith("/index.html") and _visible_titles(page) == first
    page.click("#pages a[rel=next]")
    assert page.url.endswith("/list/2.html")
    second = _visible_titles(page)
    links = page.locator("#datasets h2 a").evaluate_all("els => els.map(e => e.href)")
    assert links and all(Path(unquote(urlparse(link).path)).is_file() for link in links)
    packages = [p for p in (paged_site / "datasets").iterdir() if (p / "package.json").is_file()]
    assert len(first) + len(second) == len(set(first + second)) == len(packages)
    context.close()


def test_the_script_shows_more_and_searches_past_the_first_page(page, paged_site) -> None:
    _open(page, paged_site / "index.html")
    built, first = _items(page), _visible_titles(page)
    assert len(built) == 2 and page.locator("#more").is_visible()
    assert not page.locator("#pages").is_visible()  # the script pages with "show more"
    page.click("#more")
    assert len(_visible_titles(page)) == 4 and not page.locator("#more").is_visible()
    counts = "港区 施設・サービス数（港区基本計画 政策24～26より）"
    assert counts not in first
    page.fill("#q", "Wi-Fi")  # found from the page's index, though not on the page as built
    assert _visible_titles(page) == [counts]
    page.fill("#q", " ")  # every dataset again, drawn by the script as the build drew them
    assert _items(page) == built
    assert page.errors == []


def test_templates_are_compiled_once_then_loaded_from_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = pages.ENV.list_templates()
    first = pages.ENV.overlay(bytecode_cache=pages._TemplateCache(str(tmp_path)))
    compiled = [first.get_template(name) for name in names]
    assert len(list(tmp_path.iterdir())) == len(names)  # compiled, and kept

    def no_compiling(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("compiled again")

    later = pages.ENV.overlay(bytecode_cache=pages._TemplateCache(str(tmp_path)))
    monkeypatch.setattr(later, "compile", no_compiling)
    for name, template in zip(names, compiled, strict=True):
        loaded = later.get_template(name)
        assert loaded.blocks.keys() == template.blocks.keys() and loaded is not template


def test_a_template_cache_that_cannot_be_kept_is_no_failure(tmp_path: Path) -> None:
    cache = pages._TemplateCache(str(tmp_path / "cleaned away"))
    environment = pages.ENV.overlay(bytecode_cache=cache)
    assert environment.get_template("base.html") is not None
