/* The chat page in the browser: answers stay in view, and Esc stops the running answer.

   Client-side only, so following the conversation costs no server round trip per
   scroll or per streamed word. Loaded on every page (app head); it acts only where
   the chat is: the conversation (`#conversation`) calls `chatView.attach()` when it
   mounts, and Esc only presses the chat's Stop button.

   Following: while the reader is at the bottom of the conversation ("pinned"), every
   change to it (the question sent, each streamed word, the end of the turn) scrolls
   it to the bottom again. Scrolling up unpins it: from then on nothing moves the
   view, and "Jump to latest" (`#jump-to-latest`, hidden by the stylesheet until it
   has `data-show`) scrolls down and pins it again, as does scrolling back to the
   bottom by hand. Opening another conversation pins it too. */
(function () {
  "use strict";
  if (window.chatView) return; // loaded once per page load, whatever remounts

  // Closer than this to the bottom is "at the bottom" (a line's rounding, a border).
  var AT_BOTTOM_PX = 24;
  // Esc belongs to an open dialog, drawer, menu or list first: it closes that.
  var LAYERS = '[role="dialog"], [role="alertdialog"], [role="menu"], [role="listbox"]';

  var view = null; // the conversation being followed: {el, pinned, lastTop, stop()}

  function jumpButton() {
    return document.getElementById("jump-to-latest");
  }

  function showJump(show) {
    var button = jumpButton();
    if (button) button.toggleAttribute("data-show", show);
  }

  function atBottom(el) {
    return el.scrollHeight - el.scrollTop - el.clientHeight <= AT_BOTTOM_PX;
  }

  function follow(v) {
    v.el.scrollTop = v.el.scrollHeight;
    v.lastTop = v.el.scrollTop;
  }

  function pin(v) {
    v.pinned = true;
    showJump(false);
    follow(v);
  }

  function attach() {
    var el = document.getElementById("conversation");
    if (!el || (view && view.el === el)) return;
    if (view) view.stop();
    var v = { el: el, pinned: true, lastTop: el.scrollTop };

    function onScroll() {
      if (atBottom(el)) {
        v.pinned = true;
        showJump(false);
      } else if (el.scrollTop < v.lastTop - 1) {
        // Only a move up unpins: content growing below (scrollTop unchanged) does not.
        v.pinned = false;
        showJump(true);
      }
      v.lastTop = el.scrollTop;
    }

    function onChange(records) {
      if (!el.isConnected) return v.stop();
      var opened = records.some(function (r) {
        return r.type === "attributes" && r.target === el;
      });
      if (opened || v.pinned) pin(v);
    }

    var changes = new MutationObserver(onChange);
    changes.observe(el, {
      childList: true,
      subtree: true,
      characterData: true,
      attributes: true,
      attributeFilter: ["data-conversation"],
    });
    // The box itself shrinks or grows (the composer's height, a phone's keyboard).
    var resizes = new ResizeObserver(function () {
      if (v.pinned) follow(v);
    });
    resizes.observe(el);
    el.addEventListener("scroll", onScroll, { passive: true });
    v.stop = function () {
      changes.disconnect();
      resizes.disconnect();
      el.removeEventListener("scroll", onScroll);
      if (view === v) view = null;
    };
    view = v;
    pin(v);
  }

  document.addEventListener("click", function (event) {
    if (view && event.target instanceof Element && event.target.closest("#jump-to-latest")) {
      pin(view);
    }
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape" || event.defaultPrevented || event.isComposing) return;
    if (document.querySelector(LAYERS)) return;
    var stop = document.getElementById("stop-button");
    if (!stop || stop.disabled) return;
    event.preventDefault();
    stop.click();
  });

  window.chatView = { attach: attach };
  // The conversation may have mounted before this file ran (the first page load).
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", attach);
  } else {
    attach();
  }
})();
