/*
 * Hearth charts.
 *
 * Every <div class="chart" data-src="..."> becomes one uPlot chart of the
 * series its data-src answers with. The page stays usable without this file:
 * live values refresh through live.js, and the
 * range links are ordinary links; this file only draws charts and lets a
 * drag on a chart pick a narrower range.
 *
 * Contract with the pages:
 *   data-src   URL of the series JSON; from/to query parameters give the
 *              range, &points=N (the chart's width in CSS pixels) is added
 *              so the server sends no more points than can be drawn.
 *   data-tz    IANA time zone of the x axis (default: the browser's).
 *   data-lang  "ja" for Japanese texts (default: <html lang>, else English).
 *   <a data-range-link>         from/to follow the chart's range.
 *   <button data-chart-reset>   inside the same .chart-panel: back to the
 *              range of data-src; disabled while that range is shown.
 *   In the same .chart-panel, optionally:
 *   <a data-range="24h">        range buttons; aria-current="true" marks the
 *              one shown, none once a drag picked another range.
 *   inputs from_local, to_local the custom range's fields, set to a dragged
 *              range in data-tz.
 *   [data-chart-keep=range|from|to]  hidden inputs of forms that keep the
 *              range shown; replaced by from and to after a drag.
 *   <form data-chart-metrics>   checkboxes name="metric": a change charts
 *              the metrics checked at once and posts the form (Accept:
 *              application/json) so the choice is kept.
 *   <select data-chart-compare> a change charts the comparison chosen
 *              (&compare= of data-src) at once.
 *
 * The answer's series are {metric, label, unit, t, v, shift_ms}; series of
 * one unit share a y axis (the first two units left and right, the next
 * two outside them, further ones without a drawn axis). bands
 * [{metric, unit, from, to, level}] of the first metric charted that has
 * any are shaded, and lines [{unit, value, label, kind}] drawn across the
 * axis of their unit, when the chart has one.
 *
 * Plain ES2019 without modules, loaded with defer after htmx and uPlot.
 */
