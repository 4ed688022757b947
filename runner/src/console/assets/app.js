// The Switchyard console: routes (with sparklines and circuit state), tasks, task
// detail, Connections (circuit state, test button), storage and the audit trail,
// through the public REST API only. Buttons the caller's role may not use are disabled.

import { api, ApiError, ns, setToken } from "/console/api.js";

const STATES = ["pending", "processing", "done", "failed", "skipped"];
const ROLES = ["viewer", "editor", "admin"];
const state = { namespace: "default", identity: null, detailTimer: null };

const $ = (selector) => document.querySelector(selector);

/** Builds an element: el("td", {class: "x"}, "text", child…). */
function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    node.append(child instanceof Node ? child : document.createTextNode(String(child ?? "")));
  }
  return node;
}

function can(role) {
  const held = state.identity && state.identity.role;
  return held !== null && held !== undefined && ROLES.indexOf(held) >= ROLES.indexOf(role);
}

/** A button that needs `role`: disabled, with the reason, when the caller lacks it. */
function actionButton(label, role, onclick, id) {
  const allowed = can(role);
  return el("button", {
    id,
    type: "button",
    disabled: !allowed,
    title: allowed ? label : `Needs role ${role}`,
    onclick: async (event) => {
      event.target.disabled = true;
      try {
        await onclick();
      } catch (error) {
        show(error);
      } finally {
        event.target.disabled = !can(role);
      }
    },
  }, label);
}

function show(error) {
  const box = $("#message");
  if (!error) {
    box.textContent = "";
    box.className = "";
    return;
  }
  box.className = "error";
  box.textContent = error instanceof ApiError && error.requiredRole
    ? `${error.message}`
    : error.message || String(error);
}

function notice(text) {
  const box = $("#message");
  box.className = "notice";
  box.textContent = text;
}

const time = (ms) => (ms ? new Date(ms).toLocaleString() : "");

function table(headers, rows) {
  return el("div", { class: "scroll" },
    el("table", {},
      el("thead", {}, el("tr", {}, headers.map((h) => el("th", {}, h)))),
      el("tbody", {}, rows)));
}

// ---- Routes -------------------------------------------------------------------------

/** A sparkline of per-minute counts (oldest first) as an inline SVG polyline. The SVG is
 * written as markup (only numbers go into it), so the HTML parser gives it its namespace. */
function sparkline(values, kind, label) {
  const width = 120;
  const height = 24;
  const max = Math.max(1, ...values);
  const step = values.length > 1 ? width / (values.length - 1) : width;
  const points = values.map((v, i) => `${(i * step).toFixed(1)},${(height - 1 - (v / max) * (height - 2)).toFixed(1)}`).join(" ");
  const total = values.reduce((a, b) => a + b, 0);
  const holder = el("span", { class: `spark ${kind}`, "data-total": total });
  holder.innerHTML = `<svg viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" class="sparkline ${kind}" role="img"><polyline fill="none" points="${points}"></polyline></svg>`;
  const svg = holder.firstElementChild;
  const text = `${label}: ${total} in the last ${values.length} minutes (this runner)`;
  svg.setAttribute("aria-label", text);
  const title = document.createElementNS(svg.namespaceURI, "title");
  title.textContent = text;
  svg.prepend(title);
  holder.append(el("small", {}, total));
  return holder;
}

/** How a circuit reads in a table cell. */
function circuitText(circuit) {
  if (!circuit) return "no breaker";
  if (circuit.state === "open") return `open until ${new Date(circuit.until).toLocaleTimeString()}`;
  if (circuit.state === "halfOpen") return "half-open (trial out)";
  return "closed";
}

