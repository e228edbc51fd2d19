/**
 * Reading an embedded ICC colour profile, enough to tell whether it is sRGB. Pure.
 *
 * Most photos carry an sRGB profile, and converting sRGB to sRGB changes no pixel, but building the
 * colour transform costs libvips several milliseconds per decode: more than decoding a 640 px crop.
 * A profile counts as sRGB when it is a matrix/TRC RGB profile with sRGB's primaries and tone curve;
 * anything else (Display P3, Adobe RGB, CMYK, LUT-based profiles) is converted as usual.
 */

/** sRGB's primaries adapted to D50, as every sRGB profile stores them (rXYZ, gXYZ, bXYZ tags). */
const SRGB_COLORANTS = {
  rXYZ: [0.4361, 0.2225, 0.0139],
  gXYZ: [0.3851, 0.7169, 0.0971],
  bXYZ: [0.1431, 0.0606, 0.7141],
} as const;
/** Colorant error allowed (profiles round them differently; Display P3's red is 0.515, 0.241, -0.001). */
const COLORANT_TOLERANCE = 0.002;
/** Tone-curve error allowed, in 0..1 units: half of one 8-bit step. */
const CURVE_TOLERANCE = 0.5 / 255;
/** Tags that make colour engines use lookup tables instead of the matrix and curves. */
const LUT_TAGS = ['A2B0', 'A2B1', 'A2B2', 'B2A0', 'B2A1', 'B2A2', 'D2B0', 'B2D0'];

/** sRGB's transfer function: encoded value to linear light. */
function srgbToLinear(v: number): number {
  return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
}

/** True when `icc` is an RGB profile that describes sRGB, so that converting to sRGB changes nothing. */
export function isSrgbProfile(icc: Uint8Array): boolean {
  const view = new DataView(icc.buffer, icc.byteOffset, icc.byteLength);
  const ascii = (offset: number) => (offset + 4 <= icc.length ? String.fromCharCode(...icc.subarray(offset, offset + 4)) : '');
  if (icc.length < 132 || ascii(36) !== 'acsp' || ascii(16) !== 'RGB ') return false;
  const count = view.getUint32(128);
  if (132 + count * 12 > icc.length) return false;
  const tags = new Map<string, { offset: number; size: number }>();
  for (let i = 0; i < count; i++) {
    const entry = 132 + i * 12;
    const offset = view.getUint32(entry + 4);
    const size = view.getUint32(entry + 8);
    if (offset + size > icc.length) return false;
    tags.set(ascii(entry), { offset, size });
  }
  if (LUT_TAGS.some((tag) => tags.has(tag))) return false;
  const fixed = (offset: number) => view.getInt32(offset) / 65536;

  for (const [tag, expected] of Object.entries(SRGB_COLORANTS)) {
    const found = tags.get(tag);
    if (!found || found.size < 20 || ascii(found.offset) !== 'XYZ ') return false;
    if (expected.some((value, i) => Math.abs(fixed(found.offset + 8 + 4 * i) - value) > COLORANT_TOLERANCE)) return false;
  }
  for (const tag of ['rTRC', 'gTRC', 'bTRC']) {
    const found = tags.get(tag);
    const curve = found && toneCurve(view, found.offset, found.size);
    if (!curve) return false;
    for (let step = 1; step < 16; step++) {
      const v = step / 16;
      if (Math.abs(curve(v) - srgbToLinear(v)) > CURVE_TOLERANCE) return false;
    }
  }
  return true;
}

/** The tone curve of a `curv` or `para` tag as a function, or undefined for anything else. */
function toneCurve(view: DataView, offset: number, size: number): ((v: number) => number) | undefined {
  const type = String.fromCharCode(...[0, 1, 2, 3].map((i) => view.getUint8(offset + i)));
  if (type === 'curv' && size >= 12) {
    const points = view.getUint32(offset + 8);
    if (size < 12 + 2 * points) return undefined;
    if (points === 0) return (v) => v;
    if (points === 1) {
      const gamma = view.getUint16(offset + 12) / 256;
      return (v) => v ** gamma;
    }
    const at = (i: number) => view.getUint16(offset + 12 + 2 * i) / 65535;
    return (v) => {
      const position = v * (points - 1);
      const i = Math.min(points - 2, Math.floor(position));
      return at(i) + (at(i + 1) - at(i)) * (position - i);
    };
  }
  if (type === 'para' && size >= 12) {
    const kind = view.getUint16(offset + 8);
    const needed = [1, 3, 4, 5, 7][kind];
    if (needed === undefined || size < 12 + 4 * needed) return undefined;
    const [g = 1, a = 1, b = 0, c = 0, d = 0, e = 0, f = 0] = Array.from({ length: needed }, (_, i) => view.getInt32(offset + 12 + 4 * i) / 65536);
    const power = (v: number) => (a * v + b > 0 ? (a * v + b) ** g : 0);
    switch (kind) {
      case 0: return (v) => v ** g;
      case 1: return (v) => (v >= -b / a ? power(v) : 0);
      case 2: return (v) => (v >= -b / a ? power(v) + c : c);
      case 3: return (v) => (v >= d ? power(v) : c * v);
      default: return (v) => (v >= d ? power(v) + e : c * v + f);
    }
  }
  return undefined;
}
