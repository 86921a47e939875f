/* Glue between htmx and the pages. The pages work without it: forms post, links load. */
(function () {
  "use strict";

  // A failed htmx request (403, 404, 500) would otherwise fail silently: say so.
  document.addEventListener("htmx:responseError", function (evt) {
    var box = document.getElementById("client-messages");
    if (!box) { return; }
    var status = evt.detail.xhr ? evt.detail.xhr.status : 0;
    var text = box.dataset["error" + status] || box.dataset.error;
    box.innerHTML = "";
    var li = document.createElement("li");
    li.className = "error";
    li.textContent = text;
    box.appendChild(li);
  });

  document.addEventListener("htmx:sendError", function () {
    var box = document.getElementById("client-messages");
    if (box) {
      box.innerHTML = "";
      var li = document.createElement("li");
      li.className = "error";
      li.textContent = box.dataset.offline || box.dataset.error;
      box.appendChild(li);
    }
  });
})();