async function routesView(view) {
  const [routes, connections] = await Promise.all([
    api("GET", `${ns(state.namespace)}/routes`),
    api("GET", `${ns(state.namespace)}/connections`),
  ]);
  const circuits = new Map(connections.map((c) => [c.name, c.circuit]));
  const rows = routes.map((route) => {
    const circuit = circuits.get(route.connection);
    const open = circuit && circuit.state !== "closed";
    return el("tr", { class: route.tasks.failed > 0 ? "has-failed route-row" : "route-row", "data-route": route.name },
      el("td", {}, el("a", { href: `#tasks?route=${encodeURIComponent(route.name)}` }, route.name)),
      el("td", {}, route.incoming, route.mode === "scheduled" ? " (scheduled)" : ""),
      el("td", { class: `route-state${route.suspended || open ? " held" : ""}`, title: open ? circuit.reason : undefined },
        route.suspended ? "suspended" : "running",
        open ? el("span", { class: "circuit-state" }, ` · circuit ${circuitText(circuit)}`) : ""),
      STATES.map((s) => el("td", { class: `count ${s}` },
        el("a", { href: `#tasks?route=${encodeURIComponent(route.name)}&state=${s}` }, route.tasks[s]))),
      el("td", { class: "activity" },
        sparkline(route.activity.delivered, "delivered", "Delivered"),
        sparkline(route.activity.failed, "failed", "Failed attempts")),
      el("td", { class: "actions" },
        actionButton("Retry failed", "editor", async () => {
          const result = await api("POST", `${ns(state.namespace)}/routes/${encodeURIComponent(route.name)}/retry-failed`);
          notice(`${result.count} task(s) of ${route.name} back to pending`);
          render();
        }),
        route.incoming === "poll"
          ? actionButton("Trigger", "editor", async () => {
            const result = await api("POST", `${ns(state.namespace)}/routes/${encodeURIComponent(route.name)}/trigger`);
            notice(`${route.name}: ${result.count} task(s) queued`);
            render();
          })
          : ""));
  });
  view.append(el("h1", {}, "Routes"),
    table(["Route", "Incoming", "State", ...STATES, "Last hour", ""], rows));
}

// ---- Connections --------------------------------------------------------------------

async function connectionsView(view) {
  const connections = await api("GET", `${ns(state.namespace)}/connections`);
  const rows = connections.map((connection) => {
    const result = el("td", { class: "test-result", id: `test-result-${connection.name}` }, "");
    const testable = connection.kind === "http" || connection.kind === "database";
    return el("tr", { class: "connection-row", "data-connection": connection.name },
      el("td", {}, connection.name),
      el("td", {}, connection.kind),
      el("td", { class: `circuit ${connection.circuit ? connection.circuit.state : "none"}`, title: connection.circuit ? connection.circuit.reason : undefined },
        circuitText(connection.circuit)),
      el("td", { class: "actions" },
        testable
          ? actionButton("Test", "editor", async () => {
            result.textContent = "testing…";
            result.className = "test-result";
            const answer = await api("POST", `${ns(state.namespace)}/connections/${encodeURIComponent(connection.name)}/test`);
            result.textContent = `${answer.ok ? "OK" : "Failed"}: ${answer.message}`;
            result.className = `test-result ${answer.ok ? "ok" : "failed"}`;
          }, `test-${connection.name}`)
          : el("span", { title: "Only HTTP and database Connections can be tested without moving data" }, "—")),
      result);
  });
  view.append(el("h1", {}, "Connections"),
    rows.length ? table(["Connection", "Kind", "Circuit", "", "Test result"], rows) : el("p", {}, "No Connections."));
}

// ---- Tasks --------------------------------------------------------------------------

function params() {
  const query = location.hash.split("?")[1] || "";
  return new URLSearchParams(query);
}

async function tasksView(view) {
  const query = params();
  const routes = await api("GET", `${ns(state.namespace)}/routes`);
  const select = (id, label, options, value) =>
    el("label", {}, label,
      el("select", { id, name: id }, el("option", { value: "" }, "any"),
        options.map((o) => el("option", { value: o, selected: o === value }, o))));
  const form = el("form", { id: "task-filters", class: "filters" },
    select("route-filter", "Route ", routes.map((r) => r.name), query.get("route")),
    select("state-filter", "State ", STATES, query.get("state")),
    el("label", {}, "Contains ", el("input", { id: "text-filter", type: "search", value: query.get("text") || "", placeholder: "e.g. an order number" })),
    el("label", {}, "From ", el("input", { id: "from-filter", type: "datetime-local", value: query.get("from") || "" })),
    el("label", {}, "To ", el("input", { id: "to-filter", type: "datetime-local", value: query.get("to") || "" })),
    el("button", { id: "apply-filter", type: "submit" }, "Filter"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const [key, id] of [["route", "#route-filter"], ["state", "#state-filter"], ["text", "#text-filter"], ["from", "#from-filter"], ["to", "#to-filter"]]) {
      const value = $(id).value;
      if (value) next.set(key, value);
    }
    location.hash = `#tasks?${next}`;
  });
  const api_query = new URLSearchParams({ limit: "50" });
  for (const key of ["route", "state", "text", "cursor"]) {
    if (query.get(key)) api_query.set(key, query.get(key));
  }
  if (query.get("from")) api_query.set("createdAfterMs", String(new Date(query.get("from")).getTime()));
  if (query.get("to")) api_query.set("createdBeforeMs", String(new Date(query.get("to")).getTime()));
  const page = await api("GET", `${ns(state.namespace)}/tasks?${api_query}`);
  const rows = page.tasks.map((task) =>
    el("tr", { class: `task-row ${task.state}` },
      el("td", {}, el("a", { href: `#task/${task.id}`, class: "task-link" }, task.id.slice(-12))),
      el("td", {}, task.route),
      el("td", { class: `state ${task.state}` }, task.state),
      el("td", {}, task.attempts),
      el("td", {}, time(task.createdAtMs)),
      el("td", { class: "error-text" }, task.lastError || "")));
  const more = page.nextCursor
    ? el("a", { id: "next-page", href: `#tasks?${new URLSearchParams({ ...Object.fromEntries(query), cursor: page.nextCursor })}` }, "Next page →")
    : "";
  view.append(el("h1", {}, "Tasks"), form,
    rows.length ? table(["Task", "Route", "State", "Attempts", "Created", "Last error"], rows) : el("p", { id: "no-tasks" }, "No tasks match."),
    more);
}

