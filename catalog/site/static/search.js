// Client-side search over the catalog: any substring of title, description, tags and field
// titles, after the same folding the build applies (NFKC, lower case, no spaces or hyphens),
// so 「ＷｉＦｉ」 finds 「Wi-Fi」 and two-character words such as 「人権」 just work. Words apart
// by spaces must each be found, as the API's package_search combines them.
(function () {
  "use strict";
  var fold = function (text) {
    return text.normalize("NFKC").toLowerCase().replace(/[\s\-‐‑–—・]/g, "");
  };
  var form = document.getElementById("search");
  var items = Array.prototype.slice.call(document.querySelectorAll("#datasets > li"));
  var count = document.getElementById("count");
  var empty = document.getElementById("empty");
  var field = function (name) { return document.getElementById(name).value; };
  var has = function (item, key, value) {
    return !value || item.getAttribute(key).split("|").indexOf(value) >= 0;
  };
  function apply() {
    var words = field("q").normalize("NFKC").split(/\s+/).map(fold).filter(Boolean);
    var shown = 0;
    items.forEach(function (item) {
      var text = item.getAttribute("data-search");
      var match = words.every(function (word) { return text.indexOf(word) >= 0; }) &&
        has(item, "data-themes", field("theme")) &&
        has(item, "data-tags", field("tag")) &&
        has(item, "data-formats", field("format"));
      item.hidden = !match;
      if (match) { shown += 1; }
    });
    count.textContent = shown + " 件のデータセット / datasets";
    empty.hidden = shown !== 0;
  }
  form.addEventListener("input", apply);
  form.addEventListener("change", apply);
  form.addEventListener("submit", function (event) { event.preventDefault(); apply(); });
  var initial = new URLSearchParams(window.location.search).get("q");
  if (initial) { document.getElementById("q").value = initial; }
  apply();
})();
