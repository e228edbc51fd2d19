import { compressRunLengths, encodeRle, runLengthArea, runLengths } from '../../src/vision/coco-rle.js';
import type { BoxMask } from '../../src/vision/types.js';
import { readCounts, readMask } from '../support/coco-rle-reader.js';

/** A full-frame mask from rows of '#' (set) and '.' (clear). */
function drawn(...rows: string[]): { mask: BoxMask; width: number; height: number } {
  const width = rows[0]!.length;
  const height = rows.length;
  const data = Uint8Array.from(rows.join('').split(''), (c) => (c === '#' ? 255 : 0));
  return { mask: { box: { x: 0, y: 0, width, height }, data }, width, height };
}

/** A full-frame mask with pseudo-random pixels (deterministic: a linear congruential generator). */
function noise(width: number, height: number, seed: number, density: number): BoxMask {
  let state = seed;
  const data = new Uint8Array(width * height);
  for (let i = 0; i < data.length; i++) {
    state = (state * 1103515245 + 12345) % 2147483648;
    data[i] = state / 2147483648 < density ? 255 : 0;
  }
  return { box: { x: 0, y: 0, width, height }, data };
}

/** Encodes, reads back with the tests' own reader, and compares pixel for pixel. */
function roundTrip(mask: BoxMask, width: number, height: number): void {
  const rows = readMask(encodeRle(mask, width, height));
  const { x, y, width: w, height: h } = mask.box;
  const expected = Array.from({ length: height }, (_, row) =>
    Uint8Array.from({ length: width }, (_, column) =>
      column >= x && column < x + w && row >= y && row < y + h && mask.data[(row - y) * w + column - x] ? 1 : 0,
    ),
  );
  expect(rows).toEqual(expected);
}

describe('COCO run lengths (column-major, starting with 0s)', () => {
  it('reads down each column before the next, as pycocotools does', () => {
    // Column-major: column 0 is . # . , column 1 is . # # , column 2 is . . .
    const { mask, width, height } = drawn('...', '##.', '.#.');
    expect(runLengths(mask, width, height)).toEqual([1, 1, 2, 2, 3]);
  });

  it('gives one run of 0s for an empty mask, and a leading empty run for a full one', () => {
    const empty = drawn('....', '....');
    expect(runLengths(empty.mask, empty.width, empty.height)).toEqual([8]);
    const full = drawn('###', '###');
    expect(runLengths(full.mask, full.width, full.height)).toEqual([0, 6]);
  });

  it('places a box mask on its frame: 0s before, around and after the box', () => {
    // A 2x1 box at (1, 2) in a 3x4 frame: pixels (1,2) and (2,2), column-major indices 6 and 10.
    const mask: BoxMask = { box: { x: 1, y: 2, width: 2, height: 1 }, data: Uint8Array.of(255, 255) };
    expect(runLengths(mask, 3, 4)).toEqual([6, 1, 3, 1, 1]);
  });

  it('counts the area as the sum of the runs of 1s', () => {
    const { mask, width, height } = drawn('#.#', '##.', '.##');
    expect(runLengthArea(runLengths(mask, width, height))).toBe(6);
  });

  it('refuses a box outside its frame or data of the wrong size', () => {
    expect(() => runLengths({ box: { x: 2, y: 0, width: 2, height: 1 }, data: new Uint8Array(2) }, 3, 1)).toThrow(/does not lie inside a 3x1 frame/);
    expect(() => runLengths({ box: { x: 0, y: 0, width: 2, height: 2 }, data: new Uint8Array(3) }, 2, 2)).toThrow(/needs 4/);
  });
});

describe('compressed counts (pycocotools rleToString)', () => {
  it('writes small values as one character each, offset by "0"', () => {
    expect(compressRunLengths([9])).toBe('9');
    expect(compressRunLengths([0, 9])).toBe('09');
    // Runs 4 and 5 are stored as 2 - 1 and 3 - 2.
    expect(compressRunLengths([1, 1, 2, 2, 3])).toBe('11211');
  });

  it('splits values of 16 and more into 5-bit groups, low group first, with a continuation bit', () => {
    // 100 = 3*32 + 4: group 4 with the continuation bit (4|32 + 48 = 'T'), then 3 ('3').
    expect(compressRunLengths([100])).toBe('T3');
    // 16 needs two groups: its 5-bit group has the sign bit set, so a 0 group follows ('`' is 16|32 + 48).
    expect(compressRunLengths([16])).toBe('`0');
    expect(compressRunLengths([15])).toBe('?');
  });

  it('stores runs from the fourth on as the difference from the run two before, negative too', () => {
    // 50 = 1*32 + 18 is 'b1'; 3 - 50 = -47 = -2*32 + 17: 'a' (17|32 + 48), then -2's group 30 ('N') ends it.
    expect(compressRunLengths([0, 50, 10, 3])).toBe('0b1:aN');
    expect(readCounts('0b1:aN')).toEqual([0, 50, 10, 3]);
    // The third run is not a difference: pycocotools starts them at index 3.
    expect(compressRunLengths([5, 5, 5])).toBe('555');
    expect(compressRunLengths([5, 5, 5, 5])).toBe('5550');
  });

  it('round-trips counts of every size and sign of difference', () => {
    const cases = [
      [0],
      [12],
      [0, 1],
      [31, 32, 33, 1023, 1024, 1025],
      [1_000_000, 1, 2, 3_000_000, 4, 1],
      [2 ** 31 + 5, 7, 2 ** 31 + 1],
      [40, 3, 1, 3, 90, 3, 1, 3],
    ];
    for (const counts of cases) expect(readCounts(compressRunLengths(counts))).toEqual(counts);
  });
});

describe('encode and decode', () => {
  it('round-trips edge cases', () => {
    const cases: [BoxMask, number, number][] = [
      [drawn('.....', '.....', '.....').mask, 5, 3],
      [drawn('#####', '#####', '#####').mask, 5, 3],
      [{ box: { x: 6, y: 4, width: 1, height: 1 }, data: Uint8Array.of(255) }, 7, 5],
      [{ box: { x: 0, y: 0, width: 1, height: 1 }, data: Uint8Array.of(255) }, 1, 1],
      [{ box: { x: 0, y: 0, width: 0, height: 0 }, data: new Uint8Array(0) }, 0, 0],
      [noise(13, 7, 1, 0.5), 13, 7],
      [{ ...noise(37, 29, 2, 0.7), box: { x: 20, y: 11, width: 37, height: 29 } }, 61, 43],
      [{ ...noise(3, 200, 3, 0.1), box: { x: 1, y: 0, width: 3, height: 200 } }, 5, 200],
    ];
    for (const [mask, width, height] of cases) roundTrip(mask, width, height);
  });

  it('sets size to [height, width] and keeps runs longer than 31 pixels in multi-character groups', () => {
    // A 40x30 frame with one 20x10 block: long runs of 0s around it.
    const rle = encodeRle({ box: { x: 10, y: 5, width: 20, height: 10 }, data: new Uint8Array(200).fill(255) }, 40, 30);
    expect(rle.size).toEqual([30, 40]);
    expect(readCounts(rle.counts)).toEqual([10 * 30 + 5, ...Array.from({ length: 19 }, () => [10, 20]).flat(), 10, 10 * 30 + 15]);
    roundTrip({ box: { x: 10, y: 5, width: 20, height: 10 }, data: new Uint8Array(200).fill(255) }, 40, 30);
  });
});