// ---- One task -----------------------------------------------------------------------

async function taskView(view, id) {
  const task = await api("GET", `${ns(state.namespace)}/tasks/${encodeURIComponent(id)}`);
  const act = (verb) => async () => {
    const body = verb === "discard" ? { reason: prompt("Why discard this task?") || "discarded in the console" } : {};
    const result = await api("POST", `${ns(state.namespace)}/tasks/${encodeURIComponent(id)}/${verb}`, body);
    notice(`Task ${verb === "retry" ? "retried" : "discarded"}: now ${result.state}`);
    render();
  };
  const provenance = task.provenance || {};
  const replay = (fromStep) => async () => {
    const result = await api("POST", `${ns(state.namespace)}/tasks/${encodeURIComponent(id)}/replay`, { fromStep });
    notice(`Replayed from step ${fromStep}: ${result.taskIds.length} new task(s)`);
    if (result.taskIds.length) location.hash = `#task/${encodeURIComponent(result.taskIds[0])}`;
    else render();
  };
  const steps = (provenance.steps || []).map((step) =>
    el("section", { class: "step" },
      el("h3", {}, `Step ${step.step}: ${step.label} (${step.kind})`),
      step.items
        ? el("pre", { class: "step-items" }, JSON.stringify(step.items.length === 1 ? step.items[0] : step.items, null, 2))
        : el("p", {}, `Left out: ${step.omittedBytes} bytes, over the 64 KiB a task keeps`),
      step.step > 1 ? actionButton(`Replay from this step`, "editor", replay(step.step), `replay-${step.step}`) : ""));
  const link = (taskId) => el("a", { href: `#task/${encodeURIComponent(taskId)}` }, el("code", {}, taskId));
  view.append(
    el("h1", {}, "Task ", el("code", {}, task.id)),
    el("dl", { class: "facts" },
      el("dt", {}, "State"), el("dd", { id: "task-state", class: `state ${task.state}` }, task.state),
      el("dt", {}, "Route"), el("dd", {}, task.route),
      el("dt", {}, "Source"), el("dd", {}, task.source),
      el("dt", {}, "Attempts"), el("dd", {}, task.attempts),
      el("dt", {}, "Created"), el("dd", {}, time(task.createdAtMs)),
      el("dt", {}, "Updated"), el("dd", {}, time(task.updatedAtMs)),
      task.traceId ? [el("dt", {}, "Trace"), el("dd", {}, task.traceId)] : [],
      task.lastError ? [el("dt", {}, "Last error"), el("dd", { class: "error-text" }, task.lastError)] : []),
    el("div", { class: "actions" },
      actionButton("Retry", "editor", act("retry"), "retry"),
      actionButton("Discard", "editor", act("discard"), "discard")),
    provenance.replayOf
      ? el("p", { id: "replay-of" }, "Replay of ", link(provenance.replayOf.task), ` from step ${provenance.replayOf.fromStep}`)
      : "",
    (provenance.replays || []).length
      ? el("p", { id: "replays" }, "Replayed as ", provenance.replays.map(link))
      : "",
    task.provenance
      ? el("section", {}, el("h2", {}, "As received"),
        provenance.received !== undefined
          ? el("pre", { id: "received" }, JSON.stringify(provenance.received, null, 2))
          : el("p", {}, `Left out: ${provenance.receivedBytes} bytes, over the 64 KiB a task keeps`),
        actionButton("Replay every step", "editor", replay(1), "replay-1"))
      : "",
    steps.length ? el("section", { id: "steps" }, el("h2", {}, "After each step"), steps) : "",
    el("section", {}, el("h2", {}, "Item as queued"), el("pre", { id: "item" }, JSON.stringify(task.item, null, 2))),
    el("section", {}, el("h2", {}, "Log"),
      el("ol", { id: "log", class: "log" }, task.log.map((line) =>
        el("li", {}, el("time", {}, new Date(line.atUs / 1000).toLocaleTimeString()), " ", line.message)))));
  if (task.state === "pending" || task.state === "processing") {
    state.detailTimer = setTimeout(render, 1000);
  }
}

