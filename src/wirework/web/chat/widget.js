/* Wirework web chat widget. Embed on any page:
 *   <script src="https://your-wirework/chat/widget.js" data-bot="PUBLIC_ID" defer></script>
 * Plain JavaScript, no dependencies. Draws a chat button and window in a shadow root (the
 * page's styles do not leak in), talks to /chat/PUBLIC_ID/socket, keeps the visitor id in
 * localStorage so a reload continues the conversation. Text is always inserted as text. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) return;
  var bot = script.getAttribute("data-bot");
  if (!bot) return;
  var mode = script.getAttribute("data-mode") === "page" ? "page" : "widget";
  var base = new URL(script.src, location.href);
  var origin = base.origin;
  var socketUrl = (base.protocol === "https:" ? "wss://" : "ws://") + base.host + "/chat/" + encodeURIComponent(bot) + "/socket";
  var storageKey = "wirework-chat-" + bot;

  function visitorId() {
    try { return localStorage.getItem(storageKey) || ""; } catch (e) { return ""; }
  }
  function rememberVisitor(id) {
    try { localStorage.setItem(storageKey, id); } catch (e) { /* private mode: a new conversation per load */ }
  }
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text != null) node.textContent = text;
    return node;
  }
  function clientId() {
    var bytes = new Uint8Array(12);
    (window.crypto || window.msCrypto).getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function start() {
    var host = el("div");
    host.setAttribute("data-wirework-chat", bot);
    var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
    var css = el("link");
    css.rel = "stylesheet";
    css.href = origin + "/chat/widget.css";
    root.appendChild(css);

    var frame = el("div", "ww-chat ww-" + mode);
    var launcher = el("button", "ww-launcher");
    launcher.type = "button";
    launcher.setAttribute("aria-label", "Open chat");
    launcher.appendChild(el("span", "ww-launcher-icon", "\u{1F4AC}"));
    var panel = el("section", "ww-panel");
    panel.setAttribute("role", "dialog");
    panel.setAttribute("aria-label", "Chat");
    var header = el("header", "ww-header");
    var avatar = el("div", "ww-avatar");
    var titles = el("div", "ww-titles");
    var title = el("div", "ww-title", "Chat");
    var status = el("div", "ww-status", "Connecting\u2026");
    titles.appendChild(title);
    titles.appendChild(status);
    var close = el("button", "ww-close", "\u00D7");
    close.type = "button";
    close.setAttribute("aria-label", "Close chat");
    header.appendChild(avatar);
    header.appendChild(titles);
    if (mode === "widget") header.appendChild(close);
    var log = el("div", "ww-log");
    log.setAttribute("role", "log");
    log.setAttribute("aria-live", "polite");
    var typing = el("div", "ww-typing");
    typing.appendChild(el("span"));
    typing.appendChild(el("span"));
    typing.appendChild(el("span"));
    var form = el("form", "ww-form");
    var input = el("textarea", "ww-input");
    input.rows = 1;
    input.placeholder = "Write a message\u2026";
    input.setAttribute("aria-label", "Message");
    var send = el("button", "ww-send", "Send");
    send.type = "submit";
    form.appendChild(input);
    form.appendChild(send);
    var notice = el("div", "ww-notice");
    panel.appendChild(header);
    panel.appendChild(log);
    panel.appendChild(typing);
    panel.appendChild(notice);
    panel.appendChild(form);
    if (mode === "widget") frame.appendChild(launcher);
    frame.appendChild(panel);
    root.appendChild(frame);
    document.body.appendChild(host);

    var open = mode === "page";
    function setOpen(value) {
      open = value;
      frame.classList.toggle("ww-open", open);
      if (open) { input.focus(); scrollDown(); }
    }
    setOpen(open);
    launcher.addEventListener("click", function () { setOpen(!open); });
    close.addEventListener("click", function () { setOpen(false); });

    var seen = {};
    var pending = {};
    function scrollDown() { log.scrollTop = log.scrollHeight; }
    function showTyping(on) { typing.classList.toggle("ww-on", !!on); if (on) scrollDown(); }
    function addMessage(message, local) {
      if (message.id && seen[message.id]) return;
      if (message.id) seen[message.id] = true;
      var mine = message.role === "user";
      var row = el("div", "ww-row " + (mine ? "ww-mine" : "ww-theirs"));
      var bubble = el("div", "ww-bubble", message.content);
      row.appendChild(bubble);
      if (local) row.classList.add("ww-sending");
      log.appendChild(row);
      if (!mine) showTyping(false);
      scrollDown();
      return row;
    }
    var partials = {};
    /** The stored answer takes the place of the partial text it completes, if one is shown. */
    function replacePartial(message) {
      if (message.role === "user" || (message.id && seen[message.id])) return false;
      for (var key in partials) {
        var row = partials[key];
        if (message.content.indexOf(row.firstChild.textContent) === 0) {
          row.firstChild.textContent = message.content;
          row.classList.remove("ww-partial");
          delete partials[key];
          if (message.id) seen[message.id] = true;
          showTyping(false);
          return true;
        }
      }
      return false;
    }
    function showNotice(text) {
      notice.textContent = text || "";
      notice.classList.toggle("ww-on", !!text);
    }

    var socket = null;
    var retry = 500;
    var maxLength = 4000;
    var welcomeShown = false;
    function connect() {
      // The visitor id goes as a subprotocol (a header), not in the URL proxies log.
      var visitor = visitorId();
      var protocols = ["wirework.chat"];
      if (/^[A-Za-z0-9_-]{16,64}$/.test(visitor)) protocols.push("visitor." + visitor);
      socket = new WebSocket(socketUrl, protocols);
      socket.onopen = function () { retry = 500; status.textContent = "Online"; frame.classList.add("ww-online"); };
      socket.onmessage = function (event) {
        var data;
        try { data = JSON.parse(event.data); } catch (e) { return; }
        if (data.type === "hello") {
          rememberVisitor(data.visitor_id);
          maxLength = data.max_message_length || maxLength;
          title.textContent = data.bot.name;
          avatar.textContent = "";
          if (data.bot.avatar_url) {
            var img = el("img");
            img.alt = "";
            img.src = data.bot.avatar_url;
            avatar.appendChild(img);
          } else {
            avatar.textContent = (data.bot.name || "?").charAt(0).toUpperCase();
          }
          if (!data.history.length && data.bot.welcome_message && !welcomeShown) {
            welcomeShown = true;
            addMessage({ role: "assistant", content: data.bot.welcome_message, id: "welcome" });
          }
          data.history.forEach(function (m) { addMessage(m); });
        } else if (data.type === "partial") {
          // An AI answer being written: its growing text (all so far), shown until the message comes.
          var growing = partials[data.partial.id];
          if (!data.partial.text) {  // the answer failed: take back what was shown of it
            if (growing) { growing.remove(); delete partials[data.partial.id]; }
          } else if (growing) growing.firstChild.textContent = data.partial.text;
          else {
            partials[data.partial.id] = growing = addMessage({ role: "assistant", content: data.partial.text });
            growing.classList.add("ww-partial");
          }
          scrollDown();
        } else if (data.type === "message") {
          if (!replacePartial(data.message)) addMessage(data.message);
        } else if (data.type === "stored") {
          var row = pending[data.id];
          if (row) { row.classList.remove("ww-sending"); delete pending[data.id]; }
          if (data.message_id) seen[data.message_id] = true;
          showNotice("");
        } else if (data.type === "typing") {
          showTyping(true);
        } else if (data.type === "error") {
          var failed = data.id && pending[data.id];
          if (failed) { failed.classList.add("ww-failed"); delete pending[data.id]; }
          showNotice(data.detail || "The message was not sent.");
        }
      };
      socket.onclose = function (event) {
        frame.classList.remove("ww-online");
        showTyping(false);
        if (event.code === 4404) { status.textContent = "Chat unavailable"; return; }
        if (event.code === 4403) { status.textContent = "Chat not allowed on this site"; return; }
        status.textContent = "Reconnecting\u2026";
        setTimeout(connect, retry);
        retry = Math.min(retry * 2, 15000);
      };
    }
    connect();

    function submit() {
      var text = input.value.trim();
      if (!text) return;
      if (text.length > maxLength) { showNotice("That message is too long (at most " + maxLength + " characters)."); return; }
      if (!socket || socket.readyState !== 1) { showNotice("Not connected yet; try again in a moment."); return; }
      var id = clientId();
      pending[id] = addMessage({ role: "user", content: text }, true);
      socket.send(JSON.stringify({ type: "message", text: text, id: id }));
      input.value = "";
      input.style.height = "";
    }
    form.addEventListener("submit", function (event) { event.preventDefault(); submit(); });
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); submit(); }
    });
    input.addEventListener("input", function () {
      input.style.height = "";
      input.style.height = Math.min(input.scrollHeight, 120) + "px";
    });
  }

  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
