/* The chat page's keyboard: Esc stops the running answer.

   Client-side only: a key press costs no server round trip beyond the Stop itself.
   Loaded on every page (app head); it acts only where the chat's Stop button is. */
(function () {
  "use strict";
  if (window.chatView) return; // loaded once per page load, whatever remounts

  // Esc belongs to an open dialog, drawer, menu or list first: it closes that.
  var LAYERS = '[role="dialog"], [role="alertdialog"], [role="menu"], [role="listbox"]';

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape" || event.defaultPrevented || event.isComposing) return;
    if (document.querySelector(LAYERS)) return;
    var stop = document.getElementById("stop-button");
    if (!stop || stop.disabled) return;
    event.preventDefault();
    stop.click();
  });

  window.chatView = {};
})();