// ---- Storage and audit --------------------------------------------------------------

async function storageView(view) {
  const name = params().get("name") || "";
  const form = el("form", { class: "filters" },
    el("label", {}, "Storage ", el("input", { id: "storage-name", value: name, required: true })),
    el("button", { type: "submit" }, "Open"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    location.hash = `#storage?name=${encodeURIComponent($("#storage-name").value)}`;
  });
  view.append(el("h1", {}, "Storage"), form);
  if (!name) return;
  const page = await api("GET", `${ns(state.namespace)}/storages/${encodeURIComponent(name)}/items?limit=200`);
  view.append(table(["Key", "Value", "Updated", "Expires", ""], page.items.map((entry) =>
    el("tr", {},
      el("td", {}, entry.key),
      el("td", {}, el("code", {}, JSON.stringify(entry.value))),
      el("td", {}, time(entry.updatedAtMs)),
      el("td", {}, time(entry.expiresAtMs)),
      el("td", {}, actionButton("Delete", "editor", async () => {
        await api("DELETE", `${ns(state.namespace)}/storages/${encodeURIComponent(name)}/items/${encodeURIComponent(entry.key)}`);
        render();
      }))))));
}

async function auditView(view) {
  const page = await api("GET", `${ns(state.namespace)}/audit?limit=200`);
  view.append(el("h1", {}, "Audit trail"),
    table(["When", "Who", "What", "Target", "From", "Detail"], page.events.map((event) =>
      el("tr", { class: "audit-row" },
        el("td", {}, time(event.atMs)),
        el("td", {}, event.actor),
        el("td", {}, event.action),
        el("td", {}, event.target),
        el("td", {}, event.origin || ""),
        el("td", {}, el("code", {}, JSON.stringify(event.detail)))))));
}

// ---- Frame --------------------------------------------------------------------------

async function signIn() {
  try {
    state.identity = await api("GET", "/whoami");
    $("#whoami").textContent = `${state.identity.name} · ${state.identity.role || "no role"}`;
    const namespaces = await api("GET", "/namespaces");
    if (!namespaces.includes(state.namespace) && namespaces.length) state.namespace = namespaces[0];
    $("#namespace").replaceChildren(...namespaces.map((n) => el("option", { selected: n === state.namespace }, n)));
    return true;
  } catch (error) {
    state.identity = null;
    $("#whoami").textContent = "";
    show(error.status === 401 ? new Error("Sign in with an API token.") : error);
    return false;
  }
}

async function render() {
  clearTimeout(state.detailTimer);
  const view = $("#view");
  const hash = location.hash.slice(1) || "routes";
  const [name] = hash.split("?");
  for (const link of document.querySelectorAll("nav a")) {
    link.classList.toggle("active", name.startsWith(link.dataset.view));
  }
  if (!state.identity && !(await signIn())) {
    view.replaceChildren();
    return;
  }
  const next = el("div");
  try {
    if (name.startsWith("task/")) await taskView(next, decodeURIComponent(name.slice(5)));
    else if (name === "tasks") await tasksView(next);
    else if (name === "connections") await connectionsView(next);
    else if (name === "storage") await storageView(next);
    else if (name === "audit") await auditView(next);
    else await routesView(next);
    view.replaceChildren(...next.childNodes);
  } catch (error) {
    show(error);
  }
}

$("#login").addEventListener("submit", async (event) => {
  event.preventDefault();
  setToken($("#token").value);
  $("#token").value = "";
  state.identity = null;
  show(null);
  await render();
});
$("#namespace").addEventListener("change", (event) => {
  state.namespace = event.target.value;
  render();
});
window.addEventListener("hashchange", () => {
  if (!location.hash.startsWith("#task/")) show(null);
  render();
});
render();
