// The Analyze tab: any image (and, if the user has it, its original) →
// the same analysis the Hide tab runs on its results (POST /api/analyze).

import { postJSON } from "./api.js";
import { psnrText, renderVerdict } from "./verdict.js";
import { $, dropzone, el, onSubmit } from "./ui.js";

export function initAnalyze() {
  const state = { file: null, cover: null };
  dropzone($("analyze-file-drop"), $("analyze-file"), $("analyze-file-name"), (f) => {
    state.file = f;
  });
  dropzone($("analyze-cover-drop"), $("analyze-cover"), $("analyze-cover-name"), (f) => {
    state.cover = f;
  });

  onSubmit($("analyze-form"), {
    button: $("analyze-go"),
    result: $("analyze-result"),
    status: $("analyze-status"),
    busy: "Analysing…",
    missing: () => (state.file ? "" : "Choose the image to analyse."),
    work: async () => {
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
      return "";
    },
  });
}
