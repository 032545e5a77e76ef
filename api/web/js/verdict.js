// The analysis verdict (POST /api/analyze's answer) as the Hide and
// Analyze tabs show it: a headline, the classic detectors' figures and
// the rich model's score with its false-alarm rate.

import { el } from "./ui.js";

/**
 * renderVerdict fills box with the verdict on analysis r. stealth, the
 * embed answer's stealth rating, is given when the image was just made
 * here: the verdict is about this one image, the rating about images
 * made like it, and the headline must not call "clean" what the rating
 * calls detectable. Without it (an image from elsewhere) a clean verdict
 * says only that these detectors see nothing.
 */
export function renderVerdict(box, r, stealth) {
  const figures = `chi-square p = ${r.chi_square.p_value.toFixed(3)} (near 1 flags; near 0 is a natural histogram), RS rate ${r.rs.rate.toFixed(3)} (flags at ${r.rs.threshold.toFixed(2)}), SPA rate ${r.spa.rate.toFixed(3)} (flags at ${r.spa.threshold.toFixed(2)})`;
  const rm = r.rich_model;
  const richFlags = (r.flagged_by || []).includes("rich-model");
  let headline = "Clean: no detector here flags it (chi-square, RS, SPA, JPEG compatibility and the trained rich model).";
  if (!rm || rm.verdict === "skipped") headline = "Clean: the classic detectors see nothing unusual.";
  if (!stealth) headline = headline.replace(/^Clean: /, "Not flagged: ").replace(/\.$/, "; that says little on its own: a stronger detector may, and clean photos are flagged too.");
  const rated = !stealth || stealth.rating === "stealthy";
  if (r.suspicious) headline = "Suspicious: a steganalyst would look closer.";
  else if (richFlags) headline = "Detectable: the trained rich model flags it, though the classic detectors do not.";
  else if (stealth && stealth.rating === "unknown") headline = "Not flagged here, but unmeasured: no detector here flags this image, and how detectable images made like it are has not been measured (the first note below).";
  else if (!rated) headline = "Not flagged, yet not safe: no detector here flags this image, but images made like it are detectable (the first note below says why).";
  box.className = `verdict ${r.suspicious || richFlags ? "suspicious" : rated ? "clean" : "caution"}`;
  box.replaceChildren(
    el("strong", { text: headline }),
    el("p", { text: r.suspicious && r.reasons && r.reasons.length ? r.reasons.join("; ") : figures }),
  );
  if (r.suspicious) box.append(el("p", { text: figures }));
  if (rm && rm.verdict === "skipped") {
    box.append(el("p", { text: `Rich model: not run (${rm.skipped}).` }));
  } else if (rm) {
    box.append(el("p", { text: `Rich model, trained against this codec: score ${rm.score.toFixed(2)} (flags above ${rm.threshold.toFixed(2)}) on ${rm.region.width}×${rm.region.height} pixels. It also flags about ${Math.round(100 * rm.false_alarm_rate)}% of clean photos: a flag is worth a closer look, not proof.` }));
  }
}

/** psnrText is a distortion report's PSNR as shown. */
export function psnrText(d) {
  return d.identical ? "∞ (identical)" : `${d.psnr_db.toFixed(1)} dB`;
}
