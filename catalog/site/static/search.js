// Client-side search over the whole catalog, from the compact index in the page (one array
// per dataset, in the page's order): any substring of title, description, tags and field
// titles, after the same folding the build applies (NFKC, lower case, no spaces or hyphens),
// so 「ＷｉＦｉ」 finds 「Wi-Fi」 and two-character words such as 「人権」 just work. Words apart
// by spaces must each be found, as the API's package_search combines them. Matches are shown
// a page at a time, so a keystroke costs a scan of short strings and ~50 list items, however
// large the catalog.
(function () {
  "use strict";
  var NAME = 0, TITLE = 1, TITLE_EN = 2, SUMMARY = 3, THEMES = 4, TAGS = 5, FORMATS = 6,
    MODIFIED = 7, SEARCH = 8;
  var fold = function (text) {
    return text.normalize("NFKC").toLowerCase().replace(/[\s\-‐‑–—・]/g, "");
  };
  var entries = JSON.parse(document.getElementById("catalog-index").textContent);
  var form = document.getElementById("search");
  var list = document.getElementById("datasets");
  var PAGE = Number(list.getAttribute("data-page-size"));
  var count = document.getElementById("count");
  var empty = document.getElementById("empty");
  var more = document.getElementById("more");
  var pages = document.getElementById("pages");
  var matches = entries;
  var shown = list.children.length;  // the page as built: the first entries, unfiltered
  var field = function (name) { return document.getElementById(name).value; };
  var has = function (values, value) { return !value || values.indexOf(value) >= 0; };

  function element(tag, text, attributes) {
    var node = document.createElement(tag);
    if (text) { node.textContent = text; }
    Object.keys(attributes || {}).forEach(function (key) { node.setAttribute(key, attributes[key]); });
    return node;
  }
  function fact(label, label_en, value) {
    var row = element("div"), term = element("dt", label + " ");
    term.appendChild(element("span", label_en, { lang: "en" }));
    row.appendChild(term);
    row.appendChild(value);
    return row;
  }
  function item(entry) {  // the markup index.html's `entry` macro writes
    var li = element("li", "", { "class": "dataset" });
    var heading = element("h2");
    heading.appendChild(element("a", entry[TITLE], { href: "datasets/" + entry[NAME] + "/index.html" }));
    li.appendChild(heading);
    if (entry[TITLE_EN]) { li.appendChild(element("p", entry[TITLE_EN], { "class": "en", lang: "en" })); }
    li.appendChild(element("p", entry[SUMMARY], { "class": "summary" }));
    var facts = element("dl", "", { "class": "facts" });
    facts.appendChild(fact("分類", "Themes", element("dd", entry[THEMES].join("、") || "—")));
    var updated = element("dd");
    updated.appendChild(element("time", entry[MODIFIED].slice(0, 10), { datetime: entry[MODIFIED] }));
    facts.appendChild(fact("最終更新", "Updated", updated));
    facts.appendChild(fact("形式", "Formats", element("dd", entry[FORMATS].join(", "))));
    li.appendChild(facts);
    var tags = element("ul", "", { "class": "tags", "aria-label": "タグ / tags" });
    entry[TAGS].forEach(function (tag) { tags.appendChild(element("li", tag)); });
    li.appendChild(tags);
    return li;
  }
  function showMore() {
    var next = document.createDocumentFragment();
    matches.slice(shown, shown + PAGE).forEach(function (entry) { next.appendChild(item(entry)); });
    list.appendChild(next);
    shown = Math.min(matches.length, shown + PAGE);
    more.hidden = shown >= matches.length;
  }
  function apply() {
    var words = field("q").normalize("NFKC").split(/\s+/).map(fold).filter(Boolean);
    var theme = field("theme"), tag = field("tag"), format = field("format");
    matches = entries.filter(function (entry) {
      var text = entry[SEARCH];
      return words.every(function (word) { return text.indexOf(word) >= 0; }) &&
        has(entry[THEMES], theme) && has(entry[TAGS], tag) && has(entry[FORMATS], format);
    });
    list.textContent = "";
    shown = 0;
    showMore();
    count.textContent = matches.length + " 件のデータセット / datasets";
    empty.hidden = matches.length !== 0;
  }
  if (pages) { pages.hidden = true; }  // with the script, "show more" pages the list instead
  more.hidden = shown >= matches.length;
  more.addEventListener("click", showMore);
  form.addEventListener("input", apply);
  form.addEventListener("change", apply);
  form.addEventListener("submit", function (event) { event.preventDefault(); apply(); });
  var initial = new URLSearchParams(window.location.search).get("q");
  if (initial) { document.getElementById("q").value = initial; apply(); }
})();
