/**
 * The colour guided filter (He, Sun and Tang, "Guided Image Filtering", 2010/2013) on planes of
 * floats: for each window, the linear model q = a·I + b that best explains the input p from the
 * guide colour I, with a regularised by ε. Pure; refine.ts applies it to masks.
 */

/** A guide (R, G, B) and an input plane, all `w`×`h`, row-major. */
export interface GuidePlanes {
  w: number;
  h: number;
  r: Float32Array;
  g: Float32Array;
  b: Float32Array;
  p: Float32Array;
}

/** Mean over a (2r+1)² window clipped to the grid, of each cell of a `w`×`h` plane. */
function boxMean(src: Float32Array, w: number, h: number, r: number): Float32Array {
  const rows = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    const o = y * w;
    let sum = 0;
    for (let x = 0; x < Math.min(r, w); x++) sum += src[o + x]!;
    for (let x = 0; x < w; x++) {
      if (x + r < w) sum += src[o + x + r]!;
      if (x - r - 1 >= 0) sum -= src[o + x - r - 1]!;
      rows[o + x] = sum / (Math.min(w - 1, x + r) - Math.max(0, x - r) + 1);
    }
  }
  const out = new Float32Array(w * h);
  const sums = new Float64Array(w);
  for (let y = 0; y < Math.min(r, h); y++) for (let x = 0; x < w; x++) sums[x]! += rows[y * w + x]!;
  for (let y = 0; y < h; y++) {
    if (y + r < h) for (let x = 0, o = (y + r) * w; x < w; x++) sums[x]! += rows[o + x]!;
    if (y - r - 1 >= 0) for (let x = 0, o = (y - r - 1) * w; x < w; x++) sums[x]! -= rows[o + x]!;
    const n = Math.min(h - 1, y + r) - Math.max(0, y - r) + 1;
    for (let x = 0, o = y * w; x < w; x++) out[o + x] = sums[x]! / n;
  }
  return out;
}

/**
 * The colour guided filter's linear coefficients, averaged over each window: q = ar·R + ag·G + ab·B + b
 * on a `w`×`h` grid of guide planes and input.
 */
export function guidedCoefficients(planes: GuidePlanes, r: number, epsilon: number): [Float32Array, Float32Array, Float32Array, Float32Array] {
  const { w, h } = planes;
  const n = w * h;
  const product = (a: Float32Array, b: Float32Array) => {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = a[i]! * b[i]!;
    return out;
  };
  const mean = (plane: Float32Array) => boxMean(plane, w, h, r);
  const [mr, mg, mb, mp] = [planes.r, planes.g, planes.b, planes.p].map(mean) as Float32Array[];
  const [mrp, mgp, mbp] = [planes.r, planes.g, planes.b].map((c) => mean(product(c, planes.p))) as Float32Array[];
  const [mrr, mrg, mrb, mgg, mgb, mbb] = [
    [planes.r, planes.r], [planes.r, planes.g], [planes.r, planes.b], [planes.g, planes.g], [planes.g, planes.b], [planes.b, planes.b],
  ].map(([a, b]) => mean(product(a!, b!))) as Float32Array[];
  const ar = new Float32Array(n);
  const ag = new Float32Array(n);
  const ab = new Float32Array(n);
  const bb = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const [r0, g0, b0, p0] = [mr![i]!, mg![i]!, mb![i]!, mp![i]!];
    // Covariance of the colours (+ε on the diagonal) and of colour with mask, in the window.
    const srr = mrr![i]! - r0 * r0 + epsilon;
    const srg = mrg![i]! - r0 * g0;
    const srb = mrb![i]! - r0 * b0;
    const sgg = mgg![i]! - g0 * g0 + epsilon;
    const sgb = mgb![i]! - g0 * b0;
    const sbb = mbb![i]! - b0 * b0 + epsilon;
    const cr = mrp![i]! - r0 * p0;
    const cg = mgp![i]! - g0 * p0;
    const cb = mbp![i]! - b0 * p0;
    // a = Σ⁻¹ c, by the adjugate of the symmetric 3×3 matrix.
    const i00 = sgg * sbb - sgb * sgb;
    const i01 = srb * sgb - srg * sbb;
    const i02 = srg * sgb - srb * sgg;
    const i11 = srr * sbb - srb * srb;
    const i12 = srb * srg - srr * sgb;
    const i22 = srr * sgg - srg * srg;
    const det = srr * i00 + srg * i01 + srb * i02;
    const a0 = (i00 * cr + i01 * cg + i02 * cb) / det;
    const a1 = (i01 * cr + i11 * cg + i12 * cb) / det;
    const a2 = (i02 * cr + i12 * cg + i22 * cb) / det;
    ar[i] = a0;
    ag[i] = a1;
    ab[i] = a2;
    bb[i] = p0 - a0 * r0 - a1 * g0 - a2 * b0;
  }
  return [ar, ag, ab, bb].map(mean) as [Float32Array, Float32Array, Float32Array, Float32Array];
}
