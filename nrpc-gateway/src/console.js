"use strict";
const $ = (id) => document.getElementById(id);
const el = (tag, attrs = {}, ...children) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v; else if (k.startsWith("on")) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
};
// The caller's credential, for this tab only: a JWT (three dot-separated
// parts) goes as a bearer token, anything else as an API key.
const credential = () => sessionStorage.getItem("nrpc-credential") || "";
const authorized = (headers = {}) => {
  const c = credential();
  if (c) headers[c.split(".").length === 3 ? "authorization" : "x-api-key"] = c.split(".").length === 3 ? "Bearer " + c : c;
  return headers;
};
let readOnly = false;
let services = [];
let selected = null;   // service name
let described = null;  // the service's description
let method = null;     // the chosen method
let running = null;    // AbortController of a call in progress

async function refresh() {
  try {
    const r = await fetch("/_nrpc/services", { headers: authorized() });
    const body = await r.json();
    $("credentials").hidden = r.status !== 401;
    if (!r.ok) throw new Error(body.error ? body.error.message : r.statusText);
    services = body.services;
    readOnly = body.read_only === true;
    const n = services.reduce((a, s) => a + s.instances.length, 0);
    $("summary").textContent = `${services.length} service(s), ${n} instance(s)` + (readOnly ? " · read-only: calls are off" : "");
    renderServices();
  } catch (e) {
    $("summary").textContent = "discovery failed: " + e.message;
  }
}

function renderServices() {
  const list = $("services");
  list.replaceChildren(...services.map((s) => {
    const box = el("div", { class: "service" + (s.name === selected ? " selected" : ""), "data-name": s.name, onclick: () => pick(s.name) },
      el("div", { class: "name" }, s.name),
      el("div", { class: "desc" }, s.description || ""),
    );
    for (const i of s.instances) {
      const rows = i.endpoints.map((e) => el("tr", {},
        el("td", {}, e.name), el("td", {}, String(e.requests ?? "–")), el("td", {}, String(e.errors ?? "–")),
        el("td", {}, e.average_ns == null ? "–" : (e.average_ns / 1000).toFixed(0) + " µs")));
      box.append(el("div", { class: "instance" },
        `instance ${i.id} · v${i.version}`,
        el("table", {}, el("tr", {}, el("th", {}, "endpoint"), el("th", {}, "requests"), el("th", {}, "errors"), el("th", {}, "avg")), ...rows)));
    }
    if (s.instances.length === 0) box.append(el("div", { class: "instance" }, "no instance answers discovery"));
    if (s.durable) {
      const rows = s.durable.streams.flatMap((d) => (d.consumers.length ? d.consumers : [null]).map((c) => el("tr", {},
        el("td", {}, d.stream), el("td", {}, String(d.messages)), el("td", {}, c ? c.name : "–"),
        el("td", {}, c ? String(c.lag) : "–"), el("td", {}, c ? String(c.unacked) : "–"), el("td", {}, c ? String(c.redelivered) : "–"))));
      box.append(el("div", { class: "durable" },
        el("table", {}, el("tr", {}, el("th", {}, "durable stream"), el("th", {}, "messages"), el("th", {}, "consumer"),
          el("th", {}, "lag"), el("th", {}, "unacked"), el("th", {}, "redelivered")), ...rows),
        el("div", { class: "dead-letters" }, `dead letters: ${s.durable.dead_letters}`)));
    }
    return box;
  }));
  const s = services.find((x) => x.name === selected);
  if (s) {
    const choice = $("instance").value;
    $("instance").replaceChildren(el("option", { value: "" }, "any (queue group)"), ...s.instances.map((i) => el("option", { value: i.id }, i.id)));
    $("instance").value = s.instances.some((i) => i.id === choice) ? choice : "";
  }
}

async function pick(name) {
  selected = name;
  method = null;
  renderServices();
  $("call-form").hidden = true;
  $("service-title").textContent = name;
  $("methods").replaceChildren("loading…");
  const r = await fetch("/_nrpc/services/" + encodeURIComponent(name), { headers: authorized() });
  const body = await r.json();
  if (!r.ok) { $("methods").replaceChildren(body.error ? body.error.message : r.statusText); return; }
  described = body;
  $("service-docs").textContent = (body.docs || []).join(" ");
  $("methods").replaceChildren(...body.methods.map((m) =>
    el("button", { type: "button", class: "method", "data-method": m.name, onclick: () => choose(m) }, m.name, " ", el("span", { class: "kind" }, m.kind))));
}

