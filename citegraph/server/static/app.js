// CiteGraph web chat: streams answers from /v1/chat/completions, shows cited passages, handles reviews and
// uploads through /api. Data from the server is only ever inserted as text (never as HTML).
"use strict";

const $ = (id) => document.getElementById(id);
const MODEL = "citegraph-rag";
const state = { threadId: sessionStorage.getItem("citegraph-thread") || newThreadId(), busy: false };

function newThreadId() {
  const id = "web-" + (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random()).replace(/[^A-Za-z0-9-]/g, "");
  sessionStorage.setItem("citegraph-thread", id);
  return id;
}

$("api-key").value = localStorage.getItem("citegraph-key") || "";
$("api-key").addEventListener("change", () => {
  localStorage.setItem("citegraph-key", $("api-key").value.trim());
  loadSources();
});

function headers(extra = {}) {
  const key = $("api-key").value.trim();
  return key ? { ...extra, Authorization: "Bearer " + key } : extra;
}

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = !message;
}

async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: headers(options.headers || {}) });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const message = (body.error && body.error.message) || response.statusText;
    throw new Error(response.status === 401 ? "API key needed or wrong: " + message : message);
  }
  return body;
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// The inline Markdown a quoted manual holds (`code`, **strong**, *emphasis*, _emphasis_, [a link](url),
// \* escapes), shown as it reads instead of as marks. Built as DOM nodes, never as HTML, so a document
// cannot put markup in the page. Only the answer and its short answer: the citations' quotes and the
// passage stay as written, since they are what was checked against the source.
const INLINE_MARKDOWN = new RegExp(
  [
    /`([^`\n]+)`/.source, // 1: code
    /\*\*(?=\S)(.*?\S)\*\*/.source, // 2: strong
    /(?<![\w*\\])\*(?=[^\s*])([^*\n]*?[^\s\\])\*(?![\w*])/.source, // 3: emphasis
    /(?<![\w\\])_(?=[^\s_])([^_\n]*?\S)_(?!\w)/.source, // 4: emphasis
    /\[([^\]\n]+)\]\(([^)\s]+)\)/.source, // 5, 6: link text, address
    /\\([\\`*_[\]()#+.!-])/.source, // 7: an escaped mark
  ].join("|"),
  "g",
);

function appendInline(parent, source) {
  let last = 0;
  for (const m of source.matchAll(INLINE_MARKDOWN)) {
    if (m.index > last) parent.appendChild(document.createTextNode(source.slice(last, m.index)));
    let node;
    if (m[1] !== undefined) node = el("code", "", m[1]);
    else if (m[2] !== undefined) appendInline((node = el("strong")), m[2]);
    else if (m[3] !== undefined || m[4] !== undefined) appendInline((node = el("em")), m[3] ?? m[4]);
    else if (m[5] !== undefined) {
      const external = /^https?:\/\//.test(m[6]); // a relative link leads nowhere from this page
      node = el(external ? "a" : "span");
      if (external) Object.assign(node, { href: m[6], target: "_blank", rel: "noopener noreferrer" });
      appendInline(node, m[5]);
    } else node = document.createTextNode(m[7]);
    parent.appendChild(node);
    last = m.index + m[0].length;
  }
  if (last < source.length) parent.appendChild(document.createTextNode(source.slice(last)));
}

// Markdown text: fenced code blocks as code, the rest through `appendInline`.
function appendMarkdown(parent, source) {
  let last = 0;
  for (const m of source.matchAll(/```[^\n]*\n([\s\S]*?)\n?```/g)) {
    appendInline(parent, source.slice(last, m.index));
    const block = el("pre", "code");
    block.appendChild(el("code", "", m[1]));
    parent.appendChild(block);
    last = m.index + m[0].length;
  }
  appendInline(parent, source.slice(last));
}

// A list of passages (citations, or an abstention's closest ones); each opens its passage when clicked.
function passageList(passages, label) {
  const list = el("ol", "citations");
  for (const c of passages) {
    const item = el("li");
    item.dataset.n = c.n;
    item.append(el("b", "", label(c)), document.createTextNode(`${basename(c.source)}, ${c.location}: `));
    item.appendChild(el("span", "quote", "“" + shortQuote(c.quote, 160) + "”"));
    item.addEventListener("click", () => openPassage(c, null, label(c).trim()));
    list.appendChild(item);
  }
  return list;
}