(function () {
  "use strict";

  var MAX_POINTS = 2000;
  // Points asked for while a chart has no width yet (in a hidden tab, say).
  var HIDDEN_POINTS = 600;
  // A drag narrower than this many pixels is a click, not a range.
  var MIN_DRAG_PX = 4;
  // The narrowest range a drag can pick; below a minute the server has at
  // most one sample per series.
  var MIN_RANGE_MS = 60 * 1000;

  // Used when the stylesheet does not define --chart-1 ... --chart-6.
  var FALLBACK_PALETTE = ["#0b5cad", "#c2410c", "#15803d", "#7e22ce", "#a16207", "#0e7490"];

  var TEXT = {
    en: {
      loading: "Loading…",
      noData: "No data",
      failed: "Could not load chart data",
      time: "Time"
    },
    ja: {
      loading: "読み込み中…",
      noData: "データなし",
      failed: "グラフのデータを読み込めませんでした",
      time: "時刻"
    }
  };

  var SEC = 1000;
  var MIN = 60 * SEC;
  var HOUR = 60 * MIN;
  var DAY = 24 * HOUR;
  var YEAR = 365 * DAY;
  var NL = "\n";

  // axisStamps is uPlot's table of x axis tick formats, in 24-hour time and
  // with milliseconds as the time unit. A row applies when the tick spacing
  // is at least its first cell; the second cell formats every tick, and the
  // next six are appended when the year, month, day, hour, minute or second
  // changes from the previous tick.
  function axisStamps(lang) {
    var month = lang === "ja" ? "{M}月" : "{MMM}";
    var ymd = "{YYYY}/{M}/{D}";
    return [
      [YEAR, "{YYYY}", null, null, null, null, null, null, 1],
      [28 * DAY, month, NL + "{YYYY}", null, null, null, null, null, 1],
      [DAY, "{M}/{D}", NL + "{YYYY}", null, null, null, null, null, 1],
      [HOUR, "{HH}:{mm}", NL + ymd, null, NL + "{M}/{D}", null, null, null, 1],
      [MIN, "{HH}:{mm}", NL + ymd, null, NL + "{M}/{D}", null, null, null, 1],
      [SEC, ":{ss}", NL + ymd + " {HH}:{mm}", null, NL + "{M}/{D} {HH}:{mm}", null, NL + "{HH}:{mm}", null, 1],
      [1, ":{ss}.{fff}", NL + ymd + " {HH}:{mm}", null, NL + "{M}/{D} {HH}:{mm}", null, NL + "{HH}:{mm}", null, 1]
    ];
  }

  function langOf(el) {
    var lang = el.getAttribute("data-lang") || document.documentElement.getAttribute("lang") || "";
    return lang.toLowerCase().indexOf("ja") === 0 ? "ja" : "en";
  }

  // validZone returns tz when the browser knows that time zone, else "" so
  // the chart falls back to the browser's own zone instead of failing.
  function validZone(tz) {
    if (!tz) {
      return "";
    }
    try {
      new Intl.DateTimeFormat("en-US", { timeZone: tz }).format(0);
      return tz;
    } catch (err) {
      return "";
    }
  }

  // localInput writes a time as a datetime-local field takes it, in zone
  // (the browser's when "").
  function localInput(ms, zone) {
    var opts = { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
    if (zone) {
      opts.timeZone = zone;
    }
    var p = {};
    new Intl.DateTimeFormat("en-US", opts).formatToParts(new Date(ms)).forEach(function (part) {
      p[part.type] = part.value;
    });
    return p.year + "-" + p.month + "-" + p.day + "T" + p.hour + ":" + p.minute;
  }

  function decodeParam(s) {
    try {
      return decodeURIComponent(s.replace(/\+/g, " "));
    } catch (err) {
      return s;
    }
  }

  // setParams returns url with the query parameters in params set (or, for
  // a null value, removed). Every other parameter is kept byte for byte, in
  // its place, so links the server wrote keep their exact form.
  function setParams(url, params) {
    var hashAt = url.indexOf("#");
    var hash = hashAt < 0 ? "" : url.slice(hashAt);
    var rest = hashAt < 0 ? url : url.slice(0, hashAt);
    var queryAt = rest.indexOf("?");
    var path = queryAt < 0 ? rest : rest.slice(0, queryAt);
    var query = queryAt < 0 ? "" : rest.slice(queryAt + 1);
    var done = {};
    var out = [];

    function pair(key) {
      return encodeURIComponent(key) + "=" + encodeURIComponent(String(params[key]));
    }

    query.split("&").forEach(function (part) {
      if (part === "") {
        return;
      }
      var eq = part.indexOf("=");
      var key = decodeParam(eq < 0 ? part : part.slice(0, eq));
      if (!Object.prototype.hasOwnProperty.call(params, key)) {
        out.push(part);
        return;
      }
      if (!done[key] && params[key] !== null && params[key] !== undefined) {
        out.push(pair(key));
      }
      done[key] = true;
    });
    Object.keys(params).forEach(function (key) {
      if (!done[key] && params[key] !== null && params[key] !== undefined) {
        out.push(pair(key));
      }
    });
    return path + (out.length ? "?" + out.join("&") : "") + hash;
  }

  function cssVar(el, name, fallback) {
    var v = window.getComputedStyle(el).getPropertyValue(name).trim();
    return v || fallback;
  }

  function palette(el) {
    return FALLBACK_PALETTE.map(function (colour, i) {
      return cssVar(el, "--chart-" + (i + 1), colour);
    });
  }

  // plotHeight keeps charts short enough on a phone that the legend and the
  // range buttons stay in view, and not taller than useful on a desktop.
  function plotHeight(width) {
    return Math.max(220, Math.min(320, Math.round(width * 0.55)));
  }

  // tables turns the answer's series into uPlot.join input. A null value is
  // a gap the server reports and stays a gap; timestamps that only other
  // series have become undefined in this series, which uPlot draws across.
  function tables(series) {
    return series.map(function (s) {
      var t = Array.isArray(s.t) ? s.t : [];
      var v = Array.isArray(s.v) ? s.v : [];
      var n = Math.min(t.length, v.length);
      var rows = [];
      for (var i = 0; i < n; i++) {
        if (typeof t[i] === "number" && isFinite(t[i])) {
          rows.push([t[i], typeof v[i] === "number" && isFinite(v[i]) ? v[i] : null]);
        }
      }
      rows.sort(function (a, b) {
        return a[0] - b[0];
      });
      return [
        rows.map(function (r) {
          return r[0];
        }),
        rows.map(function (r) {
          return r[1];
        })
      ];
    });
  }

  function hasValues(table) {
    return table[1].some(function (v) {
      return v !== null;
    });
  }

  function Chart(el) {
    this.el = el;
    this.src = el.getAttribute("data-src") || "";
    var query = new URL(this.src, window.location.href).searchParams;
    this.origin = { from: query.get("from"), to: query.get("to") };
    this.range = { from: this.origin.from, to: this.origin.to };
    this.lang = langOf(el);
    this.zone = validZone(el.getAttribute("data-tz"));
    this.number = new Intl.NumberFormat(this.lang === "ja" ? "ja-JP" : undefined, { maximumFractionDigits: 2 });
    this.plot = null;
    this.answer = null;
    this.controller = null;
    this.seq = 0;
    this.width = 0;

    this.message = document.createElement("p");
    this.message.className = "chart-message";
    this.message.setAttribute("role", "status");
    this.holder = document.createElement("div");
    this.holder.className = "chart-plot";
    el.appendChild(this.message);
    el.appendChild(this.holder);

    var self = this;
    var panel = el.closest(".chart-panel");
    this.panel = panel;
    this.originRange = new URL(window.location.href).searchParams.get("range");
    this.originCurrent = panel ? Array.prototype.slice.call(panel.querySelectorAll("[data-range][aria-current]")) : [];
    this.resets = panel ? Array.prototype.slice.call(panel.querySelectorAll("[data-chart-reset]")) : [];
    this.onReset = function (e) {
      e.preventDefault();
      self.select(self.origin.from, self.origin.to);
    };
    this.resets.forEach(function (button) {
      button.addEventListener("click", self.onReset);
    });
    this.updateResets();
    this.controls();

    this.resize = new ResizeObserver(function () {
      self.fit();
    });
    this.resize.observe(el);

    this.scheme = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;
    this.onScheme = function () {
      if (self.answer) {
        self.draw(self.answer);
      }
    };
    if (this.scheme && this.scheme.addEventListener) {
      this.scheme.addEventListener("change", this.onScheme);
    }

    this.say(this.text("loading"));
    this.load();
  }

  Chart.prototype.text = function (key) {
    return TEXT[this.lang][key];
  };

  Chart.prototype.contentWidth = function () {
    return Math.floor(this.holder.clientWidth);
  };

  Chart.prototype.points = function () {
    var width = this.contentWidth();
    return width > 0 ? Math.min(MAX_POINTS, width) : HIDDEN_POINTS;
  };

  // say shows a text in place of the plot, so the area is never blank.
  Chart.prototype.say = function (msg, isError) {
    this.destroyPlot();
    this.message.textContent = msg;
    this.message.hidden = false;
    this.el.classList.toggle("chart-error", !!isError);
  };

  Chart.prototype.busy = function (on) {
    this.el.classList.toggle("is-loading", on);
    if (on) {
      this.el.setAttribute("aria-busy", "true");
    } else {
      this.el.removeAttribute("aria-busy");
    }
  };

  Chart.prototype.load = function () {
    var self = this;
    var url = setParams(setParams(this.src, this.range), { points: this.points() });
    var seq = ++this.seq;
    if (this.controller) {
      this.controller.abort();
    }
    var controller = new AbortController();
    this.controller = controller;
    this.busy(true);
    window
      .fetch(url, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
        signal: controller.signal
      })
      .then(function (res) {
        if (!res.ok) {
          throw new Error("HTTP " + res.status);
        }
        return res.json().catch(function () {
          throw new Error("HTTP " + res.status + ", not JSON");
        });
      })
      .then(function (answer) {
        if (seq === self.seq) {
          self.answer = answer;
          self.draw(answer);
        }
      })
      .catch(function (err) {
        if (seq === self.seq && err.name !== "AbortError") {
          self.answer = null;
          self.say(self.text("failed") + " (" + err.message + ")", true);
        }
      })
      .then(function () {
        if (seq === self.seq) {
          self.busy(false);
          self.controller = null;
        }
      });
  };

  Chart.prototype.draw = function (answer) {
    var series = answer && Array.isArray(answer.series) ? answer.series : [];
    var data = tables(series);
    if (!data.some(hasValues)) {
      this.say(this.text("noData"));
      return;
    }
    this.destroyPlot();
    this.message.hidden = true;
    this.el.classList.remove("chart-error");
    var width = this.contentWidth();
    this.width = width;
    this.plot = new window.uPlot(this.options(answer, series, width), window.uPlot.join(data), this.holder);
    // How many points are drawn, for tests and anyone inspecting the page.
    var points = 0;
    data.forEach(function (d) {
      points += d[1].filter(function (v) { return v !== null && v !== undefined; }).length;
    });
    this.el.dataset.points = String(points);
  };

  // AXIS_SIDES says where the i-th unit's axis goes: left, right, then
  // further out on each side; past four units the series keep a scale of
  // their own but no drawn axis.
  var AXIS_SIDES = [3, 1, 3, 1];

  Chart.prototype.options = function (answer, series, width) {
    var self = this;
    var el = this.el;
    var colours = palette(el);
    var axis = cssVar(el, "--chart-axis", "#545b64");
    var grid = cssVar(el, "--chart-grid", "rgba(0,0,0,0.1)");
    var bandFill = {
      fair: cssVar(el, "--chart-band-fair", "rgba(202, 138, 4, 0.12)"),
      poor: cssVar(el, "--chart-band-poor", "rgba(220, 38, 38, 0.10)")
    };
    var lineColour = cssVar(el, "--chart-setpoint", axis);
    var number = this.number;

    // One scale per unit, in the order the units first appear.
    var units = [];
    series.forEach(function (s) {
      var unit = s.unit || "";
      if (units.indexOf(unit) < 0) {
        units.push(unit);
      }
    });
    function scaleOf(unit) {
      return "u" + units.indexOf(unit);
    }
    // The bands of one metric only, the first charted that has any: two
    // metrics' bands over each other would hide both.
    var bands = (Array.isArray(answer.bands) ? answer.bands : []).filter(function (b) {
      return units.indexOf(b.unit || "") >= 0 && (b.level === "fair" || b.level === "poor");
    });
    var banded = null;
    series.forEach(function (s) {
      if (banded === null && bands.some(function (b) { return b.metric === s.metric; })) {
        banded = s.metric;
      }
    });
    bands = bands.filter(function (b) {
      return b.metric === banded;
    });
    var lines = (Array.isArray(answer.lines) ? answer.lines : []).filter(function (l) {
      return units.indexOf(l.unit || "") >= 0 && typeof l.value === "number" && isFinite(l.value);
    });

    var from = answer.from;
    var to = answer.to;
    var fixedX = typeof from === "number" && typeof to === "number" && isFinite(from) && isFinite(to) && to > from;

    var scales = {
      x: {
        time: true,
        range: function (u, min, max) {
          return fixedX ? [from, to] : [min, max];
        }
      }
    };
    units.forEach(function (unit) {
      // A set-point stays in view: the scale reaches it.
      var marks = lines.filter(function (l) {
        return (l.unit || "") === unit;
      }).map(function (l) {
        return l.value;
      });
      scales[scaleOf(unit)] = {
        range: function (u, min, max) {
          marks.forEach(function (m) {
            min = min === null || m < min ? m : min;
            max = max === null || m > max ? m : max;
          });
          if (min === null || max === null) {
            return [0, 1];
          }
          return window.uPlot.rangeNum(min, max, 0.1, true);
        }
      };
    });

    var opts = {
      width: width,
      height: plotHeight(width),
      ms: 1,
      scales: scales,
      series: [{ label: this.text("time"), value: "{YYYY}-{MM}-{DD} {HH}:{mm}" }],
      axes: [
        {
          stroke: axis,
          grid: { stroke: grid, width: 1 },
          ticks: { stroke: grid, width: 1 },
          values: axisStamps(this.lang)
        }
      ],
      cursor: { drag: { x: true, y: false, setScale: false } },
      legend: { live: true },
      hooks: {
        setSelect: [
          function (u) {
            self.zoom(u);
          }
        ],
        drawAxes: [
          function (u) {
            drawBands(u, bands, bandFill, scaleOf);
          }
        ],
        draw: [
          function (u) {
            drawLines(u, lines, lineColour, scaleOf);
          }
        ]
      }
    };
    if (this.zone) {
      var zone = this.zone;
      opts.tzDate = function (ts) {
        return window.uPlot.tzDate(new Date(ts), zone);
      };
    }
    units.forEach(function (unit, i) {
      opts.axes.push({
        scale: scaleOf(unit),
        side: AXIS_SIDES[i] || 3,
        show: i < AXIS_SIDES.length,
        label: unit,
        stroke: axis,
        grid: i === 0 ? { stroke: grid, width: 1 } : { show: false },
        ticks: { stroke: grid, width: 1 },
        values: function (u, vals) {
          return vals.map(function (v) {
            return number.format(v);
          });
        }
      });
    });
    // A comparison's series takes the colour of its metric, dashed.
    var metrics = [];
    series.forEach(function (s) {
      if (!s.shift_ms && metrics.indexOf(s.metric) < 0) {
        metrics.push(s.metric);
      }
    });
    var scaleNames = {};
    series.forEach(function (s, i) {
      var unit = s.unit || "";
      var at = metrics.indexOf(s.metric);
      var label = (s.label || s.metric || String(i + 1)) + (unit ? " (" + unit + ")" : "");
      scaleNames[label] = scaleOf(unit);
      opts.series.push({
        label: label,
        scale: scaleOf(unit),
        stroke: colours[(at < 0 ? i : at) % colours.length],
        width: s.shift_ms ? 1.5 : 2,
        dash: s.shift_ms ? [6, 4] : undefined,
        value: function (u, v) {
          if (v === null || v === undefined) {
            return "–";
          }
          return unit ? number.format(v) + " " + unit : number.format(v);
        }
      });
    });
    // Which scale each series is on, and the units, for tests and anyone
    // inspecting the page.
    el.dataset.scales = JSON.stringify(scaleNames);
    el.dataset.units = JSON.stringify(units);
    el.dataset.bands = String(bands.length);
    el.dataset.lines = String(lines.length);
    return opts;
  };

  // yOf is a value's vertical canvas position on a scale, clamped to the
  // plot; an open end (null) is the plot's edge.
  function yOf(u, value, scale, edge) {
    var top = u.bbox.top;
    var bottom = u.bbox.top + u.bbox.height;
    if (value === null || value === undefined) {
      return edge;
    }
    return Math.min(bottom, Math.max(top, u.valToPos(value, scale, true)));
  }

  // drawBands shades the comfort bands behind the series.
  function drawBands(u, bands, fill, scaleOf) {
    var ctx = u.ctx;
    var top = u.bbox.top;
    var bottom = u.bbox.top + u.bbox.height;
    ctx.save();
    bands.forEach(function (b) {
      var scale = scaleOf(b.unit || "");
      var y0 = yOf(u, b.from, scale, bottom);
      var y1 = yOf(u, b.to, scale, top);
      if (y0 - y1 >= 1) {
        ctx.fillStyle = fill[b.level];
        ctx.fillRect(u.bbox.left, y1, u.bbox.width, y0 - y1);
      }
    });
    ctx.restore();
  }

  // drawLines draws the set-points across the plot with their names: the
  // reported value solid, one asked for and not yet reported dashed.
  function drawLines(u, lines, colour, scaleOf) {
    var ctx = u.ctx;
    var px = window.devicePixelRatio || 1;
    ctx.save();
    ctx.strokeStyle = colour;
    ctx.fillStyle = colour;
    ctx.lineWidth = px;
    ctx.font = Math.round(11 * px) + "px system-ui, sans-serif";
    ctx.textAlign = "right";
    ctx.textBaseline = "bottom";
    lines.forEach(function (l) {
      var y = u.valToPos(l.value, scaleOf(l.unit || ""), true);
      if (!(y >= u.bbox.top && y <= u.bbox.top + u.bbox.height)) {
        return;
      }
      ctx.setLineDash(l.kind === "desired" ? [4 * px, 4 * px] : []);
      ctx.beginPath();
      ctx.moveTo(u.bbox.left, y);
      ctx.lineTo(u.bbox.left + u.bbox.width, y);
      ctx.stroke();
      ctx.fillText(l.label || "", u.bbox.left + u.bbox.width - 4 * px, y - 2 * px);
    });
    ctx.restore();
  }

  // zoom turns a drag over the plot into a new range: the server answers it
  // at full resolution, and the page URL and range links follow it.
  Chart.prototype.zoom = function (u) {
    var sel = u.select;
    if (sel.width < MIN_DRAG_PX) {
      return;
    }
    var from = Math.round(u.posToVal(sel.left, "x"));
    var to = Math.round(u.posToVal(sel.left + sel.width, "x"));
    u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
    if (to - from < MIN_RANGE_MS) {
      var mid = Math.round((from + to) / 2);
      from = mid - MIN_RANGE_MS / 2;
      to = mid + MIN_RANGE_MS / 2;
    }
    this.select(String(from), String(to));
  };

  Chart.prototype.select = function (from, to) {
    this.range = { from: from, to: to };
    var params = { from: from, to: to };
    var atOrigin = from === this.origin.from && to === this.origin.to;
    // A range key in the page URL wins over from and to: a dragged range
    // drops it, going back restores it.
    var page = { from: from, to: to, range: atOrigin ? this.originRange : null };
    window.history.replaceState(window.history.state, "", setParams(window.location.href, page));
    Array.prototype.forEach.call(document.querySelectorAll("a[data-range-link]"), function (a) {
      a.setAttribute("href", setParams(a.getAttribute("href") || "", params));
    });
    this.followRange(atOrigin);
    this.updateResets();
    this.load();
  };

  // followRange makes the panel's range controls show the range charted:
  // the custom range's fields, the range kept by its forms, and which range
  // button is current.
  Chart.prototype.followRange = function (atOrigin) {
    var panel = this.panel;
    if (!panel) {
      return;
    }
    var zone = this.zone;
    var from = Number(this.range.from);
    var to = Number(this.range.to);
    [["from_local", from], ["to_local", to]].forEach(function (f) {
      Array.prototype.forEach.call(panel.querySelectorAll('input[name="' + f[0] + '"]'), function (input) {
        if (isFinite(f[1])) {
          input.value = localInput(f[1], zone);
        }
      });
    });
    var range = this.range;
    var originRange = this.originRange;
    Array.prototype.forEach.call(panel.querySelectorAll("form"), function (form) {
      var kept = form.querySelectorAll('[data-chart-keep="range"], [data-chart-keep="from"], [data-chart-keep="to"]');
      if (!kept.length) {
        return;
      }
      Array.prototype.forEach.call(kept, function (input) {
        input.remove();
      });
      var values = atOrigin && originRange ? { range: originRange } : { from: range.from, to: range.to };
      Object.keys(values).forEach(function (name) {
        var input = document.createElement("input");
        input.type = "hidden";
        input.name = name;
        input.value = values[name];
        input.setAttribute("data-chart-keep", name);
        form.appendChild(input);
      });
    });
    var current = this.originCurrent;
    Array.prototype.forEach.call(panel.querySelectorAll("[data-range]"), function (a) {
      if (atOrigin && current.indexOf(a) >= 0) {
        a.setAttribute("aria-current", "true");
      } else {
        a.removeAttribute("aria-current");
      }
    });
  };

  // controls wires the panel's metric picker and comparison to the chart.
  Chart.prototype.controls = function () {
    var self = this;
    var panel = this.panel;
    if (!panel) {
      return;
    }
    var form = panel.querySelector("form[data-chart-metrics]");
    if (form) {
      this.onMetrics = function () {
        var picked = Array.prototype.filter.call(form.querySelectorAll('input[name="metric"]'), function (c) {
          return c.checked;
        }).map(function (c) {
          return c.value;
        });
        self.setSource({ metrics: picked.join(",") });
        // The choice is kept now; the page's URL and links stop naming
        // metrics so that they follow it.
        window.history.replaceState(window.history.state, "", setParams(window.location.href, { metrics: null }));
        Array.prototype.forEach.call(panel.querySelectorAll("[data-range]"), function (a) {
          a.setAttribute("href", setParams(a.getAttribute("href") || "", { metrics: null }));
        });
        Array.prototype.forEach.call(panel.querySelectorAll('[data-chart-keep="metrics"]'), function (input) {
          input.remove();
        });
        Array.prototype.forEach.call(document.querySelectorAll("a[data-range-link]"), function (a) {
          a.setAttribute("href", setParams(a.getAttribute("href") || "", { metrics: picked.join(",") }));
        });
        var body = new URLSearchParams();
        picked.forEach(function (m) {
          body.append("metric", m);
        });
        window
          .fetch(form.getAttribute("action"), {
            method: "POST",
            credentials: "same-origin",
            headers: { Accept: "application/json" },
            body: body
          })
          .then(function (res) {
            form.classList.toggle("chart-error", !res.ok);
          })
          .catch(function () {
            form.classList.add("chart-error");
          });
      };
      form.addEventListener("change", this.onMetrics);
    }
    var compare = panel.querySelector("select[data-chart-compare]");
    if (compare) {
      this.onCompare = function () {
        var mode = compare.value || null;
        self.setSource({ compare: mode });
        window.history.replaceState(window.history.state, "", setParams(window.location.href, { compare: mode }));
        Array.prototype.forEach.call(panel.querySelectorAll("[data-range]"), function (a) {
          a.setAttribute("href", setParams(a.getAttribute("href") || "", { compare: mode }));
        });
      };
      compare.addEventListener("change", this.onCompare);
    }
  };

  // setSource changes what the chart asks for, keeping its range.
  Chart.prototype.setSource = function (params) {
    this.src = setParams(this.src, params);
    this.el.setAttribute("data-src", this.src);
    this.load();
  };

  Chart.prototype.updateResets = function () {
    var atOrigin = this.range.from === this.origin.from && this.range.to === this.origin.to;
    this.resets.forEach(function (button) {
      button.disabled = atOrigin;
    });
  };

  // fit follows the container's width; only width changes matter, since the
  // chart's own height changes the container's height.
  Chart.prototype.fit = function () {
    var width = this.contentWidth();
    if (!this.plot || width === this.width || width <= 0) {
      return;
    }
    this.width = width;
    this.plot.setSize({ width: width, height: plotHeight(width) });
  };

  Chart.prototype.destroyPlot = function () {
    if (this.plot) {
      this.plot.destroy();
      this.plot = null;
    }
  };

  Chart.prototype.destroy = function () {
    var self = this;
    this.seq++;
    if (this.controller) {
      this.controller.abort();
    }
    this.resize.disconnect();
    if (this.scheme && this.scheme.removeEventListener) {
      this.scheme.removeEventListener("change", this.onScheme);
    }
    this.resets.forEach(function (button) {
      button.removeEventListener("click", self.onReset);
    });
    if (this.panel && this.onMetrics) {
      var form = this.panel.querySelector("form[data-chart-metrics]");
      if (form) {
        form.removeEventListener("change", this.onMetrics);
      }
    }
    if (this.panel && this.onCompare) {
      var compare = this.panel.querySelector("select[data-chart-compare]");
      if (compare) {
        compare.removeEventListener("change", this.onCompare);
      }
    }
    this.destroyPlot();
  };

  var charts = new WeakMap();

  function init(root) {
    if (!root || !root.querySelectorAll) {
      return;
    }
    var els = Array.prototype.slice.call(root.querySelectorAll(".chart[data-src]"));
    if (root.matches && root.matches(".chart[data-src]")) {
      els.unshift(root);
    }
    els.forEach(function (el) {
      if (!charts.has(el)) {
        charts.set(el, new Chart(el));
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () {
      init(document);
    });
  } else {
    init(document);
  }
  document.addEventListener("htmx:load", function (e) {
    init(e.target);
  });
  // htmx announces each element it removes; a removed chart lets go of its
  // observers and any request in flight.
  document.addEventListener("htmx:beforeCleanupElement", function (e) {
    var chart = charts.get(e.target);
    if (chart) {
      chart.destroy();
      charts.delete(e.target);
    }
  });
})();
