// netsword review queue: keyboard keys for the buttons on the page (the console's only script; same-origin,
// loaded by the queue page alone). Without it every button and link works the same by mouse or Tab.
"use strict";
document.addEventListener("keydown", function (event) {
  if (event.ctrlKey || event.metaKey || event.altKey) { return; }
  var target = event.target;
  if (target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA")) { return; }
  var key = event.key.toLowerCase();
  var click = function (id) {
    var el = document.getElementById(id);
    if (el) { event.preventDefault(); el.click(); }
  };
  if (/^[1-9]$/.test(key)) {
    var select = document.getElementById("review-reason");
    var n = parseInt(key, 10);
    if (select && n < select.options.length) { event.preventDefault(); select.selectedIndex = n; }
    return;
  }
  switch (key) {
    case "c": click("key-confirm"); break;
    case "x": click("key-dismiss"); break;
    case "a": click("key-take"); break;
    case "n": case "j": click("key-next"); break;
    case "p": case "k": click("key-prev"); break;
    default: break;
  }
});
