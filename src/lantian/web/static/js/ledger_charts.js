/* Retrofit progress by district (Apache ECharts, served locally). Data comes from the JSON
   block #chart-data written by the server. */
(function () {
  "use strict";
  var el = document.getElementById("district-chart");
  var src = document.getElementById("chart-data");
  if (!el || !src || !window.echarts) return;
  var d = JSON.parse(src.textContent);
  var en = d.lang === "en";
  var chart = window.echarts.init(el);
  chart.setOption({
    tooltip: { trigger: "axis" },
    legend: {},
    xAxis: { type: "category", data: d.districts },
    yAxis: { type: "value", name: en ? "lines" : "条" },
    series: [
      { name: en ? "Plans" : "计划数", type: "bar", data: d.plans },
      { name: en ? "Done" : "已完成", type: "bar", data: d.done, itemStyle: { color: "#176b2c" } },
      { name: en ? "Overdue" : "已逾期", type: "bar", data: d.overdue, itemStyle: { color: "#b00020" } }
    ]
  });
  window.lantianLedgerChart = chart;
})();
