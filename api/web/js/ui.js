// Small DOM helpers shared by the tabs.

import { ApiError } from "./api.js";

export const $ = (id) => document.getElementById(id);

/** el("li", {class: "x", text: "y"}, child…) builds an element. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "text") node.textContent = v;
    else if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

/** setStatus writes a status line: kind is "", "busy", "ok" or "error". */
export function setStatus(node, text, kind = "") {
  node.textContent = text;
  node.className = `status ${kind}`.trim();
}

/**
 * onSubmit runs a tab's request when its form is submitted. missing()
 * names what the user has yet to give, if anything; then, while work()
 * runs, the button is disabled, the previous result hidden (should this
 * request fail, an earlier result must not pass for its answer) and
 * status says busy. work() returns the status line for success; an error
 * it throws is shown instead.
 */
export function onSubmit(form, { button, result, status, busy, missing, work }) {
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const lacking = missing();
    if (lacking) {
      setStatus(status, lacking, "error");
      return;
    }
    button.disabled = true;
    result.hidden = true;
    setStatus(status, busy, "busy");
    try {
      const done = await work();
      setStatus(status, done, done ? "ok" : "");
    } catch (err) {
      setStatus(status, err instanceof ApiError ? err.message : `Something went wrong: ${err.message}`, "error");
    } finally {
      button.disabled = false;
    }
  });
}

/**
 * dropzone wires a <label class="drop"> holding a file input: drag and
 * drop, and the chosen file's name shown in hintNode. onFile(file|null)
 * runs on every change.
 */
export function dropzone(label, input, hintNode, onFile) {
  const defaultHint = hintNode.textContent;
  const show = (file) => {
    label.classList.toggle("has-file", !!file);
    hintNode.textContent = file ? `${file.name} · ${formatSize(file.size)}` : defaultHint;
    onFile(file || null);
  };
  input.addEventListener("change", () => show(input.files[0]));
  label.addEventListener("dragover", (e) => {
    e.preventDefault();
    label.classList.add("over");
  });
  label.addEventListener("dragleave", () => label.classList.remove("over"));
  label.addEventListener("drop", (e) => {
    e.preventDefault();
    label.classList.remove("over");
    const f = e.dataTransfer && e.dataTransfer.files[0];
    if (!f) return;
    const dt = new DataTransfer();
    dt.items.add(f);
    input.files = dt.files;
    show(f);
  });
  return {
    clear() {
      input.value = "";
      show(null);
    },
  };
}

function formatSize(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1 << 20) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / (1 << 20)).toFixed(1)} MB`;
}

/** Password fields get a Show/Hide toggle button. */
export function wirePasswordToggles() {
  for (const btn of document.querySelectorAll("[data-toggle-pw]")) {
    const input = document.getElementById(btn.dataset.togglePw);
    btn.addEventListener("click", () => {
      const show = input.type === "password";
      input.type = show ? "text" : "password";
      btn.textContent = show ? "Hide" : "Show";
      btn.setAttribute("aria-pressed", String(show));
    });
  }
}

/** A download link for bytes, replacing the link's previous blob URL. */
export function setDownload(link, blob, filename) {
  if (link.dataset.url) URL.revokeObjectURL(link.dataset.url);
  const url = URL.createObjectURL(blob);
  link.href = url;
  link.dataset.url = url;
  link.download = filename;
  link.textContent = `Download ${filename}`;
}

/** Sets an <img> to a blob, revoking the previous blob URL. */
export function setImage(img, blob) {
  if (img.dataset.url) URL.revokeObjectURL(img.dataset.url);
  const url = URL.createObjectURL(blob);
  const loaded = new Promise((resolve) => {
    img.onload = () => resolve(true);
    img.onerror = () => resolve(false);
  });
  img.src = url;
  img.dataset.url = url;
  return loaded;
}

// Node colours: each node id keeps one of three colours everywhere on the
// page (cards, timeline, load test bars), by its place among the ids seen.
const nodeIDs = new Set();

/** rememberNodes records the cluster's node ids. */
export function rememberNodes(ids) {
  for (const id of ids) nodeIDs.add(id);
}

/** nodeColour is 1, 2 or 3 for a node id. */
export function nodeColour(id) {
  nodeIDs.add(id);
  const i = [...nodeIDs].sort().indexOf(id);
  return (i % 3) + 1;
}
