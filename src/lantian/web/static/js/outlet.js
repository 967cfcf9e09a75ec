/* Outlet page charts (Apache ECharts, served locally). Data comes from the JSON block
   #chart-data written by the server; times are China Standard Time wall-clock. */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("chart-data").textContent);
  var en = data.lang === "en";
  var L = en
    ? { measured: "Measured", corrected: "Corrected (ref. O2)", limit: "Limit", exceed: "Exceedance",
        invalid: "Flagged", event: "Quality event", o2: "O2 [%]", flow: "Flow [m3/s]" }
    : { measured: "实测值", corrected: "折算值", limit: "限值", exceed: "超标",
        invalid: "标记时段", event: "质量事件", o2: "氧含量 [%]", flow: "流量 [m3/s]" };
  window.lantianCharts = {};

  function pairs(ts, values) {
    var out = [];
    for (var i = 0; i < ts.length; i++) out.push([ts[i], values[i]]);
    return out;
  }

  function box(container, id) {
    var el = document.createElement("div");
    el.id = id;
    el.className = "chart";
    container.appendChild(el);
    return el;
  }

  var charts = document.getElementById("charts");
  var aux = document.getElementById("aux-charts");
  Object.keys(data.points).forEach(function (mn) {
    var pt = data.points[mn];
    window.lantianCharts[mn] = {};
    Object.keys(pt.pollutants).forEach(function (key) {
      var pol = pt.pollutants[key];
      var el = box(charts, "chart-" + mn + "-" + key);
      var chart = echarts.init(el);
      var shaded = pt.invalid.filter(function (s) { return s.pollutant === key; })
        .map(function (s) { return [{ name: s.flag, xAxis: s.start }, { xAxis: s.end }]; });
      var events = data.quality_events.filter(function (e) {
        return e.mn === mn && (!e.pollutant || e.pollutant === key);
      }).map(function (e) {
        var s = e.start || e.start_ts, end = e.end || e.end_ts || s;
        return [{ name: e.detector, xAxis: s }, { xAxis: end }];
      });
      var exceed = pt.exceedances.filter(function (x) { return x.pollutant === key; })
        .map(function (x) { return [x.ts, x.value]; });
      var measured = {
        name: L.measured, type: "line", showSymbol: false, data: pairs(pt.ts, pol.measured),
        markArea: { silent: true, itemStyle: { color: "rgba(160,160,160,0.25)" }, data: shaded }
      };
      if (pol.limit !== null && pol.limit !== undefined) {
        measured.markLine = {
          symbol: "none", silent: true, lineStyle: { type: "dashed", color: "#c00" },
          label: { formatter: L.limit + " {c}" }, data: [{ name: L.limit, yAxis: pol.limit }]
        };
      }
      var series = [measured,
        { name: L.corrected, type: "line", showSymbol: false, data: pairs(pt.ts, pol.corrected) },
        { name: L.exceed, type: "scatter", symbolSize: 7, itemStyle: { color: "#c00" }, data: exceed },
        { name: L.event, type: "line", data: [],
          markArea: { itemStyle: { color: "rgba(255,165,0,0.2)" }, data: events } }];
      chart.setOption({
        title: { text: (en ? pol.name_en : pol.name_zh) + " [" + pol.unit + "] · " + mn, textStyle: { fontSize: 14 } },
        tooltip: { trigger: "axis" }, legend: { top: 24 },
        grid: { top: 60, left: 50, right: 20, bottom: 30 },
        xAxis: { type: "time", name: en ? "CST" : "北京时间" },
        yAxis: { type: "value", max: function (v) {
          var lim = pol.limit || 0; return Math.ceil(Math.max(v.max, lim * 1.1));
        } },
        series: series
      });
      window.lantianCharts[mn][key] = chart;
    });
    var el = box(aux, "chart-" + mn + "-o2flow");
    var chart = echarts.init(el);
    chart.setOption({
      title: { text: (en ? "O2 and flow" : "氧含量与流量") + " · " + mn, textStyle: { fontSize: 14 } },
      tooltip: { trigger: "axis" }, legend: { top: 24 },
      grid: { top: 60, left: 50, right: 60, bottom: 30 },
      xAxis: { type: "time" },
      yAxis: [{ type: "value", name: L.o2 }, { type: "value", name: L.flow }],
      series: [
        { name: L.o2, type: "line", showSymbol: false, data: pairs(pt.ts, pt.o2_pct) },
        { name: L.flow, type: "line", showSymbol: false, yAxisIndex: 1, data: pairs(pt.ts, pt.flow_m3_s) }
      ]
    });
    window.lantianCharts[mn].o2flow = chart;
  });
})();
