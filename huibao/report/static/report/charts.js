// Draws the report pages' charts with Apache ECharts (vendor/echarts). The data is in
// <script type="application/json" id="..."> blocks (the CSP allows no inline script); each
// chart container names its block in data-chart. Amounts arrive as decimal strings.
(function () {
  "use strict";

  function read(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  function numbers(values) {
    return values.map(function (v) { return Number(v); });
  }

  function option(data) {
    if (data.kind === "trend") {
      return {
        tooltip: { trigger: "axis" },
        legend: { top: 0 },
        grid: { left: 48, right: 12, top: 32, bottom: 28 },
        xAxis: { type: "category", data: data.labels },
        yAxis: { type: "value" },
        series: data.series.map(function (s, i) {
          return { name: s.name, type: i === 0 ? "bar" : "line", data: numbers(s.values), smooth: i !== 0 };
        })
      };
    }
    if (data.kind === "share") {
      return {
        tooltip: { trigger: "item", formatter: "{b}: {c} ({d}%)" },
        series: [{
          type: "pie",
          radius: ["35%", "65%"],
          data: data.items.map(function (it) { return { name: it.name, value: Number(it.value) }; })
        }]
      };
    }
    if (data.kind === "ranking") {
      return {
        tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
        grid: { left: 96, right: 16, top: 8, bottom: 24 },
        xAxis: { type: "value" },
        yAxis: { type: "category", data: data.labels },
        series: [{ type: "bar", data: numbers(data.values) }]
      };
    }
    return null;
  }

  function draw() {
    if (typeof window.echarts === "undefined") { return; }
    var charts = [];
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var data = read(el.getAttribute("data-chart"));
      var opt = data && option(data);
      if (!opt) { return; }
      var chart = window.echarts.init(el, null, { renderer: "canvas" });
      // Ready once drawn, its opening animation over (ECharts' "finished"), not when only asked.
      chart.on("finished", function () { el.setAttribute("data-chart-ready", "1"); });
      chart.setOption(opt);
      charts.push(chart);
    });
    window.addEventListener("resize", function () {
      charts.forEach(function (c) { c.resize(); });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
