// The Hide tab: secret + optional cover → stego PNG, with capacity,
// stealth advice, a side-by-side and difference view, and the analysis.

import { formatBytes, fromBase64, postJSON, request } from "./api.js";
import { compare, draw, pixels } from "./imagediff.js";
import { strength } from "./password.js";
import { psnrText, renderVerdict } from "./verdict.js";
import { $, dropzone, el, onSubmit, setDownload, setImage } from "./ui.js";

/** stem drops a file name's last extension: "photo.jpg" → "photo". */
export function stem(name) {
  const base = (name || "").split(/[\\/]/).pop();
  const dot = base.lastIndexOf(".");
  return (dot > 0 ? base.slice(0, dot) : base) || "secret";
}

/**
 * stegoName is the download name: "<original-name>.stego.png", named
 * after the cover when the user gave one (the result is that photo), else
 * after the secret.
 */
export function stegoName(coverFile, secretFile) {
  return `${stem(coverFile ? coverFile.name : secretFile.name)}.stego.png`;
}

export function initHide() {
  // capKey names what capInfo answers for (cover, depth, mode, the
  // secret's name and type); coverGen tells one chosen cover from the next.
  const state = { secretFile: null, coverFile: null, coverGen: 0, capSeq: 0, capInfo: null, capKey: "", defaultCover: null };
  const status = $("hide-status");

  const secretZone = dropzone($("hide-file-drop"), $("hide-file"), $("hide-file-name"), (f) => {
    state.secretFile = f;
    refreshCapacity();
  });
  const coverZone = dropzone($("hide-cover-drop"), $("hide-cover"), $("hide-cover-name"), (f) => {
    state.coverFile = f;
    state.coverGen++;
    $("hide-cover-clear").hidden = !f;
    refreshCapacity();
  });
  $("hide-cover-clear").addEventListener("click", () => coverZone.clear());
  void secretZone;

  for (const r of document.querySelectorAll("input[name=secret-kind]")) {
    r.addEventListener("change", () => {
      const text = kind() === "text";
      $("secret-file-box").hidden = text;
      $("secret-text-box").hidden = !text;
      refreshCapacity();
    });
  }
  const kind = () => document.querySelector("input[name=secret-kind]:checked").value;

  let textTimer = 0;
  $("hide-text").addEventListener("input", () => {
    clearTimeout(textTimer);
    textTimer = setTimeout(refreshCapacity, 200);
  });
  $("hide-depth").addEventListener("change", () => refreshCapacity());
  $("hide-mode").addEventListener("change", () => {
    // Adaptive mode embeds at depth 1 only (the server refuses more).
    const adaptive = $("hide-mode").value === "adaptive";
    for (const o of $("hide-depth").options) o.disabled = adaptive && o.value !== "1";
    if (adaptive) $("hide-depth").value = "1";
    refreshCapacity();
  });
  $("hide-password").addEventListener("input", () => {
    const s = strength($("hide-password").value);
    const bar = $("pw-meter");
    bar.style.width = `${Math.round(s.score * 100)}%`;
    bar.className = s.level;
    $("pw-hint").textContent = s.text;
  });

  /** The secret to hide as a File, or null. */
  function secret() {
    if (kind() === "text") {
      const text = $("hide-text").value;
      return text ? new File([text], "message.txt", { type: "text/plain" }) : null;
    }
    return state.secretFile;
  }

  /**
   * refreshCapacity asks the cluster how much the cover holds at the
   * chosen depth and mode for the chosen secret's name and type (again
   * only when cover, depth, mode or those changed: embed stores the name and type beside
   * the data, and they cost their length) and shows how full the secret
   * makes it and what that means for detection. Only the latest call's
   * answer is kept: an earlier one, answered late, is for another cover
   * or depth.
   */
  async function refreshCapacity() {
    const seq = ++state.capSeq;
    const depth = $("hide-depth").value;
    const mode = $("hide-mode").value;
    const file = secret();
    const key = [state.coverGen, depth, mode, file ? file.name : "", file ? file.type : ""].join("\u0000");
    if (!state.capInfo || key !== state.capKey) {
      $("cap-figure").textContent = "…";
      try {
        // The same name and type the browser sends with the file to embed.
        const meta = file ? { name: file.name, mime: file.type } : {};
        const info = await postJSON("/api/capacity", { cover: state.coverFile, depth, mode, ...meta });
        if (seq !== state.capSeq) return;
        state.capInfo = info;
        state.capKey = key;
      } catch (err) {
        if (seq !== state.capSeq) return;
        state.capInfo = null;
        $("cap-figure").textContent = "—";
        $("cap-fill").textContent = err.message;
        $("cap-advice").textContent = "";
        return;
      }
    }
    if (seq !== state.capSeq) return;
    showCapacity(state.capInfo, file);
  }

  function showCapacity(info, file) {
    const cover = state.coverFile ? "your cover" : "the built-in cover";
    $("cap-figure").textContent = `${formatBytes(info.capacity_bytes)} fit`;
    const bar = $("cap-bar");
    const advice = $("cap-advice");
    // The stealthy figure is the server's: where its detector's measured
    // error stays at 40% or more for this cover (docs/stealth.md), or
    // why there is none (a JPEG or the public built-in cover).
    const st = info.stealth || {};
    const stealthy = st.stealthy_bytes;
    if (!file) {
      bar.style.width = "0";
      $("cap-fill").textContent = `${cover}: ${info.width}×${info.height}, ${info.channels} channels, depth ${info.lsb_per_channel}. Pick a secret to see how full it gets.`;
      advice.textContent = st.advice || "";
      advice.className = stealthy == null ? "advice warn" : "advice";
      return;
    }
    const fill = file.size / Math.max(info.capacity_bytes, 1);
    const bpc = (file.size * 8) / (info.width * info.height * info.channels);
    const within = stealthy != null && file.size <= stealthy;
    bar.style.width = `${Math.min(100, fill * 100).toFixed(1)}%`;
    bar.className = fill > 1 ? "full" : within ? "" : "fair";
    $("cap-fill").textContent = `${file.name}: ${formatBytes(file.size)}, ${(fill * 100).toFixed(fill < 0.1 ? 2 : 1)}% of ${cover} (${info.width}×${info.height}, depth ${info.lsb_per_channel}).`;
    if (fill > 1) {
      advice.textContent = `Does not fit unless it compresses well: ${formatBytes(file.size - info.capacity_bytes)} over. Use a bigger cover or a higher depth.`;
      advice.className = "advice bad";
    } else if (stealthy == null) {
      advice.textContent = `Detectable: ${st.no_stealthy_reason || "no payload has been measured as stealthy here"}.`;
      advice.className = "advice warn";
    } else if (!within) {
      advice.textContent = `About ${bpc.toFixed(2)} bits per channel: over the ${formatBytes(stealthy)} that stay stealthy in ${cover}, so detectable by a modern detector unless it compresses (the result states how detectable). A bigger cover hides it better.`;
      advice.className = "advice warn";
    } else {
      advice.textContent = `Stealthy: within the ${formatBytes(stealthy)} at which our detector still errs on 40% or more of images.`;
      advice.className = "advice";
    }
  }

  async function coverBlob(coverFile) {
    if (coverFile) return coverFile;
    if (!state.defaultCover) {
      const res = await request("/web/default-cover.png");
      state.defaultCover = await res.blob();
    }
    return state.defaultCover;
  }

  onSubmit($("hide-form"), {
    button: $("hide-go"),
    result: $("hide-result"),
    status,
    busy: "Hiding…",
    missing: () => (secret() ? "" : kind() === "text" ? "Type a message to hide." : "Choose a file to hide."),
    work: async () => {
      $("hide-verdict").className = "verdict";
      $("hide-verdict").replaceChildren();
      const file = secret();
      // The cover as sent: the user may choose another while this runs.
      const coverFile = state.coverFile;
      const resp = await postJSON("/api/embed", {
        file, cover: coverFile, password: $("hide-password").value, depth: $("hide-depth").value,
        mode: $("hide-mode").value,
      });
      const stego = new Blob([fromBase64(resp.stego_image_b64)], { type: "image/png" });
      await showResult(resp, stego, file, coverFile);
      return `Hidden by ${resp.node_id}. Download the image below.`;
    },
  });

  async function showResult(resp, stego, file, coverFile) {
    $("hide-result").hidden = false;
    setDownload($("hide-download"), stego, stegoName(coverFile, file));
    const cover = await coverBlob(coverFile);
    await Promise.all([setImage($("cmp-cover"), cover), setImage($("cmp-stego"), stego)]);

    const stats = $("hide-stats");
    const fact = (k, v) => el("div", {}, el("dt", { text: k }), el("dd", { text: v }));
    const info = resp.cover_info;
    stats.replaceChildren(
      fact("Secret", formatBytes(resp.secret_size_bytes)),
      fact("Payload (sealed)", `${formatBytes(resp.payload_size_bytes)}${resp.compressed ? ", compressed" : ""}`),
      fact("Capacity used", `${((resp.payload_size_bytes / Math.max(info.capacity_bytes, 1)) * 100).toFixed(2)}%`),
      fact("Bits per channel", resp.bits_per_channel.toFixed(4)),
      fact("Samples changed", resp.changed_samples.toLocaleString()),
      fact("Hidden by", resp.node_id),
    );
    const psnrFact = fact("PSNR", "…");
    stats.append(psnrFact);

    const caption = $("cmp-diff-caption");
    // A browser decodes a JPEG (or a lossy WebP) a little differently
    // from the server (the JPEG standard leaves the inverse DCT's
    // rounding open), so comparing its decoding with our PNG would light
    // nearly every pixel. The server's PSNR (from the analysis below)
    // compares its own decodings.
    const lossyCover = /jpe?g|webp/i.test(cover.type || "");
    $("cmp-diff").hidden = lossyCover;
    if (lossyCover) {
      caption.textContent = "No difference picture for a JPEG or WebP cover: your browser decodes it a little differently from the server, so nearly every pixel would look changed. Samples changed and PSNR are the server's, and exact.";
    }
    try {
      if (lossyCover) throw new Error("lossy cover");
      const [a, b] = await Promise.all([pixels(cover), pixels(stego)]);
      const d = compare(a, b);
      draw($("cmp-diff"), d);
      caption.textContent = d.changed === 0
        ? "Difference: no change visible at 8 bits per sample."
        : `Difference, amplified: every changed pixel lit (magenta ±1, yellow more); ${d.changedPixels.toLocaleString()} of ${(d.width * d.height).toLocaleString()} pixels.`;
      psnrFact.lastChild.textContent = d.psnr === Infinity ? "∞ (identical)" : `${d.psnr.toFixed(1)} dB`;
    } catch (err) {
      if (!lossyCover) {
        caption.textContent = `No difference view: this browser cannot compare the images (${err.message}).`;
        psnrFact.lastChild.textContent = "—";
      }
    }

    const notes = [...(resp.notes || [])];
    if (resp.stealth && resp.stealth.advice) notes.unshift(resp.stealth.advice);
    $("hide-notes").replaceChildren(...notes.map((n) => el("li", { text: n })));
    await showVerdict(stego, cover, psnrFact, resp.stealth || {});
  }

  /** showVerdict runs the analysis on the result (see renderVerdict for stealth). */
  async function showVerdict(stego, cover, psnrFact, stealth) {
    const box = $("hide-verdict");
    box.className = "verdict";
    box.replaceChildren(el("strong", { text: "Analysing…" }));
    try {
      const r = await postJSON("/api/analyze", {
        file: new File([stego], "stego.png", { type: "image/png" }),
        cover: new File([cover], cover.name || "cover.png", { type: cover.type || "image/png" }),
      });
      if (r.distortion) psnrFact.lastChild.textContent = psnrText(r.distortion);
      renderVerdict(box, r, stealth);
    } catch (err) {
      if (psnrFact.lastChild.textContent === "…") psnrFact.lastChild.textContent = "—";
      box.className = "verdict suspicious";
      box.replaceChildren(el("strong", { text: "No analysis: " }), document.createTextNode(err.message));
    }
  }

  refreshCapacity();
}