// Answer text with its [n] markers turned into buttons that open the cited passage.
function renderAnswer(container, answer) {
  const text = container.querySelector(".text");
  text.textContent = "";
  const citations = new Map((answer.citations || []).map((c) => [String(c.n), c]));
  const parts = (answer.answer || "").split(/(\[\d+\])/);
  for (const part of parts) {
    const match = part.match(/^\[(\d+)\]$/);
    if (match && citations.has(match[1])) {
      const button = el("button", "cite", match[1]);
      button.type = "button";
      button.title = citations.get(match[1]).source;
      button.addEventListener("click", () => openPassage(citations.get(match[1]), button));
      text.appendChild(button);
    } else {
      appendMarkdown(text, part);
    }
  }
  container.querySelector(":scope > .citations")?.remove();
  container.querySelector(".closest")?.remove();
  container.querySelector(".flags")?.remove();
  container.querySelector(".short")?.remove();
  container.querySelector(".searched")?.remove();
  if (answer.standalone_question) {
    // A follow-up ("How does it ...?") was searched as a standalone question: show what was searched.
    const searched = el("div", "searched", "Searched for: " + answer.standalone_question);
    searched.style.cssText = "color: #666; font-size: .85em; margin-top: .25rem;";
    text.after(searched);
  }
  if (answer.short_answer) {
    const short = el("div", "short");
    short.append(el("b", "", "Short answer: "));
    appendInline(short, answer.short_answer);
    text.after(short);
  }
  if (citations.size) container.appendChild(passageList([...citations.values()], (c) => `[${c.n}] `));
  if (answer.abstained && answer.closest && answer.closest.length) {
    // Where the judge looked when it found no answer: places to read on, numbered apart from citations.
    const closest = el("div", "closest");
    closest.appendChild(el("b", "", "Closest passages (not an answer):"));
    closest.appendChild(passageList(answer.closest, (c) => `${c.n}. `));
    container.appendChild(closest);
  }
  // An abstention says so in the question's language (and an unverified draft says something else):
  // no flag repeats it in English.
  const flags = [];
  if (answer.verified) flags.push("every sentence verified against its source");
  if (flags.length) container.appendChild(el("div", "flags", flags.join(" · ")));
}

// A quote cut to at most `limit` characters at a word boundary (Intl.Segmenter knows Thai words),
// with an ellipsis when cut.
function shortQuote(quote, limit) {
  const text = quote.replace(/\s+/g, " ");
  if (text.length <= limit) return text;
  let end = 0;
  for (const { index, segment } of new Intl.Segmenter(undefined, { granularity: "word" }).segment(text)) {
    if (index + segment.length > limit) break;
    end = index + segment.length;
  }
  return text.slice(0, end || limit).trimEnd() + "…";
}

function basename(path) {
  return (path || "").split(/[\\/]/).pop();
}

async function openPassage(citation, button, label = `[${citation.n}]`) {
  document.querySelectorAll(".cite.active").forEach((b) => b.classList.remove("active"));
  if (button) button.classList.add("active");
  try {
    const p = await api(`/api/sources/${encodeURIComponent(citation.source_id)}/passage?start=${citation.start}&end=${citation.end}`);
    const where = citation.location || (p.page ? `page ${p.page}` : "");  // "p. 5, § 5.2 Leader election"
    $("passage-title").textContent = `${label} ${p.title || basename(p.source)}` + (where ? `, ${where}` : "");
    const box = $("passage");
    box.textContent = "";
    box.append(document.createTextNode((p.truncated_before ? "…" : "") + p.before));
    const mark = el("mark", "", p.quote);
    box.append(mark, document.createTextNode(p.after + (p.truncated_after ? "…" : "")));
    $("passage-panel").hidden = false;
    mark.scrollIntoView({ block: "center" });
  } catch (error) {
    showError(error.message);
  }
}

function addMessage(role, text) {
  const message = el("div", "msg " + role);
  message.appendChild(el("div", "text", text));
  $("messages").appendChild(message);
  message.scrollIntoView({ block: "end" });
  return message;
}

// Read an SSE response body: calls onEvent with each parsed `data:` JSON object.
async function readSSE(response, onEvent) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      for (const line of event.split("\n")) {
        if (line.startsWith("data: ") && line !== "data: [DONE]") onEvent(JSON.parse(line.slice(6)));
      }
    }
  }
}

