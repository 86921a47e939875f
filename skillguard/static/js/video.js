/* SkillGuard video player: hls.js on a <video>, native HLS as the fallback.
 *
 * Markup (templates/video/_player.html):
 *   <div class="sg-player" data-sg-player data-src="…m3u8" data-live="1|0"
 *        data-msg-loading="…" data-msg-offline="…" data-msg-error="…" data-msg-ended="…">
 *     <video muted playsinline autoplay></video><div class="sg-player-state"></div>
 *   </div>
 *
 * States (data-state on the element and on .sg-player-state): loading, playing, buffering,
 * offline (live: the camera does not stream; retried every RETRY_MS), error, ended (VOD).
 * A live player whose time stops advancing for STALL_MS reconnects. Plain script (no
 * Alpine dependency): players are set up on DOMContentLoaded and after every htmx swap;
 * each element keeps its controller in el.sgPlayer (tests read el.sgPlayer.state).
 *
 * hls.js is preferred whenever MediaSource works: Chromium answers canPlayType for HLS
 * with "maybe" but plays it through hls.js reliably.
 */
(function () {
  "use strict";
  var RETRY_MS = 5000;
  var STALL_MS = 15000;

  function Player(el) {
    this.el = el;
    this.video = el.querySelector("video");
    this.label = el.querySelector(".sg-player-state");
    this.src = el.getAttribute("data-src") || "";
    this.live = el.getAttribute("data-live") === "1";
    this.hls = null;
    this.retryTimer = null;
    this.lastTime = -1;
    this.lastProgress = Date.now();
    this.attempts = 0;
    var self = this;
    ["playing", "timeupdate"].forEach(function (name) {
      self.video.addEventListener(name, function () { self.progress(); });
    });
    this.video.addEventListener("waiting", function () {
      if (self.state === "playing") self.setState("buffering");
    });
    this.video.addEventListener("ended", function () {
      if (self.live) self.reconnect(); else self.setState("ended");
    });
    this.watchdog = setInterval(function () { self.check(); }, 3000);
    this.start();
  }

  Player.prototype.message = function (state) {
    return this.el.getAttribute("data-msg-" + state) || "";
  };

  Player.prototype.setState = function (state) {
    this.state = state;
    this.el.setAttribute("data-state", state);
    if (this.label) {
      this.label.setAttribute("data-state", state);
      this.label.textContent = this.message(state);
      this.label.hidden = state === "playing";
    }
  };

  Player.prototype.progress = function () {
    var t = this.video.currentTime;
    if (t !== this.lastTime) {
      this.lastTime = t;
      this.lastProgress = Date.now();
      this.attempts = 0;
      if (this.state !== "playing" && !this.video.paused) this.setState("playing");
    }
  };

  Player.prototype.check = function () {
    if (!document.body.contains(this.el)) { this.destroy(); return; }
    if (this.live && (this.state === "playing" || this.state === "buffering")
        && Date.now() - this.lastProgress > STALL_MS) {
      this.reconnect();
    }
  };

  Player.prototype.play = function () {
    var p = this.video.play();
    if (p && p.catch) p.catch(function () { /* autoplay refused: controls stay */ });
  };

  Player.prototype.start = function () {
    var self = this, video = this.video;
    this.setState("loading");
    this.lastProgress = Date.now();
    if (!this.src) { this.setState("offline"); return; }
    if (window.Hls && window.Hls.isSupported()) {
      var hls = new window.Hls({
        liveDurationInfinity: true, lowLatencyMode: false, backBufferLength: 30,
        manifestLoadingMaxRetry: 1, levelLoadingMaxRetry: 2, fragLoadingMaxRetry: 3
      });
      this.hls = hls;
      hls.on(window.Hls.Events.MANIFEST_PARSED, function () { self.play(); });
      hls.on(window.Hls.Events.ERROR, function (_event, data) {
        if (!data.fatal) return;
        if (data.type === window.Hls.ErrorTypes.MEDIA_ERROR && self.attempts < 2) {
          self.attempts += 1;
          hls.recoverMediaError();
          return;
        }
        var gone = data.type === window.Hls.ErrorTypes.NETWORK_ERROR;
        self.teardown();
        self.setState(gone ? "offline" : "error");
        if (self.live) self.scheduleRetry();
      });
      hls.loadSource(this.src);
      hls.attachMedia(video);
    } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
      video.src = this.src;
      video.addEventListener("loadedmetadata", function () { self.play(); }, { once: true });
      video.addEventListener("error", function () {
        self.setState("offline");
        if (self.live) self.scheduleRetry();
      }, { once: true });
    } else {
      this.setState("error");
    }
  };

  Player.prototype.scheduleRetry = function () {
    var self = this;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(function () {
      if (document.body.contains(self.el)) self.start();
    }, RETRY_MS);
  };

  Player.prototype.teardown = function () {
    if (this.hls) { this.hls.destroy(); this.hls = null; }
    this.video.removeAttribute("src");
    try { this.video.load(); } catch (e) { /* nothing loaded */ }
  };

  Player.prototype.reconnect = function () {
    this.teardown();
    this.setState("offline");
    this.scheduleRetry();
  };

  Player.prototype.destroy = function () {
    clearInterval(this.watchdog);
    clearTimeout(this.retryTimer);
    this.teardown();
  };

  function setup(root) {
    (root || document).querySelectorAll("[data-sg-player]").forEach(function (el) {
      if (!el.sgPlayer) el.sgPlayer = new Player(el);
    });
  }

  window.sgVideo = { setup: setup, Player: Player };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { setup(); });
  } else {
    setup();
  }
  document.addEventListener("htmx:load", function (event) { setup(event.target); });
})();
