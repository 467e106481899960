// 廉卡沙盒 — a small chat client for the Bot API emulator's control API (/_sandbox/…).
// Messages are built from text + entities with DOM nodes: nothing received is parsed as HTML.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const el = (tag, className, text) => {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  };

  const state = {
    personas: [],
    persona: null,
    version: -1,
    generation: 0,
    controller: null,
    chat: null,
    seenAlerts: 0,
    stick: true,
  };

  // --- talking to the sandbox --------------------------------------------------------------

  async function api(path, options) {
    const response = await fetch(path, options);
    let body = null;
    try {
      body = await response.json();
    } catch (error) {
      throw new Error("沙盒返回了无法识别的内容");
    }
    if (!response.ok || !body.ok) throw new Error(body && body.error ? body.error : "请求失败");
    return body;
  }

  function post(path, payload) {
    return api(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(payload || {}),
    });
  }

  const userPath = (suffix) => `/_sandbox/users/${state.persona.user_id}/${suffix}`;

  async function act(work) {
    try {
      await work();
    } catch (error) {
      toast(error.message || String(error));
    }
  }

  // --- personas ----------------------------------------------------------------------------

  function colourFor(persona) {
    const palette = ["#c0392b", "#2e7d5b", "#2f6db3", "#8e5a9c", "#b7791f", "#4a6572"];
    return palette[Math.abs(persona.user_id) % palette.length];
  }

  function avatar(persona, className) {
    const node = el("div", "avatar " + (className || ""), (persona.name || "?").slice(0, 1));
    node.style.background = colourFor(persona);
    node.setAttribute("aria-hidden", "true");
    return node;
  }

  function renderPersonas() {
    const list = $("personas");
    list.replaceChildren();
    for (const persona of state.personas) {
      const item = el("li");
      const button = el("button", "persona");
      button.type = "button";
      button.dataset.key = persona.key;
      button.setAttribute("aria-pressed", String(state.persona && state.persona.key === persona.key));
      const text = el("div", "persona-text");
      const top = el("div", "persona-top");
      top.append(el("span", "persona-name", persona.name));
      if (persona.role) top.append(el("span", "role", persona.role));
      text.append(top);
      if (persona.description) text.append(el("div", "persona-desc", persona.description));
      button.append(avatar(persona), text);
      button.addEventListener("click", () => choose(persona));
      item.append(button);
      list.append(item);
    }
  }

  function choose(persona) {
    state.persona = persona;
    state.version = -1;
    state.chat = null;
    state.seenAlerts = 0;
    state.generation += 1;
    if (state.controller) state.controller.abort();
    if (location.hash !== "#" + persona.key) history.replaceState(null, "", "#" + persona.key);
    $("app").dataset.view = "chat";
    $("app").classList.add("has-persona");
    $("messages").replaceChildren();
    const who = $("who");
    who.replaceChildren(avatar(persona, "small"), el("span", "who-name", persona.name));
    who.title = "当前身份：" + persona.name + (persona.role ? "（" + persona.role + "）" : "");
    $("scan").hidden = true;
    renderPersonas();
    poll(state.generation);
    $("input").focus();
  }

  // --- the chat ----------------------------------------------------------------------------

  async function poll(generation) {
    while (generation === state.generation) {
      const controller = new AbortController();
      state.controller = controller;
      try {
        const chat = await api(
          userPath(`chat?since=${state.version}&wait=25`),
          { signal: controller.signal },
        );
        if (generation !== state.generation) return;
        $("offline-banner").hidden = true;
        if (chat.version !== state.version || state.chat === null) {
          state.version = chat.version;
          render(chat);
        }
      } catch (error) {
        if (controller.signal.aborted || generation !== state.generation) return;
        $("offline-banner").hidden = false;
        await new Promise((resolve) => setTimeout(resolve, 1500));
      }
    }
  }

  function render(chat) {
    const firstRender = state.chat === null;
    state.chat = chat;
    $("bot-name").textContent = chat.bot.first_name || chat.bot.username;
    $("chat-status").textContent = chat.chat_action === "typing" ? "正在输入…"
      : chat.chat_action ? "正在发送文件…" : "机器人 @" + chat.bot.username;
    $("blocked-banner").hidden = !chat.blocked;

    const box = $("messages");
    if (firstRender) state.stick = true;
    box.replaceChildren();
    if (chat.messages.length === 0) box.append(emptyHint());
    for (const entry of chat.messages) box.append(renderMessage(entry));
    stickToBottom();

    renderReplyKeyboard(chat.reply_keyboard);
    renderCommands(chat.commands || []);
    const started = chat.started || chat.messages.length > 0;
    $("start-bar").hidden = started;
    $("scan").hidden = !started || !state.persona.start_payload;
    $("composer").hidden = !started;
    $("start").textContent = state.persona.start_payload ? "扫描联系卡并开始" : "开始";

    const alerts = chat.alerts || [];
    if (firstRender) state.seenAlerts = alerts.length;
    for (const alert of alerts.slice(state.seenAlerts)) {
      if (alert.show_alert) showModal(alert.text, false);
      else toast(alert.text);
    }
    state.seenAlerts = alerts.length;
  }

  // Follow the conversation while the reader is at its end, also when a picture loads later.
  function stickToBottom() {
    const box = $("messages");
    if (state.stick) box.scrollTop = box.scrollHeight;
  }

  $("messages").addEventListener("scroll", () => {
    const box = $("messages");
    state.stick = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
  });

  function emptyHint() {
    const hint = el("div", "empty-hint");
    hint.append(el("div", "empty-title", "还没有消息"));
    hint.append(el("p", null, state.persona.start_payload
      ? "点击下方「扫描联系卡并开始」，模拟扫描廉政监督联系卡上的二维码。"
      : "点击下方「开始」，与机器人开始对话。"));
    return hint;
  }

  function timeOf(date) {
    try {
      return new Date(date * 1000).toLocaleTimeString("zh-CN", {
        hour: "2-digit", minute: "2-digit", timeZone: "Asia/Shanghai",
      });
    } catch (error) {
      return "";
    }
  }

  function sizeOf(bytes) {
    if (!bytes && bytes !== 0) return "";
    if (bytes < 1024) return bytes + " B";
    if (bytes < 1024 * 1024) return (bytes / 1024).toFixed(1) + " KB";
    return (bytes / 1024 / 1024).toFixed(1) + " MB";
  }

  function fileIcon(path) {
    const holder = el("span", "file-icon");
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    const line = document.createElementNS("http://www.w3.org/2000/svg", "path");
    line.setAttribute("d", path);
    svg.append(line);
    holder.append(svg);
    return holder;
  }

  function renderMessage(entry) {
    const message = entry.message;
    const row = el("div", "row " + (entry.from_bot ? "in" : "out"));
    row.dataset.messageId = String(entry.message_id);
    const bubble = el("div", "bubble");

    if (message.forward_origin) {
      const origin = message.forward_origin;
      const name = origin.sender_user ? origin.sender_user.first_name : (origin.sender_user_name || "");
      bubble.append(el("div", "forwarded", "转发自 " + name));
    }
    if (message.reply_to_message) {
      const quoted = message.reply_to_message;
      const quote = el("div", "quote");
      quote.append(el("div", "quote-name", quoted.from ? quoted.from.first_name : ""));
      const gist = quoted.text || quoted.caption || (quoted.photo ? "[图片]" : quoted.document ? "[文件]" : "");
      quote.append(el("div", "quote-text", gist));
      bubble.append(quote);
    }
    if (message.photo && message.photo.length) {
      const best = message.photo[message.photo.length - 1];
      const link = el("a", "photo");
      link.href = "/_sandbox/files/" + encodeURIComponent(best.file_id);
      link.target = "_blank";
      link.rel = "noopener";
      const img = el("img");
      img.src = link.href;
      img.alt = "图片";
      img.addEventListener("load", stickToBottom);
      link.append(img);
      bubble.append(link);
      bubble.classList.add("has-media");
    }
    for (const kind of ["document", "audio", "video", "animation", "voice"]) {
      const file = message[kind];
      if (!file) continue;
      const chip = el("a", "file");
      chip.href = "/_sandbox/files/" + encodeURIComponent(file.file_id);
      chip.target = "_blank";
      chip.rel = "noopener";
      chip.append(fileIcon(kind === "voice"
        ? "M12 3a3 3 0 0 0-3 3v6a3 3 0 0 0 6 0V6a3 3 0 0 0-3-3zM5 11a7 7 0 0 0 14 0M12 18v3"
        : "M14 3H6v18h12V7zM14 3v4h4M9 13h6M9 17h6"));
      const info = el("span", "file-info");
      info.append(el("span", "file-name", kind === "voice" ? "语音消息" : (file.file_name || "文件")));
      const detail = kind === "voice" || kind === "audio"
        ? (file.duration || 0) + " 秒 · " + sizeOf(file.file_size)
        : sizeOf(file.file_size);
      info.append(el("span", "file-size", detail));
      chip.append(info);
      bubble.append(chip);
    }
    if (message.contact) {
      const card = el("div", "contact");
      card.append(el("span", "contact-icon", "☎"));
      const info = el("span", "file-info");
      const contact = message.contact;
      info.append(el("span", "file-name", [contact.first_name, contact.last_name].filter(Boolean).join(" ")));
      info.append(el("span", "file-size", contact.phone_number));
      card.append(info);
      bubble.append(card);
    }
    const text = message.text !== undefined ? message.text : message.caption;
    const entities = message.text !== undefined ? message.entities : message.caption_entities;
    if (text) {
      const body = el("div", "text");
      body.append(renderEntities(text, entities || []));
      bubble.append(body);
    }
    const meta = el("div", "meta");
    if (entry.edited) meta.append(el("span", "edited", "已编辑"));
    meta.append(el("span", "time", timeOf(message.date)));
    bubble.append(meta);
    row.append(bubble);

    const keyboard = message.reply_markup && message.reply_markup.inline_keyboard;
    if (keyboard && keyboard.length) {
      const wrap = el("div", "inline-keyboard");
      for (const buttons of keyboard) {
        const line = el("div", "kb-row");
        for (const button of buttons) line.append(inlineButton(entry.message_id, button));
        wrap.append(line);
      }
      row.append(wrap);
    }
    return row;
  }

  function inlineButton(messageId, button) {
    if (button.url && /^(https?:|tg:)/i.test(button.url)) {
      const link = el("a", "kb-btn link", button.text);
      link.href = button.url;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      return link;
    }
    const node = el("button", "kb-btn", button.text);
    node.type = "button";
    if (button.callback_data === undefined) {
      node.disabled = true;
      node.title = "沙盒不支持此类按钮";
      return node;
    }
    node.addEventListener("click", () => act(async () => {
      node.classList.add("pending");
      node.disabled = true;
      try {
        await post(userPath("press"), { data: button.callback_data, message_id: messageId });
      } finally {
        setTimeout(() => { node.classList.remove("pending"); node.disabled = false; }, 1200);
      }
    }));
    return node;
  }

  // text + entities → DOM. Offsets are UTF-16 code units, as JavaScript strings index.
  function renderEntities(text, entities) {
    const sorted = entities
      .filter((e) => Number.isInteger(e.offset) && Number.isInteger(e.length) && e.length > 0)
      .sort((a, b) => a.offset - b.offset || b.length - a.length);
    return renderRange(text, sorted, 0, text.length);
  }

  function renderRange(text, entities, start, end) {
    const fragment = document.createDocumentFragment();
    let position = start;
    let i = 0;
    while (i < entities.length) {
      const entity = entities[i];
      const from = Math.max(entity.offset, position);
      const to = Math.min(entity.offset + entity.length, end);
      let j = i + 1;
      const inner = [];
      while (j < entities.length && entities[j].offset < to) {
        inner.push(entities[j]);
        j += 1;
      }
      if (from > position) fragment.append(text.slice(position, from));
      if (to > from) {
        const node = entityNode(entity, text.slice(from, to));
        node.append(renderRange(text, inner, from, to));
        fragment.append(node);
        position = to;
      }
      i = j;
    }
    if (position < end) fragment.append(text.slice(position, end));
    return fragment;
  }

  function entityNode(entity, content) {
    switch (entity.type) {
      case "bold": return el("b");
      case "italic": return el("i");
      case "underline": return el("u");
      case "strikethrough": return el("s");
      case "code": return el("code");
      case "pre": return el("pre");
      case "blockquote":
      case "expandable_blockquote": return el("blockquote");
      case "spoiler": {
        const node = el("span", "spoiler");
        node.title = "点击显示";
        node.addEventListener("click", () => node.classList.add("revealed"));
        return node;
      }
      case "text_link":
      case "url": {
        const href = entity.type === "url" ? content : entity.url;
        if (!/^(https?:|tg:|mailto:)/i.test(href || "")) return el("span", "link-like");
        const link = el("a");
        link.href = href;
        link.target = "_blank";
        link.rel = "noopener noreferrer";
        return link;
      }
      case "bot_command": {
        const node = el("span", "command");
        node.title = "点击发送";
        node.addEventListener("click", () => sendText(content));
        return node;
      }
      default: return el("span");
    }
  }

  // --- reply keyboard, commands, composer -------------------------------------------------------

  function renderReplyKeyboard(keyboard) {
    const box = $("reply-keyboard");
    box.replaceChildren();
    const rows = keyboard && keyboard.keyboard;
    box.hidden = !(rows && rows.length);
    $("input").placeholder = (keyboard && keyboard.input_field_placeholder) || "输入消息…";
    if (!rows) return;
    for (const buttons of rows) {
      const line = el("div", "kb-row");
      for (const raw of buttons) {
        const button = typeof raw === "string" ? { text: raw } : raw;
        const node = el("button", "kb-btn reply", button.text);
        node.type = "button";
        if (button.request_contact) node.classList.add("contact-btn");
        node.addEventListener("click", () => act(async () => {
          if (button.request_contact) {
            const phone = state.persona.phone_number || "（未设置）";
            const yes = await showModal("将您的手机号 " + phone + " 分享给机器人？", true);
            if (!yes) return;
          }
          await post(userPath("click"), { text: button.text });
        }));
        line.append(node);
      }
      box.append(line);
    }
  }

  function renderCommands(commands) {
    const list = $("commands");
    list.replaceChildren();
    $("menu-btn").hidden = commands.length === 0;
    for (const command of commands) {
      const item = el("li");
      const button = el("button", "command-item");
      button.type = "button";
      button.append(el("span", "command-name", "/" + command.command));
      button.append(el("span", "command-desc", command.description));
      button.addEventListener("click", () => {
        list.hidden = true;
        sendText("/" + command.command);
      });
      item.append(button);
      list.append(item);
    }
  }

  function sendText(text) {
    return act(() => post(userPath("text"), { text }));
  }

  function autoGrow() {
    const input = $("input");
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight, 140) + "px";
  }

  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("input");
    const text = input.value;
    if (!text.trim() || !state.persona) return;
    input.value = "";
    autoGrow();
    sendText(text);
  });

  $("input").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("composer").requestSubmit();
    }
  });
  $("input").addEventListener("input", autoGrow);

  $("file-input").addEventListener("change", () => act(async () => {
    const input = $("file-input");
    const file = input.files && input.files[0];
    input.value = "";
    if (!file || !state.persona) return;
    const isPhoto = /^image\/(jpeg|png|gif|webp)$/.test(file.type);
    const form = new FormData();
    form.append("file", file, file.name);
    const caption = $("input").value.trim();
    if (caption) {
      form.append("caption", caption);
      $("input").value = "";
      autoGrow();
    }
    if (!isPhoto && file.type) form.append("mime_type", file.type);
    await api(userPath(isPhoto ? "photo" : "document"), { method: "POST", body: form });
  }));

  $("start").addEventListener("click", () => act(() =>
    post(userPath("start"), { payload: state.persona.start_payload || null })));
  $("scan").addEventListener("click", () => act(() =>
    post(userPath("start"), { payload: state.persona.start_payload })));
  $("menu-btn").addEventListener("click", () => { $("commands").hidden = !$("commands").hidden; });
  $("back").addEventListener("click", () => { $("app").dataset.view = "list"; });

  // --- toast and modal ---------------------------------------------------------------------

  let toastTimer = null;
  function toast(text) {
    const node = $("toast");
    node.textContent = text;
    node.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { node.hidden = true; }, 3500);
  }

  function showModal(text, withCancel) {
    return new Promise((resolve) => {
      $("modal-text").textContent = text;
      $("modal-cancel").hidden = !withCancel;
      $("modal").hidden = false;
      const done = (answer) => {
        $("modal").hidden = true;
        $("modal-ok").onclick = null;
        $("modal-cancel").onclick = null;
        resolve(answer);
      };
      $("modal-ok").onclick = () => done(true);
      $("modal-cancel").onclick = () => done(false);
      $("modal-ok").focus();
    });
  }

  // --- the demo cards' web pages (Lianka's web channel, once it listens) ---------------------

  async function loadCardPages(triesLeft) {
    try {
      const info = await api("/_sandbox/cards");
      const list = $("card-pages");
      list.replaceChildren();
      for (const card of info.cards) {
        const link = el("a", "card-page", "打开" + card.holder + "的联系卡网页");
        link.href = card.url;
        link.target = "_blank";
        link.rel = "noopener noreferrer";
        link.append(el("span", "card-page-sub", card.enterprise + " · " + card.url));
        const item = el("li");
        item.append(link);
        list.append(item);
      }
      $("card-pages-box").hidden = info.cards.length === 0;
      if (info.cards.length === 0 && triesLeft > 0) {
        setTimeout(() => loadCardPages(triesLeft - 1), 1000);
      }
    } catch (error) {
      if (triesLeft > 0) setTimeout(() => loadCardPages(triesLeft - 1), 1000);
    }
  }

  // --- start -------------------------------------------------------------------------------

  async function boot() {
    try {
      const info = await api("/_sandbox/personas");
      state.personas = info.personas;
      const bot = info.bot;
      $("bot-info").textContent = "机器人：" + bot.first_name + "（@" + bot.username + "）";
      renderPersonas();
      loadCardPages(30);
      const wanted = decodeURIComponent(location.hash.slice(1));
      const persona = state.personas.find((p) => p.key === wanted);
      if (persona) choose(persona);
    } catch (error) {
      toast("无法连接沙盒：" + (error.message || error));
    }
  }
  boot();
})();
