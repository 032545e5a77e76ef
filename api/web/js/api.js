// Calls to the stegocluster API (same origin) and error messages in words.

/** An API failure, with a message meant for people. */
export class ApiError extends Error {
  constructor(message, { status = 0, code = "", body = null } = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

/** Human size: 1536 → "1.5 KB". */
export function formatBytes(n) {
  if (!Number.isFinite(n)) return "—";
  if (n < 1024) return `${n} B`;
  const units = ["KB", "MB", "GB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/**
 * describe turns an error response (status and its JSON body
 * {"error","code",…}) into one sentence.
 */
export function describe(status, body) {
  const msg = body && typeof body.error === "string" ? body.error : "";
  const code = body && body.code ? body.code : "";
  switch (true) {
    case status === 422 && code === "corrupt_hidden_data":
      return "The hidden data was found but is damaged: the image was changed after the secret was hidden (resized, re-saved, edited).";
    case status === 422:
      return "Wrong password or nothing hidden in this image.";
    case status === 413 && body && body.needed_bytes !== undefined:
      return `The secret does not fit: it needs ${formatBytes(body.needed_bytes)} but the cover holds ${formatBytes(body.available_bytes)}. Use a bigger cover or a higher depth.`;
    case status === 413:
      return `Too large: ${msg || "the upload is over the limit"}.`;
    case status === 415:
      return "That file is not an image stegocluster can read (PNG, JPEG, GIF, BMP, TIFF or WebP).";
    case status === 401:
      return "The admin token is missing or wrong.";
    case status === 404:
      return `Not found: ${msg || "no such endpoint"}.`;
    case status === 400:
      return `The request was not accepted: ${msg || "malformed"}.`;
    case status === 502 || status === 504:
      return msg ? `${msg}.` : "The cluster could not reach a node in time.";
    case status === 503 && code === "paused":
      return "The node that answered is paused by fault injection; try again.";
    case status === 503 && code === "busy":
      return "The cluster is busy right now; try again in a moment.";
    case status === 503 && code === "draining":
      return "The node that answered is shutting down; try again.";
    case status === 503:
      return `The cluster cannot serve this right now${msg ? `: ${msg}` : ""}.`;
    case status >= 500:
      return `The server failed (${status})${msg ? `: ${msg}` : ""}.`;
    default:
      return msg ? `${msg} (${status}).` : `Unexpected answer ${status}.`;
  }
}

/**
 * request does a fetch and returns the Response when it is 2xx. Any
 * failure becomes an ApiError with words: the server's JSON error, or the
 * network failure. An AbortError is passed through unchanged so callers
 * can tell a stop from a failure.
 */
export async function request(path, init = {}) {
  let res;
  try {
    res = await fetch(path, init);
  } catch (err) {
    if (err && err.name === "AbortError") throw err;
    throw new ApiError("Could not reach the server. Is the cluster up?", { code: "network" });
  }
  if (res.ok) return res;
  let body = null;
  try {
    body = await res.json();
  } catch {
    body = null;
  }
  throw new ApiError(describe(res.status, body), { status: res.status, code: body && body.code, body });
}

/** postForm POSTs multipart fields (File/Blob values become file parts). */
export function postForm(path, fields, init = {}) {
  const fd = new FormData();
  for (const [name, value] of Object.entries(fields)) {
    if (value === undefined || value === null || value === "") continue;
    if (value instanceof Blob) {
      fd.append(name, value, value.name || `${name}.bin`);
    } else {
      fd.append(name, String(value));
    }
  }
  return request(path, { method: "POST", body: fd, ...init });
}

/** postJSON POSTs JSON and parses the JSON answer. */
export async function postJSON(path, fields, init = {}) {
  const res = await postForm(path, fields, init);
  return res.json();
}

/** base64 → Uint8Array. */
export function fromBase64(b64) {
  if (typeof Uint8Array.fromBase64 === "function") return Uint8Array.fromBase64(b64);
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
