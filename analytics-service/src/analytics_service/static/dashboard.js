/* Ticket Triage dashboard: polls the analytics API and renders every panel (no dependencies). */
(function () {
  "use strict";

  const C = window.DashboardCharts;
  const body = document.body;
  const REFRESH_MS = Math.max(1, Number(body.dataset.refreshSeconds) || 5) * 1000;
  // Kept for this tab only (sessionStorage, else memory), never in localStorage: a key must not
  // outlive the tab or be readable by every later page of the origin.
  const KEY_STORAGE = "ticket-triage.dashboard.api-key";
  const OPERATOR_STORAGE = "ticket-triage.dashboard.operator-token";
  const OPERATOR_HEADER = "X-Operator-Token";
  // The page lives at <base>/dashboard; the API sits beside it (the gateway or the service).
  const BASE = window.location.pathname.replace(/\/dashboard\/?$/, "");
  const SOURCES = {
    summary: "/api/dashboard/summary",
    routing: "/api/dashboard/routing",
    performance: "/api/analytics/performance",
    trends: "/api/analytics/trends?days=14",
    queues: "/api/dashboard/queues",
    agents: "/api/analytics/agents",
    sla: "/api/analytics/sla?days=30",
  };
  // Suite-wide, for operators only: asked for only with an operator credential (#operator=...),
  // hidden otherwise; a refusal hides it again and never asks for another key.
  const OPERATOR_SOURCES = new Set(["queues"]);
  const TREND_SERIES = ["created", "routed", "resolved"];
  const METHOD_NAMES = { claude: "Claude", local_model: "Local model", keywords: "Keywords" };
  const DURATIONS = ["time_to_categorize", "time_to_route", "time_to_resolve"];
  const PERFORMANCE_ROWS = [
    ["count", "tickets"],
    ["avg_seconds", "average"],
    ["p50_seconds", "median"],
    ["p95_seconds", "95th percentile"],
    ["max_seconds", "slowest"],
  ];
  const QUEUE_FIELDS = ["messages_ready", "messages_unacknowledged", "consumers", "dead_letters"];

  const latest = {};
  const memory = {};
  let timer = null;
  let inFlight = false;

  // ---- API key: from "#key=..." or the form, kept for this tab, sent as a bearer token ----

  function recall(name) {
    try {
      return window.sessionStorage.getItem(name) || "";
    } catch (err) { // storage disabled: the key lives as long as the page
      return memory[name] || "";
    }
  }

  function remember(name, value) {
    memory[name] = value;
    try {
      if (value) window.sessionStorage.setItem(name, value);
      else window.sessionStorage.removeItem(name);
    } catch (err) { // storage disabled: memory is enough
    }
  }

  function readKey() {
    return recall(KEY_STORAGE);
  }

  function storeKey(key) {
    remember(KEY_STORAGE, key);
    document.getElementById("key-toggle").textContent = key ? "API key ✓" : "API key";
  }

  function forgetOldStorage() {
    try { // earlier versions kept the key in localStorage: never leave it there
      window.localStorage.removeItem(KEY_STORAGE);
    } catch (err) { // storage disabled: nothing stored
    }
  }

  function takeKeyFromFragment() {
    const params = new URLSearchParams(window.location.hash.replace(/^#/, ""));
    if (!params.has("key") && !params.has("operator")) return false;
    if (params.has("key")) storeKey(params.get("key").trim());
    if (params.has("operator")) remember(OPERATOR_STORAGE, params.get("operator").trim());
    // Do not leave the key in the address bar or the history.
    window.history.replaceState(null, "", window.location.pathname + window.location.search);
    return true;
  }

  function operatorPanels(shown) {
    document.querySelectorAll("[data-operator]").forEach((node) => { node.hidden = !shown; });
    if (!shown) delete latest.queues;
  }

  function showKeyForm(open) {
    document.getElementById("key-form").hidden = !open;
    document.getElementById("key-toggle").setAttribute("aria-expanded", String(open));
    if (open) document.getElementById("api-key").focus();
  }

  // ---- fetching ----

  class HttpError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function describe(resp) {
    try {
      const answer = await resp.json();
      if (answer && answer.error && answer.error.message) return answer.error.message;
    } catch (err) { // not JSON: the status says enough
    }
    return "HTTP " + resp.status;
  }

  async function fetchJson(path, operator) {
    const headers = { Accept: "application/json" };
    const key = readKey();
    if (operator) headers[OPERATOR_HEADER] = operator;
    else if (key) headers.Authorization = "Bearer " + key;
    const resp = await fetch(BASE + path, { headers: headers, cache: "no-store", credentials: "same-origin" });
    if (!resp.ok) throw new HttpError(resp.status, await describe(resp));
    return resp.json();
  }

  // ---- rendering ----

  function dig(source, path) {
    return path.reduce((value, part) => (value === null || value === undefined ? undefined : value[part]),
      latest[source]);
  }

  function renderKpis() {
    document.querySelectorAll(".kpi-value").forEach((node) => {
      const [source, ...path] = node.dataset.metric.split(".");
      if (!latest[source]) return;
      const value = dig(source, path);
      C.show(node, node.dataset.metric, value === undefined ? null : value, "number");
      if (value === undefined && source === "queues") node.textContent = "n/a";
    });
    const review = dig("summary", ["needs_review"]);
    document.getElementById("kpi-review").classList.toggle("alert", review > 0);
    const dead = dig("queues", ["totals", "dead_letters"]);
    document.getElementById("kpi-dlq").classList.toggle("alert", dead > 0);
  }

  function renderSummary(summary) {
    C.bars(document.getElementById("bars-status"), summary.by_status, "summary.by_status");
    C.bars(document.getElementById("bars-priority"), summary.by_priority, "summary.by_priority");
    C.bars(document.getElementById("bars-department"), summary.by_department, "summary.by_department");
  }

  function renderRouting(routing) {
    C.histogram(document.getElementById("chart-confidence"), routing.confidence_distribution,
      "routing.confidence_distribution", routing.average_confidence);
    C.splitBar(document.getElementById("methods"), routing.by_categorization_method,
      "routing.by_categorization_method", METHOD_NAMES);
  }

  function renderPerformance(performance) {
    const rows = PERFORMANCE_ROWS.map(([field, label]) => {
      const row = C.el("tr");
      row.dataset.key = field;
      row.append(C.el("th", "", label));
      DURATIONS.forEach((key) => {
        const value = performance[key][field];
        const format = field === "count" ? "count" : "duration";
        row.append(C.show(C.el("td"), "performance." + key + "." + field, value, format));
      });
      return row;
    });
    document.querySelector("#performance tbody").replaceChildren(...rows);
  }

  function renderQueues(queues) {
    const note = document.getElementById("queues-note");
    const tbody = document.querySelector("#queues tbody");
    if (!queues.available) {
      note.hidden = false;
      note.textContent = "Queue depths unavailable: " + (queues.reason || "RabbitMQ management API unreachable");
      tbody.replaceChildren();
      return;
    }
    note.hidden = true;
    const rows = queues.queues.map((q) => {
      const row = C.el("tr", !q.exists ? "missing" : q.dead_letters > 0 ? "warn" : q.consumers === 0 ? "idle" : "");
      row.dataset.queue = q.name;
      const name = C.el("th", "", q.service + " · " + q.routing_key);
      name.title = q.exists ? q.name : q.name + " (not declared yet)";
      row.append(name);
      QUEUE_FIELDS.forEach((field) => {
        row.append(C.show(C.el("td"), "queues." + q.name + "." + field, q[field]));
      });
      return row;
    });
    const unroutable = C.el("tr", queues.unroutable.messages > 0 ? "warn" : "");
    const label = C.el("th", "", "unroutable");
    label.title = queues.unroutable.name + ": events no queue was bound for";
    unroutable.append(label, C.show(C.el("td"), "queues.unroutable.messages", queues.unroutable.messages),
      C.el("td"), C.el("td"), C.el("td"));
    tbody.replaceChildren(...rows, unroutable);
  }

  function minutes(value) {
    return value === null || value === undefined ? "–" : value.toFixed(1) + " min";
  }

  function renderSla(sla) {
    const groups = [{ department: "all", priority: "", ...sla.total }, ...sla.groups];
    const rows = groups.map((g) => {
      const row = C.el("tr", g.breached_tickets > 0 ? "warn" : "");
      row.append(C.el("th", "", (g.department || "unrouted") + (g.priority ? " · " + g.priority : "")));
      const compliance = g.compliance === null ? "–" : (100 * g.compliance).toFixed(1) + " %";
      [String(g.tickets), compliance,
       g.breaches.first_response + " / " + g.breaches.resolution,
       minutes(g.first_response_minutes.p50) + " / " + minutes(g.first_response_minutes.p90),
       minutes(g.resolution_minutes.p50) + " / " + minutes(g.resolution_minutes.p90),
      ].forEach((text) => row.append(C.el("td", "", text)));
      return row;
    });
    document.querySelector("#sla tbody").replaceChildren(...rows);
  }

  function render() {
    renderKpis();
    if (latest.summary) renderSummary(latest.summary);
    if (latest.routing) renderRouting(latest.routing);
    if (latest.performance) renderPerformance(latest.performance);
    if (latest.trends) {
      C.lineChart(document.getElementById("chart-trends"), latest.trends.trends, TREND_SERIES, "trends");
    }
    if (latest.queues) renderQueues(latest.queues);
    if (latest.sla) renderSla(latest.sla);
    if (latest.agents) renderAgents(latest.agents);
  }

  function renderAgents(agents) {
    const counts = {};
    agents.agents.forEach((a) => { counts[a.name || ("agent " + a.agent_id)] = a.open_tickets; });
    if (agents.unassigned_open) counts["(unassigned)"] = agents.unassigned_open;
    C.bars(document.getElementById("bars-agents"), counts, "agents.agents");
  }

  // ---- status line and the refresh loop ----

  function setStatus(state, text) {
    document.getElementById("status").dataset.state = state;
    document.getElementById("status-text").textContent = text;
  }

  function setBanner(text) {
    const banner = document.getElementById("banner");
    banner.hidden = !text;
    banner.textContent = text || "";
  }

  function report(failures) {
    document.querySelectorAll(".panel").forEach((panel) => {
      panel.classList.toggle("stale", failures.some(([name]) => name === panel.dataset.source));
    });
    const denied = failures.find(([, err]) => err.status === 401 || err.status === 403);
    if (denied) {
      setBanner("The API refused the request (" + denied[1].message + "). Enter an API key with the " +
        "\"API key\" button, or open this page as /dashboard#key=<your key>.");
      showKeyForm(true);
    } else {
      setBanner("");
    }
    if (!failures.length) {
      setStatus("ok", "Live · every " + REFRESH_MS / 1000 + " s");
      document.getElementById("updated-at").textContent = new Date().toLocaleTimeString();
      body.dataset.refreshes = String(Number(body.dataset.refreshes) + 1);
      return;
    }
    if (denied) {
      setStatus("error", "API key needed");
      return;
    }
    const what = failures.map(([name, err]) => name + ": " + (err instanceof HttpError ? err.message : "no answer"));
    const shown = Object.keys(latest).length ? "Showing the last numbers received · " : "No numbers yet · ";
    setStatus("error", shown + what.join("; "));
  }

  function schedule() {
    window.clearTimeout(timer);
    if (!document.hidden) timer = window.setTimeout(refresh, REFRESH_MS);
  }

  async function refresh() {
    if (inFlight) return;
    inFlight = true;
    window.clearTimeout(timer);
    try {
      const operator = recall(OPERATOR_STORAGE);
      const names = Object.keys(SOURCES).filter((name) => operator || !OPERATOR_SOURCES.has(name));
      const results = await Promise.allSettled(names.map((name) =>
        fetchJson(SOURCES[name], OPERATOR_SOURCES.has(name) ? operator : "")));
      const failures = [];
      operatorPanels(Boolean(operator));
      results.forEach((result, i) => {
        if (result.status === "fulfilled") latest[names[i]] = result.value;
        else if (OPERATOR_SOURCES.has(names[i]) && [401, 403].includes(result.reason.status)) {
          remember(OPERATOR_STORAGE, ""); // not an operator after all: hide, ask nothing
          operatorPanels(false);
        } else failures.push([names[i], result.reason]);
      });
      render();
      report(failures);
    } finally {
      inFlight = false;
      schedule();
    }
  }

  function wireKeyForm() {
    document.getElementById("key-toggle").addEventListener("click", () => {
      showKeyForm(document.getElementById("key-form").hidden);
    });
    document.getElementById("key-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const input = document.getElementById("api-key");
      storeKey(input.value.trim());
      input.value = "";
      showKeyForm(false);
      refresh();
    });
    document.getElementById("key-clear").addEventListener("click", () => {
      storeKey("");
      showKeyForm(false);
      refresh();
    });
  }

  function start() {
    forgetOldStorage();
    takeKeyFromFragment();
    storeKey(readKey());
    wireKeyForm();
    window.addEventListener("hashchange", () => { if (takeKeyFromFragment()) refresh(); });
    document.addEventListener("visibilitychange", () => { if (!document.hidden) refresh(); else schedule(); });
    let resizing = null;
    window.addEventListener("resize", () => {
      window.clearTimeout(resizing);
      resizing = window.setTimeout(render, 150);
    });
    refresh();
  }

  start();
})();
