/* Job page: poll /api/jobs/{id} once a second until done or failed; show progress and the
   download links. */
(function () {
  "use strict";
  var box = document.getElementById("job");
  if (!box) return;
  var id = box.getAttribute("data-job");
  function show(j) {
    document.getElementById("job-progress").value = j.percent;
    document.getElementById("job-state").textContent = j.state;
    document.getElementById("job-message").textContent = j.message || "";
    box.setAttribute("data-state", j.state);
    var ul = document.getElementById("job-downloads");
    if (j.state === "done" && ul.children.length === 0) {
      j.downloads.forEach(function (url) {
        var li = document.createElement("li"), a = document.createElement("a");
        a.href = url; a.className = "job-file"; a.textContent = url.split("/").pop();
        li.appendChild(a); ul.appendChild(li);
      });
    }
  }
  function poll() {
    fetch("/api/jobs/" + id, { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (j) {
        show(j);
        if (j.state !== "done" && j.state !== "failed") setTimeout(poll, 1000);
      })
      .catch(function () { setTimeout(poll, 3000); });
  }
  poll();
})();
