// modelyard UI: theme toggle, selection kept in the URL, chart hover/crosshair and drag-to-zoom.
// Everything works without this file; it only adds conveniences.
(function () {
  "use strict";

  function setTheme(next) {
    document.documentElement.setAttribute("data-theme", next);
    document.cookie = "modelyard_theme=" + next + "; path=/; max-age=31536000; samesite=strict";
  }

  function currentTheme() {
    var set = document.documentElement.getAttribute("data-theme");
    if (set === "light" || set === "dark") return set;
    return window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  }

  function initTheme() {
    var button = document.getElementById("theme-toggle");
    if (!button) return;
    var label = function () {
      button.textContent = currentTheme() === "dark" ? "Light theme" : "Dark theme";
    };
    label();
    button.addEventListener("click", function () {
      setTheme(currentTheme() === "dark" ? "light" : "dark");
      label();
    });
  }

  // Selected runs live in the query string (sel=...), so reload and a pasted link keep them.
  function initSelection() {
    var picks = Array.prototype.slice.call(document.querySelectorAll("input.pick"));
    if (!picks.length) return;
    var all = document.getElementById("select-all");
    function sync() {
      var url = new URL(window.location.href);
      url.searchParams.delete("sel");
      picks.forEach(function (p) { if (p.checked) url.searchParams.append("sel", p.value); });
      window.history.replaceState(null, "", url.toString());
    }
    picks.forEach(function (p) { p.addEventListener("change", sync); });
    if (all) {
      all.addEventListener("change", function () {
        picks.forEach(function (p) { p.checked = all.checked; });
        sync();
      });
    }
  }

  function parsePoints(line) {
    var raw = (line.getAttribute("points") || "").trim();
    if (!raw) return [];
    return raw.split(" ").map(function (pair) {
      var xy = pair.split(",");
      return [parseFloat(xy[0]), parseFloat(xy[1])];
    });
  }

  function nearest(points, x) {
    var lo = 0, hi = points.length - 1;
    if (hi < 0) return null;
    while (lo < hi) {
      var mid = (lo + hi) >> 1;
      if (points[mid][0] < x) lo = mid + 1; else hi = mid;
    }
    if (lo > 0 && Math.abs(points[lo - 1][0] - x) < Math.abs(points[lo][0] - x)) lo -= 1;
    return points[lo];
  }

  function initChart(svg) {
    var d = svg.dataset;
    var left = +d.left, right = +d.right, top = +d.top, bottom = +d.bottom;
    var x0 = +d.x0, x1 = +d.x1, y0 = +d.y0, y1 = +d.y1, logy = d.log === "1";
    var toX = function (px) { return x0 + (px - left) / (right - left) * (x1 - x0); };
    var toY = function (py) {
      var v = y0 + (bottom - py) / (bottom - top) * (y1 - y0);
      return logy ? Math.pow(10, v) : v;
    };
    var lines = Array.prototype.slice.call(svg.querySelectorAll("polyline"));
    var cache = lines.map(parsePoints);
    var ns = "http://www.w3.org/2000/svg";
    var cross = document.createElementNS(ns, "line");
    cross.setAttribute("class", "crosshair");
    cross.setAttribute("y1", top); cross.setAttribute("y2", bottom);
    cross.setAttribute("visibility", "hidden");
    svg.appendChild(cross);
    var box = document.createElementNS(ns, "rect");
    box.setAttribute("class", "zoombox");
    box.setAttribute("y", top); box.setAttribute("height", bottom - top);
    box.setAttribute("visibility", "hidden");
    svg.appendChild(box);
    var tip = document.createElement("div");
    tip.className = "hover";
    tip.hidden = true;
    svg.parentNode.appendChild(tip);
    var start = null;

    function local(evt) {
      var pt = svg.createSVGPoint();
      pt.x = evt.clientX; pt.y = evt.clientY;
      return pt.matrixTransform(svg.getScreenCTM().inverse());
    }
    svg.addEventListener("mousemove", function (evt) {
      var p = local(evt);
      if (p.x < left || p.x > right) { cross.setAttribute("visibility", "hidden"); tip.hidden = true; return; }
      cross.setAttribute("x1", p.x); cross.setAttribute("x2", p.x);
      cross.setAttribute("visibility", "visible");
      var text = (d.axis === "time" ? new Date(toX(p.x)).toISOString().replace("T", " ").slice(0, 19) : "step " + Math.round(toX(p.x)));
      lines.forEach(function (line, i) {
        var near = nearest(cache[i], p.x);
        if (near) text += "\n" + (line.dataset.label || "") + ": " + toY(near[1]).toPrecision(6);
      });
      tip.textContent = text;
      tip.hidden = false;
      tip.style.left = Math.min(evt.offsetX + 12, svg.clientWidth - 160) + "px";
      tip.style.top = (evt.offsetY + 12) + "px";
      if (start !== null) {
        box.setAttribute("x", Math.min(start, p.x));
        box.setAttribute("width", Math.abs(p.x - start));
        box.setAttribute("visibility", "visible");
      }
    });
    svg.addEventListener("mouseleave", function () {
      cross.setAttribute("visibility", "hidden"); tip.hidden = true;
    });
    var startClient = 0;
    svg.addEventListener("mousedown", function (evt) {
      start = local(evt).x; startClient = evt.clientX; evt.preventDefault();
    });
    window.addEventListener("mouseup", function (evt) {
      if (start === null) return;
      var end = local(evt).x, first = Math.min(start, end), last = Math.max(start, end);
      start = null;
      box.setAttribute("visibility", "hidden");
      if (Math.abs(evt.clientX - startClient) < 3) return;  // a click, not a drag
      // Zoom: the range goes into the URL and the server answers with that range at full detail.
      var url = new URL(window.location.href);
      url.searchParams.set("lo", Math.floor(toX(Math.max(first, left))));
      url.searchParams.set("hi", Math.ceil(toX(Math.min(last, right))));
      window.location.assign(url.toString());
    });
  }

  function initCharts(root) {
    Array.prototype.forEach.call((root || document).querySelectorAll("svg.plot[data-x0]"), function (svg) {
      if (svg.dataset.ready) return;
      svg.dataset.ready = "1";
      initChart(svg);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    initTheme();
    initSelection();
    initCharts(document);
  });
  document.addEventListener("htmx:afterSwap", function (evt) { initCharts(evt.target); });
})();
