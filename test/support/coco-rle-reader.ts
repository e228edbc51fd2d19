/**
 * A reader of COCO RLE written for the tests from the format's description (pycocotools'
 * maskApi.h and rleFrString), independently of segcat's encoder, so that the export is checked
 * against the format rather than against itself.
 *
 * - Each character is 48 plus 6 bits: bit 5 says another character of the same value follows,
 *   bits 0-4 are the next 5 bits of the value, least significant first; in the last character
 *   of a value, bit 4 is the sign (two's complement over the bits read).
 * - Values from the fourth on are differences from the value two places before.
 * - The values are run lengths over the mask read column by column, 0s first.
 */

/** The run lengths a compressed `counts` string holds; throws on a string that is not one. */
export function readCounts(counts: string): number[] {
  const values: bigint[] = [];
  let groups: number[] = [];
  for (const character of counts) {
    const code = character.charCodeAt(0) - 48;
    if (code < 0 || code >= 64) throw new Error(`not an RLE character: ${JSON.stringify(character)}`);
    groups.push(code & 31);
    if (code & 32) continue;
    let value = groups.reduceRight((sum, group) => (sum << 5n) | BigInt(group), 0n);
    if (code & 16) value -= 1n << BigInt(5 * groups.length);
    groups = [];
    values.push(values.length >= 3 ? value + values[values.length - 2]! : value);
  }
  if (groups.length > 0) throw new Error('RLE counts end in the middle of a value');
  return values.map(Number);
}

/** The mask an RLE describes: `rows[y][x]` is 1 where set. Throws unless the runs cover the frame exactly. */
export function readMask(rle: { size: [number, number]; counts: string }): Uint8Array[] {
  const [height, width] = rle.size;
  const runs = readCounts(rle.counts);
  if (runs.some((run) => run < 0)) throw new Error(`negative run in ${JSON.stringify(runs)}`);
  const covered = runs.reduce((sum, run) => sum + run, 0);
  if (covered !== width * height) throw new Error(`runs cover ${covered} pixels, not ${width}x${height}`);
  const columnMajor = new Uint8Array(covered);
  let start = 0;
  runs.forEach((run, index) => {
    columnMajor.fill(index % 2, start, start + run);
    start += run;
  });
  return Array.from({ length: height }, (_, y) => Uint8Array.from({ length: width }, (_, x) => columnMajor[x * height + y]!));
}