async function ask(question) {
  showError("");
  addMessage("user", question);
  const message = addMessage("assistant pending", "");
  const text = message.querySelector(".text");
  const body = {
    model: MODEL, stream: true, thread_id: state.threadId, review: $("review").checked,
    messages: [{ role: "user", content: question }],
  };
  const response = await fetch("/v1/chat/completions", {
    method: "POST", headers: headers({ "Content-Type": "application/json" }), body: JSON.stringify(body),
  });
  if (!response.ok) {
    const error = await response.json().catch(() => ({}));
    message.remove();
    throw new Error((error.error && error.error.message) || response.statusText);
  }
  let streamed = "";
  let final = null;
  await readSSE(response, (chunk) => {
    if (chunk.error) throw new Error(chunk.error.message);
    const delta = chunk.choices && chunk.choices[0] && chunk.choices[0].delta;
    if (delta && delta.content) {
      streamed += delta.content;
      text.textContent = streamed;
    }
    if (chunk.status) final = chunk;
  });
  message.classList.remove("pending");
  if (!final) throw new Error("the answer stream ended early");
  const answer = { ...(final.review ? final.review.answer : {}), answer: final.content || streamed,
                   citations: final.citations, closest: final.closest, abstained: final.abstained,
                   verified: final.verified,
                   short_answer: final.short_answer, standalone_question: final.standalone_question };
  renderAnswer(message, answer);
  if (final.status === "review") showReview(message, final.review);
}

function showReview(message, request) {
  message.classList.add("draft");
  const box = el("div", "review");
  box.appendChild(el("b", "", "Draft waiting for your review"));
  if (request.verifier_notes) box.appendChild(el("div", "flags", "Verifier notes: " + request.verifier_notes));
  const row = el("div", "row");
  const buttons = ["approve", "edit", "reject"].map((action) => {
    const b = el("button", action === "approve" ? "" : "secondary", action[0].toUpperCase() + action.slice(1));
    b.type = "button";
    b.dataset.action = action;
    row.appendChild(b);
    return b;
  });
  box.appendChild(row);
  message.appendChild(box);
  const decide = async (decision) => {
    buttons.forEach((b) => (b.disabled = true));
    try {
      const result = await api(`/api/threads/${encodeURIComponent(state.threadId)}/review`, {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(decision),
      });
      box.remove();
      message.classList.remove("draft");
      renderAnswer(message, result.answer);
      if (result.status === "review") showReview(message, result.review);
    } catch (error) {
      buttons.forEach((b) => (b.disabled = false));
      showError(error.message);
    }
  };
  buttons[0].addEventListener("click", () => decide({ action: "approve" }));
  buttons[1].addEventListener("click", () => {
    const area = el("textarea");
    area.value = (request.answer && request.answer.answer) || "";
    const save = el("button", "", "Publish edit");
    save.type = "button";
    save.addEventListener("click", () => decide({ action: "edit", text: area.value }));
    box.append(area, save);
  });
  buttons[2].addEventListener("click", () => {
    const input = el("input");
    input.type = "text";
    input.placeholder = "What is wrong or missing?";
    const send = el("button", "", "Send feedback");
    send.type = "button";
    send.addEventListener("click", () => decide({ action: "reject", feedback: input.value }));
    box.append(input, send);
  });
}

async function loadSources() {
  try {
    const { data } = await api("/api/sources");
    const list = $("sources");
    list.textContent = "";
    for (const s of data) {
      const item = el("li");
      item.dataset.sourceId = s.source_id;
      item.appendChild(el("span", "", `${s.title || s.name} (${s.chunks} chunks)`));
      const remove = el("button", "remove", "remove");
      remove.type = "button";
      remove.title = "Remove " + s.source;
      remove.addEventListener("click", async () => {
        if (!confirm(`Remove ${s.name} from the store?`)) return;
        try {
          await api(`/api/sources/${encodeURIComponent(s.source_id)}`, { method: "DELETE" });
          loadSources();
        } catch (error) {
          showError(error.message);
        }
      });
      item.appendChild(remove);
      list.appendChild(item);
    }
  } catch (error) {
    showError(error.message);
  }
}

$("upload").addEventListener("change", async () => {
  const files = $("upload").files;
  if (!files.length) return;
  const form = new FormData();
  for (const file of files) form.append("files", file);
  showError("");  // a refused upload's error must not stay up beside the next upload's result
  $("upload-status").textContent = `Ingesting ${files.length} file(s)…`;
  try {
    const report = await api("/api/sources", { method: "POST", body: form });
    $("upload-status").textContent = report.files
      .map((f) => `${f.name}: ${f.status}${f.reason ? " (" + f.reason + ")" : ""}`).join("; ");
  } catch (error) {
    $("upload-status").textContent = "";
    showError(error.message);
  }
  $("upload").value = "";
  loadSources();
});

$("ask-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const question = $("question").value.trim();
  if (!question || state.busy) return;
  state.busy = true;
  $("ask").disabled = true;
  $("question").value = "";
  try {
    await ask(question);
  } catch (error) {
    showError(error.message);
  } finally {
    state.busy = false;
    $("ask").disabled = false;
  }
});

$("question").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) {
    event.preventDefault();
    $("ask-form").requestSubmit();
  }
});

$("new-thread").addEventListener("click", () => {
  state.threadId = newThreadId();
  $("messages").textContent = "";
  $("passage-panel").hidden = true;
});

loadSources();
