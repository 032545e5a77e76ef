// Tiny canvas charts: lines over time and labelled bars. Colours come
// from the page's CSS variables, so they follow light and dark mode.

const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

/** setup sizes the canvas for the device pixel ratio and returns its context and CSS size. */
function setup(canvas) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || 300;
  const h = canvas.clientHeight || 200;
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  ctx.font = `11px ${getComputedStyle(canvas).fontFamily}`;
  return { ctx, w, h };
}

/** niceMax rounds a maximum up to 1, 2 or 5 × a power of ten. */
export function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

/** divisions of the axis up to a niceMax value, so that ticks are round. */
function divisions(max) {
  const lead = Math.round(max / 10 ** Math.floor(Math.log10(max)));
  return lead === 2 ? 4 : 5;
}

function grid(ctx, box, max, unit) {
  const n = divisions(max);
  ctx.strokeStyle = css("--line");
  ctx.fillStyle = css("--muted");
  ctx.lineWidth = 1;
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (let i = 0; i <= n; i++) {
    const y = box.y + box.h - (box.h * i) / n;
    ctx.beginPath();
    ctx.moveTo(box.x, Math.round(y) + 0.5);
    ctx.lineTo(box.x + box.w, Math.round(y) + 0.5);
    ctx.stroke();
    const v = (max * i) / n;
    ctx.fillText(`${v >= 10 || v === 0 ? Math.round(v) : v.toFixed(1)}${unit}`, box.x - 6, y);
  }
}

/**
 * lineChart draws series ({values, colour: CSS variable name}) against
 * the seconds 0…n-1; an empty chart still shows its axes.
 */
export function lineChart(canvas, series, { unit = "" } = {}) {
  const { ctx, w, h } = setup(canvas);
  const box = { x: 44, y: 8, w: w - 52, h: h - 30 };
  const n = Math.max(2, ...series.map((s) => s.values.length));
  const max = niceMax(Math.max(0, ...series.flatMap((s) => s.values.filter(Number.isFinite))));
  grid(ctx, box, max, unit);
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  ctx.fillStyle = css("--muted");
  const step = Math.max(1, Math.ceil(n / 6));
  for (let i = 0; i < n; i += step) ctx.fillText(`${i}s`, box.x + (box.w * i) / (n - 1), box.y + box.h + 6);
  for (const s of series) {
    ctx.strokeStyle = css(s.colour);
    ctx.lineWidth = 2;
    ctx.lineJoin = "round";
    ctx.beginPath();
    let started = false;
    s.values.forEach((v, i) => {
      if (!Number.isFinite(v)) return;
      const x = box.x + (box.w * i) / (n - 1);
      const y = box.y + box.h - (box.h * v) / max;
      if (started) ctx.lineTo(x, y);
      else ctx.moveTo(x, y);
      started = true;
    });
    ctx.stroke();
  }
}

/** barChart draws labelled bars ({label, value, colour: CSS variable name}). */
export function barChart(canvas, bars) {
  const { ctx, w, h } = setup(canvas);
  const box = { x: 44, y: 8, w: w - 52, h: h - 30 };
  const max = niceMax(Math.max(0, ...bars.map((b) => b.value)));
  grid(ctx, box, max, "");
  if (!bars.length) {
    ctx.fillStyle = css("--muted");
    ctx.textAlign = "center";
    ctx.fillText("no requests yet", box.x + box.w / 2, box.y + box.h / 2);
    return;
  }
  const slot = box.w / bars.length;
  const bw = Math.min(80, slot * 0.6);
  bars.forEach((b, i) => {
    const x = box.x + slot * i + (slot - bw) / 2;
    const bh = (box.h * b.value) / max;
    ctx.fillStyle = css(b.colour);
    ctx.fillRect(x, box.y + box.h - bh, bw, bh);
    ctx.fillStyle = css("--ink");
    ctx.textAlign = "center";
    ctx.textBaseline = "bottom";
    ctx.fillText(String(b.value), x + bw / 2, box.y + box.h - bh - 2);
    ctx.fillStyle = css("--muted");
    ctx.textBaseline = "top";
    ctx.fillText(b.label, x + bw / 2, box.y + box.h + 6, slot - 4);
  });
}
