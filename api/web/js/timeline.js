// The election timeline: who led when, and how long each failover took,
// measured in this browser from the statuses it receives.

/**
 * nodeHealth classifies a node of a status event: "down" when the
 * serving node's probe could not reach it or its registry entry is gone,
 * "paused" when fault injection paused it, else "healthy".
 */
export function nodeHealth(node, probes) {
  const probe = probes && probes[node.id];
  if (probe && !probe.reachable) return "down";
  if (node.paused || (probe && probe.status === 503)) return "paused";
  if (!node.healthy) return "down";
  return "healthy";
}

/** How long statuses may still show a leader fine after this page crashed or paused it. */
const REQUEST_GRACE_MS = 3000;

/**
 * Timeline follows leadership. A failover's duration runs from when the
 * leader was first seen down (or a crash/pause of it was requested from
 * this page) to the first status naming another leader; when the old
 * leader was never seen down, it runs from the last status that showed it
 * fine, and is marked as an upper bound.
 */
export class Timeline {
  constructor(limit = 200) {
    this.limit = limit;
    this.clear();
  }

  clear() {
    this.entries = [];
    this.segments = []; // {node, from, to|null}: who led when
    this.leader = null;
    this.epoch = 0;
    this.downAt = null;
    this.downRequested = false; // downAt comes from a request, not a status
    this.lastGoodAt = null;
    this.health = new Map();
    this.announced = null; // {node, health, until}: a fault this page already reported
    this.startedAt = null;
  }

  push(entry) {
    this.entries.push(entry);
    if (this.entries.length > this.limit) this.entries.shift();
  }

  endSegment(at) {
    const s = this.segments[this.segments.length - 1];
    if (s && s.to === null) s.to = at;
  }

  /**
   * requested notes a crash or pause of node id that this page sent at
   * `at` and the node accepted. The new leader may already be known (a
   * paused leader resigns before its answer arrives here): that failover
   * is then timed from `at`.
   */
  requested(id, action, at) {
    const done = this.entries.findLast((e) => e.kind === "failover" && e.from === id && e.at >= at);
    if (done) {
      done.tookMs = done.at - at;
      done.exact = true;
      return;
    }
    if (id === this.leader && this.downAt === null) {
      this.downAt = at;
      this.downRequested = true;
      this.endSegment(at);
      this.push({ kind: "down", at, node: id, text: `${id} (leader) ${action === "crash" ? "crashed" : "paused"} from this page` });
      // Statuses will show the same fault once another node leads (the
      // old leader's entry may lag the new leader's state): told already.
      this.announced = { node: id, health: action === "crash" ? "down" : "paused", until: at + REQUEST_GRACE_MS };
    }
  }

  /** observe takes one status at time `now` (ms); returns true if entries changed. */
  observe(status, now) {
    const before = this.entries.length;
    if (this.startedAt === null) this.startedAt = now;
    const probes = status.probes || {};
    for (const n of status.nodes || []) {
      const h = nodeHealth(n, probes);
      const prev = this.health.get(n.id);
      const told = this.announced && this.announced.node === n.id && this.announced.health === h && now <= this.announced.until;
      if (told && h !== prev) this.announced = null;
      if (prev !== undefined && prev !== h && n.id !== this.leader && !told) {
        this.push({ kind: h === "healthy" ? "back" : "node", at: now, node: n.id, text: h === "healthy" ? `${n.id} is healthy again` : `${n.id} is ${h}` });
      }
      this.health.set(n.id, h);
    }

    const id = status.leader_id || null;
    if (this.leader === null) {
      if (id) {
        this.leader = id;
        this.epoch = status.epoch;
        this.lastGoodAt = now;
        this.segments.push({ node: id, from: now, to: null });
        this.push({ kind: "lead", at: now, node: id, text: `${id} leads (epoch ${status.epoch})` });
      }
      return this.entries.length !== before;
    }

    if (!id || (id === this.leader && status.epoch === this.epoch)) {
      const node = (status.nodes || []).find((n) => n.id === this.leader);
      const down = !id || !node || nodeHealth(node, probes) !== "healthy";
      if (down && this.downAt === null) {
        this.downAt = now;
        this.endSegment(now);
        const what = !node ? "is gone" : !id ? "no longer leads" : `is ${nodeHealth(node, probes)}`;
        this.push({ kind: "down", at: now, node: this.leader, text: `${this.leader} (leader) ${what}` });
      } else if (!down && this.downRequested && now - this.downAt < REQUEST_GRACE_MS) {
        // Statuses sent before the request took effect: still going down.
      } else if (!down) {
        if (this.downAt !== null) {
          this.segments.push({ node: this.leader, from: now, to: null });
          this.push({ kind: "back", at: now, node: this.leader, text: `${this.leader} is back and still leads` });
        }
        this.downAt = null;
        this.downRequested = false;
        this.lastGoodAt = now;
      }
      // What the node is, not what the leader branch concluded: a paused
      // leader recorded as "down" would be reported "paused" by the loop
      // above once another node leads, a second entry for one pause.
      if (node) this.health.set(this.leader, nodeHealth(node, probes));
      else this.health.set(this.leader, "down");
      return this.entries.length !== before;
    }

    const exact = this.downAt !== null;
    const from = exact ? this.downAt : (this.lastGoodAt ?? now);
    const took = Math.max(0, now - from);
    this.endSegment(from);
    this.segments.push({ node: id, from: now, to: null });
    this.push({
      kind: "failover", at: now, node: id, from: this.leader, tookMs: took, exact,
      text: id === this.leader ? `${id} leads again (epoch ${status.epoch})` : `${id} leads (epoch ${status.epoch}), after ${this.leader}`,
    });
    this.leader = id;
    this.epoch = status.epoch;
    this.downAt = null;
    this.downRequested = false;
    this.lastGoodAt = now;
    return true;
  }
}
