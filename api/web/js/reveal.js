// The Reveal tab: stego image (+ password) → the hidden file, shown
// inline when it is text or an image, always downloadable under its own
// name and type.

import { formatBytes, fromBase64, postJSON } from "./api.js";
import { $, dropzone, el, onSubmit, setDownload, setImage } from "./ui.js";

const TEXT_TYPES = /^(text\/|application\/(json|xml|javascript|x-sh|x-yaml|yaml|toml)\b)/;
const PREVIEW_IMAGE_TYPES = /^image\/(png|jpeg|gif|webp|bmp|avif|svg\+xml|x-icon|vnd\.microsoft\.icon)$/;
const MAX_INLINE_TEXT = 2 << 20;

/**
 * asText returns the bytes as text when they are meant to be read: a text
 * type, or an untyped file that is valid UTF-8 without control bytes.
 */
export function asText(bytes, mime) {
  if (bytes.length > MAX_INLINE_TEXT) return null;
  const typed = TEXT_TYPES.test(mime);
  if (!typed && mime !== "application/octet-stream" && mime !== "") return null;
  let text;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return null;
  }
  if (!typed && /[\u0000-\u0008\u000e-\u001f]/.test(text)) return null;
  return text;
}

export function initReveal() {
  let file = null;
  dropzone($("reveal-file-drop"), $("reveal-file"), $("reveal-file-name"), async (f) => {
    file = f;
    const thumb = $("reveal-preview");
    if (!f) {
      thumb.hidden = true;
      return;
    }
    thumb.hidden = !(await setImage(thumb, f));
  });

  onSubmit($("reveal-form"), {
    button: $("reveal-go"),
    result: $("reveal-result"),
    status: $("reveal-status"),
    busy: "Revealing…",
    missing: () => (file ? "" : "Choose the image that holds the secret."),
    work: async () => {
      const resp = await postJSON("/api/extract", { file, password: $("reveal-password").value });
      await show(resp);
      return `Revealed by ${resp.node_id}.`;
    },
  });

  async function show(resp) {
    const bytes = fromBase64(resp.recovered_b64);
    const mime = resp.recovered_mime || "application/octet-stream";
    const name = resp.recovered_filename || "secret.bin";
    // The stored type is the image writer's choice: text/html or SVG,
    // opened from the download link in a tab, would render in this
    // origin. The download is plain bytes; only the preview (an <img>,
    // which runs no script) gets the type.
    const blob = new Blob([bytes], { type: mime });
    $("reveal-name").textContent = name;
    $("reveal-meta").textContent = `${formatBytes(bytes.length)} · ${mime}`;
    const note = (extra) => { $("reveal-meta").textContent += extra; };
    setDownload($("reveal-download"), new Blob([bytes], { type: "application/octet-stream" }), name);
    // Such as: an image from before format version 3 whose password can
    // be guessed fast by someone with the cover.
    $("reveal-notes").replaceChildren(...(resp.notes || []).map((n) => el("li", { text: n })));

    const pre = $("reveal-text");
    const img = $("reveal-image");
    const text = asText(bytes, mime);
    pre.hidden = text === null;
    pre.textContent = text ?? "";
    img.hidden = true;
    if (text === null && PREVIEW_IMAGE_TYPES.test(mime)) {
      img.hidden = !(await setImage(img, blob));
    }
    if (text === null && img.hidden) note(" · no preview for this type: download it to open it");
    $("reveal-result").hidden = false;
  }
}
