// Phone widths: the main navigation folds behind a Menu button (no inline script: CSP).
(function () {
  var button = document.querySelector(".menu-button");
  var nav = document.getElementById("main-nav");
  if (!button || !nav) { return; }
  document.documentElement.classList.add("js");
  button.hidden = false;
  button.addEventListener("click", function () {
    var open = button.getAttribute("aria-expanded") === "true";
    button.setAttribute("aria-expanded", open ? "false" : "true");
    nav.classList.toggle("open", !open);
  });
})();
