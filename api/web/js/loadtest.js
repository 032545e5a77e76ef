// The Load test tab: N clients hide and/or reveal through this origin
// (nginx, when the page came through it) until a request count or a
// duration is reached or Stop is pressed; live throughput, latency and
// per-node charts. Stop aborts every request in flight at once.

import { describe, postForm } from "./api.js";
import { barChart, lineChart } from "./chart.js";
import { $, el, nodeColour, setStatus } from "./ui.js";

/** quantile of a sorted array (nearest rank). */
export function quantile(sorted, q) {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

function randomFile(size) {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i += 65536) crypto.getRandomValues(bytes.subarray(i, Math.min(size, i + 65536)));
  return new File([bytes], "load.bin", { type: "application/octet-stream" });
}

export function initLoadTest() {
  let run = null; // the test running, if any
  let shown = null; // the test whose figures are on screen
  const status = $("load-status");

  for (const r of document.querySelectorAll("input[name=load-limit]")) {
    r.addEventListener("change", () => {
      const byTime = limitKind() === "duration";
      $("load-amount-label").textContent = byTime ? "Seconds" : "Requests";
      $("load-amount").value = byTime ? 20 : 200;
    });
  }
  const limitKind = () => document.querySelector("input[name=load-limit]:checked").value;

  function readForm() {
    const int = (id, lo, hi, what) => {
      const v = Number($(id).value);
      if (!Number.isInteger(v) || v < lo || v > hi) throw new Error(`${what} must be a whole number from ${lo} to ${hi}.`);
      return v;
    };
    return {
      clients: int("load-clients", 1, 64, "Clients"),
      limit: limitKind(),
      amount: int("load-amount", 1, 100000, limitKind() === "duration" ? "Seconds" : "Requests"),
      op: $("load-op").value,
      size: int("load-size", 1, 200000, "Secret size"),
    };
  }

  $("load-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    if (run) return;
    let cfg;
    try {
      cfg = readForm();
    } catch (err) {
      setStatus(status, err.message, "error");
      return;
    }
    start(cfg);
  });
  $("load-stop").addEventListener("click", () => {
    if (run) run.stop("Stopped.");
  });

  async function start(cfg) {
    const controller = new AbortController();
    const r = {
      cfg, controller, t0: 0, issued: 0, ok: 0, errors: 0, latencies: [], buckets: [], nodes: new Map(),
      errorCounts: new Map(), stopped: false, note: "",
      stop(note) {
        if (this.stopped) return;
        this.stopped = true;
        this.note = note;
        controller.abort();
      },
    };
    run = r;
    shown = r;
    $("load-start").disabled = true;
    $("load-stop").disabled = false;
    $("load-errors-card").hidden = true;
    setStatus(status, "Preparing…", "busy");
    const secret = randomFile(cfg.size);
    let stego = null;
    try {
      if (cfg.op !== "hide") {
        const res = await postForm("/api/embed?format=png", { file: secret }, { signal: controller.signal, headers: { Accept: "image/png" } });
        stego = new File([await res.blob()], "load.png", { type: "image/png" });
      }
    } catch (err) {
      finish(r, err.name === "AbortError" ? "Stopped." : `Could not prepare: ${err.message}`);
      return;
    }
    r.t0 = performance.now();
    const deadline = cfg.limit === "duration" ? r.t0 + cfg.amount * 1000 : Infinity;
    setStatus(status, `Running ${cfg.clients} client${cfg.clients > 1 ? "s" : ""}…`, "busy");
    const ticker = setInterval(() => update(r), 500);
    const clients = Array.from({ length: cfg.clients }, (_, i) => client(r, i, secret, stego, deadline));
    await Promise.all(clients);
    clearInterval(ticker);
    finish(r, r.note || "Done.");
  }

  function more(r, deadline) {
    if (r.stopped) return false;
    if (r.cfg.limit === "requests") return r.issued < r.cfg.amount;
    return performance.now() < deadline;
  }

  async function client(r, i, secret, stego, deadline) {
    let k = i;
    while (more(r, deadline)) {
      r.issued++;
      const op = r.cfg.op === "mixed" ? (k++ % 2 ? "reveal" : "hide") : r.cfg.op;
      const fd = new FormData();
      fd.append("file", op === "hide" ? secret : stego, op === "hide" ? secret.name : stego.name);
      const url = op === "hide" ? "/api/embed?format=png" : "/api/extract?format=raw";
      const start = performance.now();
      try {
        const res = await fetch(url, { method: "POST", body: fd, signal: r.controller.signal });
        const node = res.headers.get("X-Node-ID") || "unknown";
        const body = await res.arrayBuffer();
        const end = performance.now();
        if (res.ok) {
          record(r, start, end, node, null);
        } else {
          let json = null;
          try {
            json = JSON.parse(new TextDecoder().decode(body));
          } catch {
            json = null;
          }
          record(r, start, end, node, describe(res.status, json));
        }
      } catch (err) {
        if (err.name === "AbortError" || r.stopped) return;
        record(r, start, performance.now(), "unknown", "Could not reach the server.");
      }
    }
  }

  function record(r, start, end, node, error) {
    const sec = Math.floor((end - r.t0) / 1000);
    while (r.buckets.length <= sec) r.buckets.push({ ok: 0, errors: 0, lat: [] });
    const b = r.buckets[sec];
    if (error) {
      r.errors++;
      b.errors++;
      r.errorCounts.set(error, (r.errorCounts.get(error) || 0) + 1);
      return;
    }
    r.ok++;
    b.ok++;
    b.lat.push(end - start);
    r.latencies.push(end - start);
    r.nodes.set(node, (r.nodes.get(node) || 0) + 1);
  }

  function finish(r, note) {
    if (r.t0) r.end = performance.now();
    update(r);
    run = null;
    $("load-start").disabled = false;
    $("load-stop").disabled = true;
    const kind = note.startsWith("Could not") ? "error" : "ok";
    setStatus(status, `${note} ${r.ok} requests answered, ${r.errors} failed.`, kind);
  }

  function update(r) {
    const elapsed = r.t0 ? ((r.end ?? performance.now()) - r.t0) / 1000 : 0;
    const sorted = r.latencies.slice().sort((a, b) => a - b);
    $("l-ok").textContent = r.ok.toLocaleString();
    $("l-err").textContent = r.errors.toLocaleString();
    $("l-rps").textContent = elapsed > 0 ? `${(r.ok / elapsed).toFixed(1)}/s` : "—";
    $("l-p50").textContent = sorted.length ? `${quantile(sorted, 0.5).toFixed(0)} ms` : "—";
    $("l-p95").textContent = sorted.length ? `${quantile(sorted, 0.95).toFixed(0)} ms` : "—";
    $("l-time").textContent = `${elapsed.toFixed(1)} s`;
    draw(r);
    if (r.errorCounts.size) {
      $("load-errors-card").hidden = false;
      const items = [...r.errorCounts].sort((a, b) => b[1] - a[1]).slice(0, 6).map(([msg, n]) => el("li", { text: `${n} × ${msg}` }));
      $("load-errors").replaceChildren(...items);
    }
  }

  /**
   * draw plots the seconds completed so far (a second still running
   * would show as a dip); a finished test's last, partial second is
   * scaled to a full one.
   */
  function draw(r) {
    let buckets = [];
    if (r && r.t0) {
      const elapsed = ((r.end ?? performance.now()) - r.t0) / 1000;
      const whole = Math.floor(elapsed);
      buckets = r.buckets.slice(0, whole);
      const last = r.buckets[whole];
      const frac = elapsed - whole;
      if (r.end && last && frac > 0.2) buckets.push({ ok: last.ok / frac, errors: last.errors, lat: last.lat });
    }
    const q = (b, p) => (b.lat.length ? quantile(b.lat.slice().sort((x, y) => x - y), p) : NaN);
    lineChart($("chart-rps"), [{ values: buckets.map((b) => b.ok), colour: "--accent" }]);
    lineChart($("chart-lat"), [
      { values: buckets.map((b) => q(b, 0.5)), colour: "--n2" },
      { values: buckets.map((b) => q(b, 0.95)), colour: "--n3" },
    ]);
    const ids = r ? [...r.nodes.keys()].sort() : [];
    barChart($("chart-nodes"), ids.map((id) => ({ label: id, value: Math.round(r.nodes.get(id)), colour: `--n${nodeColour(id)}` })));
  }

  // Charts are drawn on first view and on resize (a hidden canvas has no size).
  new ResizeObserver(() => draw(shown)).observe($("panel-load"));
}
