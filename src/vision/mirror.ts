/**
 * Mirror test-time augmentation: the model also looks at the image flipped left to right, and what
 * it finds is flipped back. The flip is done on the letterboxed input and undone on the raw model
 * outputs, both in model-input pixels, so post-processing maps the mirrored run back to the
 * original image through the very letterbox of the plain run. Pure, in place.
 */

/** Reverses each row of an interleaved RGB image of `width`×`height` (in place). */
export function mirrorRgbRows(rgb: Uint8Array, width: number, height: number): void {
  if (rgb.length !== width * height * 3) {
    throw new RangeError(`mirrorRgbRows: ${rgb.length} bytes is not ${width}x${height} RGB`);
  }
  for (let y = 0; y < height; y++) {
    let left = y * width * 3;
    let right = left + (width - 1) * 3;
    for (; left < right; left += 3, right -= 3) {
      for (let c = 0; c < 3; c++) {
        const t = rgb[left + c]!;
        rgb[left + c] = rgb[right + c]!;
        rgb[right + c] = t;
      }
    }
  }
}

/** Reverses each row of `planes` planes of `width`×`height` floats (in place). */
function mirrorPlanes(data: Float32Array, planes: number, width: number, height: number): void {
  for (let row = 0; row < planes * height; row++) data.subarray(row * width, row * width + width).reverse();
}

/**
 * Undoes a mirrored input on a YOLO-seg run's outputs (in place): box centres `cx` become
 * `inputWidth - cx` (row 0 of detections [1, C, N]; widths and heights are unchanged), and the
 * mask prototypes [1, K, H, W] are mirrored. The prototype grid divides the input evenly, so a
 * mirrored cell covers exactly the mirrored input pixels.
 */
export function unmirrorOutputs(
  detections: { data: Float32Array; dims: readonly number[] },
  prototypes: { data: Float32Array; dims: readonly number[] },
  inputWidth: number,
): void {
  const anchors = detections.dims[2]!;
  for (let i = 0; i < anchors; i++) detections.data[i] = inputWidth - detections.data[i]!;
  const [, count, height, width] = prototypes.dims as [number, number, number, number];
  mirrorPlanes(prototypes.data, count, width, height);
}
