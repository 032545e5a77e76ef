// The Analyze tab: any image (and, if the user has it, its original) →
// the same analysis the Hide tab runs on its results (POST /api/analyze).

import { ApiError, postJSON } from "./api.js";
import { psnrText, renderVerdict } from "./verdict.js";
import { $, dropzone, el, setStatus } from "./ui.js";

export function initAnalyze() {
  const state = { file: null, cover: null };
  const status = $("analyze-status");
  dropzone($("analyze-file-drop"), $("analyze-file"), $("analyze-file-name"), (f) => {
    state.file = f;
  });
  dropzone($("analyze-cover-drop"), $("analyze-cover"), $("analyze-cover-name"), (f) => {
    state.cover = f;
  });

  $("analyze-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!state.file) {
      setStatus(status, "Choose the image to analyse.", "error");
      return;
    }
    const go = $("analyze-go");
    go.disabled = true;
    $("analyze-result").hidden = true;
    setStatus(status, "Analysing…", "busy");
    try {
      const r = await postJSON("/api/analyze", {
        file: state.file, cover: state.cover, rich_model: $("analyze-rich").checked ? "true" : "false",
      });
      const fact = (k, v) => el("div", {}, el("dt", { text: k }), el("dd", { text: v }));
      const facts = [fact("Image", `${r.width}×${r.height}, ${r.channels === 1 ? "gray" : "colour"}, ${r.bit_depth}-bit`)];
      if (r.distortion) {
        facts.push(fact("PSNR", psnrText(r.distortion)), fact("Samples changed", r.distortion.changed_samples.toLocaleString()));
      }
      $("analyze-stats").replaceChildren(...facts);
      renderVerdict($("analyze-verdict"), r);
      $("analyze-result").hidden = false;
      setStatus(status, "", "");
    } catch (err) {
      setStatus(status, err instanceof ApiError ? err.message : `Something went wrong: ${err.message}`, "error");
    } finally {
      go.disabled = false;
    }
  });
}
