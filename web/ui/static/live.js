/*
 * Hearth live pages.
 *
 * The element with data-live="URL" (one a page: the overview's cards, a
 * site's table of devices, a device's state and values) is kept current
 * from a stream of server-sent events at URL:
 *   update  its data is the element's new HTML, which replaces it whole;
 *   ping    nothing changed, the stream is alive;
 *   bye     the server ends the stream (it lasts minutes); reconnect now.
 * [data-live-ago] counts the seconds since the server last confirmed the
 * values, with the text of its [data-live-status] parent's data-ago ("{n}"
 * is the number); [data-live-lost] is shown while the stream is broken for
 * more than a moment, and hidden again once it is back. Without this file
 * (or EventSource) the page shows the values it was served with.
 *
 * Plain ES2019 without modules, loaded with defer.
 */
(function () {
  "use strict";

  // A broken stream is announced after this long, so that a reconnect
  // that succeeds at once does not flash the banner.
  var LOST_AFTER_MS = 2000;
  var RETRY_MIN_MS = 1000;
  var RETRY_MAX_MS = 30000;

  function start() {
    var first = document.querySelector("[data-live]");
    if (!first || typeof EventSource === "undefined") {
      return;
    }
    var url = first.getAttribute("data-live");
    var status = document.querySelector("[data-live-status]");
    var ago = document.querySelector("[data-live-ago]");
    var lost = document.querySelector("[data-live-lost]");
    var confirmed = 0;
    var source = null;
    var lostTimer = 0;
    var retryTimer = 0;
    var retry = RETRY_MIN_MS;

    function tick() {
      if (!ago || !status || !confirmed) {
        return;
      }
      var n = Math.max(0, Math.floor((Date.now() - confirmed) / 1000));
      ago.textContent = (status.getAttribute("data-ago") || "{n}").replace("{n}", String(n));
    }

    function fresh() {
      confirmed = Date.now();
      retry = RETRY_MIN_MS;
      if (lostTimer) {
        clearTimeout(lostTimer);
        lostTimer = 0;
      }
      if (lost) {
        lost.hidden = true;
      }
      document.documentElement.removeAttribute("data-live-lost");
      tick();
    }

    function broken() {
      if (lostTimer || (lost && !lost.hidden)) {
        return;
      }
      lostTimer = setTimeout(function () {
        lostTimer = 0;
        if (lost) {
          lost.hidden = false;
        }
        document.documentElement.setAttribute("data-live-lost", "");
      }, LOST_AFTER_MS);
    }

    function connect() {
      retryTimer = 0;
      source = new EventSource(url);
      source.addEventListener("update", function (e) {
        var cur = document.querySelector("[data-live]");
        if (cur) {
          var t = document.createElement("template");
          t.innerHTML = e.data;
          var next = t.content.firstElementChild;
          if (next && next.getAttribute("data-live") === url) {
            cur.replaceWith(next);
          }
        }
        fresh();
      });
      source.addEventListener("ping", fresh);
      source.addEventListener("bye", function () {
        source.close();
        connect();
      });
      source.addEventListener("error", function () {
        broken();
        // The browser retries a dropped connection by itself; one it gave
        // up on (an answer other than a stream: the server stopping, a
        // limit, a sign-in page) is retried here, less often each time.
        if (source.readyState === EventSource.CLOSED && !retryTimer) {
          retryTimer = setTimeout(connect, retry);
          retry = Math.min(retry * 2, RETRY_MAX_MS);
        }
      });
    }

    connect();
    setInterval(tick, 1000);
    window.addEventListener("pagehide", function () {
      if (source) {
        source.close();
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
