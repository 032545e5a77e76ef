// Pixel comparison of a cover and its stego image, done in the browser.

/**
 * pixels decodes an image blob to 8-bit RGBA without colour management
 * or premultiplication, so the values are the file's own. 16-bit images
 * are reduced to 8 bits by the browser (their ±1 changes vanish).
 */
export async function pixels(blob) {
  const bmp = await createImageBitmap(blob, { colorSpaceConversion: "none", premultiplyAlpha: "none" });
  try {
    const canvas = document.createElement("canvas");
    canvas.width = bmp.width;
    canvas.height = bmp.height;
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    ctx.drawImage(bmp, 0, 0);
    return { width: bmp.width, height: bmp.height, data: ctx.getImageData(0, 0, bmp.width, bmp.height).data };
  } finally {
    bmp.close();
  }
}

/**
 * compare returns the changes from a to b (same size): changed colour
 * samples, the largest change, PSNR over the colour channels (Infinity if
 * identical), and an RGBA difference picture: unchanged pixels as a dim
 * grey copy of the cover, changed ones lit (magenta ±1, yellow more), so
 * a one-level change is as visible as any.
 */
export function compare(a, b) {
  if (a.width !== b.width || a.height !== b.height) {
    throw new Error(`the images differ in size (${a.width}×${a.height} and ${b.width}×${b.height})`);
  }
  const n = a.width * a.height;
  const out = new Uint8ClampedArray(n * 4);
  let sq = 0;
  let changed = 0;
  let changedPixels = 0;
  let maxAbs = 0;
  for (let p = 0, i = 0; p < n; p++, i += 4) {
    let m = 0;
    for (let c = 0; c < 3; c++) {
      const d = Math.abs(a.data[i + c] - b.data[i + c]);
      if (d) {
        changed++;
        sq += d * d;
        if (d > m) m = d;
      }
    }
    if (m > maxAbs) maxAbs = m;
    if (m === 0) {
      const g = (a.data[i] * 0.3 + a.data[i + 1] * 0.59 + a.data[i + 2] * 0.11) * 0.22;
      out[i] = g; out[i + 1] = g; out[i + 2] = g + 6;
    } else if (m === 1) {
      changedPixels++;
      out[i] = 255; out[i + 1] = 50; out[i + 2] = 170;
    } else {
      changedPixels++;
      out[i] = 255; out[i + 1] = 210; out[i + 2] = 40;
    }
    out[i + 3] = 255;
  }
  const samples = n * 3;
  const mse = sq / samples;
  const psnr = mse === 0 ? Infinity : 10 * Math.log10((255 * 255) / mse);
  return { width: a.width, height: a.height, samples, changed, changedPixels, maxAbs, psnr, image: out };
}

/** draw puts a compare() picture on a canvas at full resolution. */
export function draw(canvas, result) {
  canvas.width = result.width;
  canvas.height = result.height;
  canvas.getContext("2d").putImageData(new ImageData(result.image, result.width, result.height), 0, 0);
}
