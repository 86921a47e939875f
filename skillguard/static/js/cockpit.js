/* Data cockpit charts (ECharts, vendored): reads the figures the server rendered into
   <script id="cockpit-data" type="application/json"> and draws every [data-chart] element.
   Full-screen mode (body.cockpit-screen) uses the dark theme and reloads itself. */
(function () {
  "use strict";

  function ready(fn) {
    if (document.readyState !== "loading") fn(); else document.addEventListener("DOMContentLoaded", fn);
  }

  ready(function () {
    var dark = document.body.classList.contains("cockpit-screen");
    var refresh = parseInt(document.body.getAttribute("data-refresh") || "0", 10);
    if (dark && refresh > 0) {
      window.setTimeout(function () { window.location.reload(); }, refresh * 1000);
      var clock = document.getElementById("screen-clock");
      var tick = function () { if (clock) clock.textContent = new Date().toLocaleString(); };
      tick(); window.setInterval(tick, 1000);
    }
    var node = document.getElementById("cockpit-data");
    if (!node || typeof window.echarts === "undefined") return;
    var data = JSON.parse(node.textContent);
    var theme = dark ? "dark" : null;
    var charts = [];
    var text = dark ? "#dbe6f5" : "#333";
    var base = { backgroundColor: "transparent", textStyle: { color: text }, animationDuration: 300,
                 tooltip: {}, grid: { left: 60, right: 50, top: 40, bottom: 40, containLabel: true } };

    document.querySelectorAll("[data-label]").forEach(function (h) {
      var key = h.getAttribute("data-label");
      if (data.labels && data.labels[key]) h.textContent = data.labels[key];
    });

    function make(el, option) {
      var chart = window.echarts.init(el, theme);
      chart.setOption(Object.assign({}, base, option));
      charts.push(chart);
      return chart;
    }

    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var kind = el.getAttribute("data-chart");
      if (kind === "trend") {
        var metrics = el.getAttribute("data-metrics").split(",");
        var first = data.trends[metrics[0]];
        var x = first ? first.points.map(function (p) { return p.period; }) : [];
        var axes = metrics.map(function (m, i) {
          return { type: "value", name: data.trends[m].label, position: i ? "right" : "left",
                   axisLabel: { formatter: m === "attendance_rate" ? "{value}%" : "{value}" } };
        });
        make(el, {
          tooltip: { trigger: "axis" },
          legend: { data: metrics.map(function (m) { return data.trends[m].label; }),
                    textStyle: { color: text } },
          xAxis: { type: "category", data: x },
          yAxis: axes.length > 1 ? axes : axes[0],
          series: metrics.map(function (m, i) {
            return { name: data.trends[m].label, type: i ? "line" : (metrics.length > 1 ? "bar" : "line"),
                     yAxisIndex: axes.length > 1 ? i : 0, smooth: metrics.length > 1,
                     data: data.trends[m].points.map(function (p) { return p.value; }) };
          })
        });
      } else {
        var rows = (data.breakdowns[el.getAttribute("data-key")] || []);
        var chart;
        if (kind === "pie") {
          chart = make(el, {
            tooltip: { trigger: "item" },
            legend: { type: "scroll", bottom: 0, textStyle: { color: text } },
            series: [{ type: "pie", radius: ["35%", "65%"],
                       data: rows.map(function (r) { return { name: r.label, value: r.value, url: r.url }; }) }]
          });
        } else {
          var top = rows.slice(0, 15).reverse();
          chart = make(el, {
            tooltip: { trigger: "axis" },
            grid: { left: 10, right: 30, top: 10, bottom: 10, containLabel: true },
            xAxis: { type: "value" },
            yAxis: { type: "category", data: top.map(function (r) { return r.label; }) },
            series: [{ type: "bar", data: top.map(function (r) { return { value: r.value, url: r.url }; }) }]
          });
        }
        chart.on("click", function (params) {
          var url = params.data && params.data.url;
          if (url) window.location.href = url;
        });
      }
    });
    window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
  });
})();
