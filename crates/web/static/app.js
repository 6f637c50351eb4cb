// Progressive enhancement only: the page works without this file.
// A "Copy" button on every fix, so a record or a setting can be pasted as shown.
document.addEventListener("DOMContentLoaded", function () {
  var label = document.documentElement.lang === "ja" ? "コピー" : "Copy";
  var done = document.documentElement.lang === "ja" ? "コピーしました" : "Copied";
  document.querySelectorAll("pre.fix").forEach(function (pre) {
    if (!navigator.clipboard) return;
    var b = document.createElement("button");
    b.type = "button";
    b.className = "copy";
    b.textContent = label;
    b.addEventListener("click", function () {
      navigator.clipboard.writeText(pre.firstChild ? pre.firstChild.textContent : "").then(function () {
        b.textContent = done;
      });
    });
    pre.appendChild(b);
  });
});
