// The Cluster tab: live node cards, leader, epoch and raft term from the
// server-sent status events (polling /cluster/status only while the
// event stream is down), the election timeline, and fault injection.

import { ApiError, request } from "./api.js";
import { nodeHealth, Timeline } from "./timeline.js";
import { $, el, nodeColour, rememberNodes, setStatus } from "./ui.js";

const TOKEN_KEY = "stegocluster.adminToken";
const POLL_MS = 1000;
const RECONNECT_MS = 1500;
const STALE_MS = 5000;

export function initCluster() {
  const timeline = new Timeline();
  const cards = new Map(); // node id → {root, parts}
  const requested = new Map(); // node id → "crashing…" | "pausing…", until the status shows it
  let last = null;
  let shownAt = 0; // when last was shown
  let source = null;
  let pollTimer = 0;
  let feed = "connecting";

  // ── the feed ──────────────────────────────────────────────
  function connect() {
    source = new EventSource("/cluster/events");
    source.addEventListener("open", () => {
      stopPolling();
      setFeed("live");
    });
    source.addEventListener("status", (e) => {
      let status;
      try {
        status = JSON.parse(e.data);
      } catch {
        return;
      }
      setFeed("live");
      render(status);
    });
    source.addEventListener("error", () => {
      startPolling();
      if (source.readyState === EventSource.CLOSED) {
        // A refused stream (a draining node answers 503) is not retried
        // by the browser: open a new one.
        source = null;
        setTimeout(connect, RECONNECT_MS);
      }
    });
  }

  function startPolling() {
    if (pollTimer) return;
    setFeed("polling");
    const poll = async () => {
      try {
        const res = await request("/cluster/status", { cache: "no-store" });
        const status = await res.json();
        if (pollTimer) {
          setFeed("polling");
          render(status);
        }
      } catch (err) {
        if (pollTimer) setFeed("down", err.message);
      }
    };
    pollTimer = setInterval(poll, POLL_MS);
    poll();
  }

  function stopPolling() {
    clearInterval(pollTimer);
    pollTimer = 0;
  }

  function setFeed(mode, why = "") {
    feed = mode;
    const conn = $("conn");
    conn.className = `conn ${mode === "live" ? "live" : mode === "polling" ? "poll" : mode === "down" ? "down" : ""}`;
    const via = last && last.served_by ? ` via ${last.served_by}` : "";
    // Written only when changed: the pill is a live region.
    const put = (node, text) => {
      if (node.textContent !== text) node.textContent = text;
    };
    put($("conn-text"), mode === "live" ? `live${via}` : mode === "polling" ? "polling (live feed reconnecting)" : mode === "down" ? "cluster unreachable" : "connecting…");
    put($("f-feed"), mode === "live" ? "server-sent events" : mode === "polling" ? "polling /cluster/status" : mode === "down" ? `unreachable${why ? `: ${why}` : ""}` : "connecting");
  }

  // ── rendering ─────────────────────────────────────────────
  function render(status) {
    // Polls go to any node and may be answered out of order, and a worker
    // cut off from etcd serves the last state it saw: an older state than
    // the one shown would draw a failover backwards. Older for more than
    // STALE_MS on end is a new cluster (its revisions start again), and
    // is shown.
    const now = Date.now();
    if (last && status.revision < last.revision && now - shownAt < STALE_MS) return;
    shownAt = now;
    last = status;
    rememberNodes((status.nodes || []).map((n) => n.id));
    if (timeline.observe(status, now)) renderTimeline();
    $("f-leader").textContent = status.leader_id || "none (electing)";
    $("f-epoch").textContent = status.epoch ?? "—";
    $("f-term").textContent = status.term ?? "—";
    $("f-raft").textContent = status.raft_leader || "—";
    $("f-served").textContent = status.served_by || "—";
    if (feed === "live") setFeed("live");

    const container = $("nodes");
    const seen = new Set();
    (status.nodes || []).forEach((n, i) => {
      seen.add(n.id);
      let card = cards.get(n.id);
      if (!card) {
        card = makeCard(n.id);
        cards.set(n.id, card);
      }
      if (card.root.parentNode !== container || container.children[i] !== card.root) container.insertBefore(card.root, container.children[i] || null);
      updateCard(card, n, status);
    });
    for (const [id, card] of cards) {
      if (!seen.has(id)) {
        card.root.remove();
        cards.delete(id);
      }
    }
    renderBand();
  }

  function makeCard(id) {
    const parts = {};
    const metric = (key, label) => el("div", {}, el("dt", { text: label }), (parts[key] = el("dd", { text: "—" })));
    const button = (action, label, cls = "") => (parts[action] = el("button", {
      type: "button", class: `small ${cls}`.trim(), text: label, "aria-label": `${label} ${id}`,
      dataset: { action, node: id }, onclick: () => act(id, action),
    }));
    const root = el("article", { class: "card node", dataset: { node: id }, "aria-label": `Node ${id}` },
      el("div", { class: "node-head" },
        el("div", {}, el("h3", { text: id }), (parts.addr = el("p", { class: "node-addr" }))),
        (parts.badges = el("div", { class: "badges" }))),
      el("dl", { class: "metrics" },
        metric("cpu", "CPU"), metric("mem", "Memory"), metric("qps", "QPS 1m"),
        metric("p95", "p95"), metric("inflight", "In flight"), metric("queue", "Queued")),
      (parts.why = el("p", { class: "node-why", hidden: true })),
      el("div", { class: "actions" }, button("crash", "Crash", "danger"), button("pause", "Pause"), button("restore", "Restore")));
    return { root, parts };
  }

  function updateCard(card, n, status) {
    const { root, parts } = card;
    const health = nodeHealth(n, status.probes);
    const isLeader = n.id === status.leader_id;
    const pending = requested.get(n.id);
    if (pending && (health !== "healthy" || pending.until < Date.now())) requested.delete(n.id);
    root.dataset.health = health;
    const isWorker = n.role === "Worker";
    root.dataset.role = isLeader ? "leader" : isWorker ? "worker" : "follower";
    root.classList.toggle("leader", isLeader);
    parts.addr.textContent = n.ip && n.http_port ? `${n.ip}:${n.http_port}${n.version ? ` · ${n.version}` : ""}` : "no registered address";
    const badges = [];
    if (isLeader) badges.push(el("span", { class: "badge leader", text: "Leader" }));
    else if (isWorker) badges.push(el("span", { class: "badge", text: "Worker", title: "a stateless worker: no etcd member, never leads" }));
    else badges.push(el("span", { class: "badge", text: "Follower" }));
    if (n.raft_leader) badges.push(el("span", { class: "badge", text: "raft leader", title: "this node's etcd member leads raft" }));
    badges.push(el("span", { class: `badge ${health}`, text: requested.has(n.id) ? requested.get(n.id).text : health }));
    parts.badges.replaceChildren(...badges);

    const up = health !== "down";
    parts.cpu.textContent = up ? `${n.cpu_pct.toFixed(0)}%` : "—";
    parts.mem.textContent = up ? `${n.mem_pct.toFixed(1)}%` : "—";
    parts.qps.textContent = up ? n.qps_1m.toFixed(1) : "—";
    parts.p95.textContent = up ? `${n.p95_ms.toFixed(0)} ms` : "—";
    parts.inflight.textContent = up ? String(n.in_flight) : "—";
    parts.queue.textContent = up ? String(n.queue_depth) : "—";

    const probe = status.probes && status.probes[n.id];
    parts.why.hidden = health !== "down";
    parts.why.textContent = health === "down" ? `Down: ${probe && probe.error ? shorten(probe.error) : "no registry entry (the node stopped renewing it)"}` : "";
    parts.crash.disabled = !up;
    parts.pause.disabled = !up || health === "paused";
    parts.restore.disabled = health !== "paused";
    parts.restore.title = health === "down" ? "A crashed node must be started again (compose/cluster.sh start N, docker start …)" : "";
  }

  function shorten(err) {
    if (/no registered address/.test(err)) return "its registry entry is gone (the node stopped, or stopped renewing it)";
    const m = /(connection refused|timeout|deadline exceeded|no route to host|reset by peer|no registered address)/i.exec(err);
    return m ? m[1] : err;
  }

  // ── fault injection ───────────────────────────────────────
  async function act(id, action) {
    // Nodes serve only IDs of these characters (coordinator.ValidNodeID);
    // "." and ".." would be path steps, which the browser resolves away.
    if (!/^[A-Za-z0-9._-]+$/.test(id) || id === "." || id === "..") return;
    let token = sessionStorage.getItem(TOKEN_KEY);
    if (!token) token = await askToken(`${action[0].toUpperCase()}${action.slice(1)} ${id}: that needs the cluster's ADMIN_TOKEN.`);
    if (!token) {
      say("No admin token: nothing was done.", "error");
      return;
    }
    const path = action === "restore" ? "restore" : "fail";
    say(`${action === "crash" ? "Crashing" : action === "pause" ? "Pausing" : "Restoring"} ${id}…`, "busy");
    const sentAt = Date.now();
    try {
      const res = await request(`/admin/nodes/${encodeURIComponent(id)}/${path}`, {
        method: "POST",
        headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
        body: action === "restore" ? "{}" : JSON.stringify({ action }),
      });
      const body = await res.json();
      if (action !== "restore") {
        requested.set(id, { text: action === "crash" ? "crashing…" : "pausing…", until: Date.now() + 5000 });
        timeline.requested(id, action, sentAt);
        renderTimeline();
      }
      const said = { crashing: "crashing: its process exits now", paused: "paused: it refuses work and gives up leadership", serving: "restored: serving again" };
      say(`${id} ${said[body.status] || body.status || "done"}.`, "ok");
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) sessionStorage.removeItem(TOKEN_KEY);
      say(`${id}: ${err.message}`, "error");
    }
    if (last) render(last);
  }

  // say shows what an action did, for a while: the cards and the
  // timeline say what happened since, and an old line would contradict
  // them (a crash reported long after the node came back).
  let sayTimer = 0;
  function say(text, kind) {
    const out = $("cluster-status");
    setStatus(out, text, kind);
    clearTimeout(sayTimer);
    if (kind !== "busy") sayTimer = setTimeout(() => setStatus(out, "", ""), kind === "error" ? 15000 : 8000);
  }

  function askToken(purpose) {
    const dialog = $("token-dialog");
    const input = $("admin-token");
    $("token-for").textContent = purpose;
    input.value = "";
    return new Promise((resolve) => {
      const done = (token) => {
        dialog.removeEventListener("close", onClose);
        $("token-cancel").removeEventListener("click", onCancel);
        if (dialog.open) dialog.close();
        if (token) sessionStorage.setItem(TOKEN_KEY, token);
        resolve(token || null);
      };
      const onClose = () => done(dialog.returnValue === "ok" ? input.value.trim() : null);
      const onCancel = () => done(null);
      dialog.addEventListener("close", onClose);
      $("token-cancel").addEventListener("click", onCancel);
      dialog.returnValue = "";
      dialog.showModal();
      input.focus();
    });
  }

  // ── timeline ──────────────────────────────────────────────
  const colour = (id) => `c-n${nodeColour(id)}`;
  const clock = (t) => new Date(t).toLocaleTimeString([], { hour12: false });

  function renderTimeline() {
    const items = timeline.entries.slice().reverse().map((e) => {
      const li = el("li", { class: `t-${e.kind}` },
        el("time", { datetime: new Date(e.at).toISOString(), text: clock(e.at) }),
        el("span", {}, el("span", { class: `swatch ${colour(e.node)}`, "aria-hidden": "true" }), e.text));
      if (e.kind === "failover") {
        li.append(el("span", { class: "took", text: `${e.exact ? "" : "≤ "}${Math.round(e.tookMs)} ms`, title: e.exact ? "from leader seen down to new leader" : "upper bound: the old leader was never seen down" }));
      }
      return li;
    });
    $("timeline").replaceChildren(...items);
    renderBand();
  }

  function renderBand() {
    const svg = $("timeline-band");
    const w = svg.clientWidth || 600;
    const h = 44;
    svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
    const now = Date.now();
    const start = timeline.startedAt ?? now;
    const span = Math.max(now - start, 30000);
    const x = (t) => ((t - (now - span)) / span) * w;
    const NS = "http://www.w3.org/2000/svg";
    const shapes = [];
    const rect = (x0, width, cls) => {
      const r = document.createElementNS(NS, "rect");
      r.setAttribute("x", x0.toFixed(1)); r.setAttribute("y", "6");
      r.setAttribute("width", Math.max(0, width).toFixed(1)); r.setAttribute("height", "24");
      r.setAttribute("class", cls);
      return r;
    };
    // Before this page watched: neutral; watched without a leader: red.
    shapes.push(rect(0, w, "band-none"));
    shapes.push(rect(Math.max(0, x(start)), w - Math.max(0, x(start)), "band-gap"));
    for (const s of timeline.segments) {
      const x0 = Math.max(0, x(s.from));
      const x1 = x(s.to ?? now);
      if (x1 <= x0) continue;
      const r = rect(x0, x1 - x0, `band-seg ${colour(s.node)}`);
      const title = document.createElementNS(NS, "title");
      title.textContent = `${s.node} led from ${clock(s.from)}${s.to ? ` to ${clock(s.to)}` : ""}`;
      r.append(title);
      shapes.push(r);
      if (x1 - x0 > 90) {
        const t = document.createElementNS(NS, "text");
        t.setAttribute("x", (x0 + 8).toFixed(1)); t.setAttribute("y", "22"); t.setAttribute("class", "band-label");
        t.textContent = s.node;
        shapes.push(t);
      }
    }
    const axis = document.createElementNS(NS, "text");
    axis.setAttribute("x", "0"); axis.setAttribute("y", "42"); axis.setAttribute("class", "band-axis");
    axis.textContent = `last ${Math.round(span / 1000)} s`;
    shapes.push(axis);
    svg.replaceChildren(...shapes);
  }

  $("timeline-clear").addEventListener("click", () => {
    timeline.clear();
    if (last) timeline.observe(last, Date.now());
    renderTimeline();
  });
  setInterval(renderBand, 1000);
  // The band is sized to its box, which has no width while the tab is
  // hidden: draw it again when the tab is shown (main.js fires resize).
  window.addEventListener("resize", renderBand);
  connect();
}