function choose(m) {
  if (readOnly) return;
  method = m;
  for (const b of $("methods").children) b.classList.toggle("selected", b.dataset.method === m.name);
  $("call-form").hidden = false;
  $("method-title").textContent = `${described.name}.${m.name}`;
  $("method-docs").textContent = (m.docs || []).join(" ");
  $("params").replaceChildren(...m.params.map((p) => el("div", {}, el("label", { for: "param-" + p }, "subject parameter " + p), el("input", { id: "param-" + p, "data-param": p }))));
  const fields = (m.input && m.input.fields) || [];
  $("fields").replaceChildren(...fields.map(fieldInput));
  $("request-hint").textContent = m.input ? `(${m.input.name}${m.kind === "client_streaming" || m.kind === "bidirectional" ? "; one JSON document per line" : ""})` : "";
  $("request").value = m.kind === "client_streaming" || m.kind === "bidirectional" ? "{}\n{}" : "{}";
  $("call").textContent = m.kind === "no_request" ? "Listen" : "Call";
  syncRequest();
}

// Scalar fields get an input each; messages, lists and maps are edited in the JSON.
function fieldInput(f) {
  if (f.repeated || f.type === "message" || f.type === "map") return el("div", { class: "muted" }, `${f.name}: ${f.repeated ? "list of " : ""}${f.type === "message" && f.message ? f.message.name : f.type} (edit in the JSON)`);
  let input;
  if (f.type === "bool") input = el("select", {}, el("option", { value: "" }, "(unset)"), el("option", { value: "true" }, "true"), el("option", { value: "false" }, "false"));
  else if (f.type === "enum") input = el("select", {}, el("option", { value: "" }, "(unset)"), ...f.values.map((v) => el("option", { value: v }, v)));
  else input = el("input", { placeholder: f.type });
  input.id = "field-" + f.name;
  input.dataset.field = f.name;
  input.dataset.type = f.type;
  input.addEventListener("input", syncRequest);
  return el("div", {}, el("label", { for: input.id }, `${f.name} (${f.type})`), input);
}

function syncRequest() {
  const inputs = [...$("fields").querySelectorAll("[data-field]")];
  if (inputs.length === 0) return;
  let doc;
  try { doc = JSON.parse($("request").value || "{}"); } catch { doc = {}; }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) doc = {};
  for (const i of inputs) {
    const v = i.value;
    if (v === "") { delete doc[i.dataset.field]; continue; }
    if (i.dataset.type === "int" || i.dataset.type === "float") doc[i.dataset.field] = Number(v);
    else if (i.dataset.type === "bool") doc[i.dataset.field] = v === "true";
    else doc[i.dataset.field] = v;
  }
  $("request").value = JSON.stringify(doc);
}

async function call(event) {
  event.preventDefault();
  if (!method) return;
  if (running) running.abort();
  const controller = new AbortController();
  running = controller;
  const query = new URLSearchParams();
  for (const p of $("params").querySelectorAll("[data-param]")) if (p.value !== "") query.set(p.dataset.param, p.value);
  const headers = authorized({ "content-type": "application/json" });
  if ($("instance").value) headers["nrpc-instance"] = $("instance").value;
  if ($("timeout").value) headers["grpc-timeout"] = $("timeout").value.trim();
  const url = `/${encodeURIComponent(described.name)}/${encodeURIComponent(method.name)}` + (query.toString() ? "?" + query : "");
  $("result").hidden = false;
  $("reply").textContent = "";
  $("headers").textContent = "";
  $("status").textContent = "…";
  $("status").className = "status";
  $("timing").textContent = "";
  $("stop").hidden = false;
  const started = performance.now();
  try {
    const r = await fetch(url, { method: "POST", body: $("request").value, headers, signal: controller.signal });
    $("headers").textContent = [...r.headers].map(([k, v]) => `${k}: ${v}`).join("\n");
    $("status").textContent = `${r.status} ${r.statusText}`;
    $("status").className = "status " + (r.ok ? "ok" : "bad");
    const type = r.headers.get("content-type") || "";
    if (type.includes("ndjson")) {
      const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffered = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffered += value;
        let nl;
        while ((nl = buffered.indexOf("\n")) >= 0) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          if (line.includes('"error":{')) { $("status").textContent += " · stream failed"; $("status").className = "status bad"; }
          $("reply").textContent += line + "\n";
          $("timing").textContent = `${(performance.now() - started).toFixed(1)} ms`;
        }
      }
    } else {
      const text = await r.text();
      try { $("reply").textContent = JSON.stringify(JSON.parse(text), null, 2); } catch { $("reply").textContent = text; }
    }
  } catch (e) {
    $("status").textContent = controller.signal.aborted ? "stopped" : "failed: " + e.message;
    $("status").className = "status bad";
  } finally {
    $("timing").textContent = `${(performance.now() - started).toFixed(1)} ms`;
    $("stop").hidden = true;
    if (running === controller) running = null;
  }
}

$("credentials").addEventListener("submit", (e) => {
  e.preventDefault();
  sessionStorage.setItem("nrpc-credential", $("credential").value.trim());
  $("credential").value = "";
  refresh();
});
$("call-form").addEventListener("submit", call);
$("stop").addEventListener("click", () => running && running.abort());
refresh();
setInterval(refresh, 2000);
