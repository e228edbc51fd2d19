import { backgroundMaskFilename, distinctMaskRoots, maskRoot, objectMaskFilename, parseMaskFilename } from '../../src/vision/mask-filename.js';

describe('mask file names', () => {
  it("writes the recipe's object name: whole-percent score, spaces as underscores, x_y_w_h", () => {
    expect(objectMaskFilename('dog', 'dining table', 0.934, { x: 12, y: 40, width: 200, height: 150 }))
      .toBe('mdog.93.dining_table.12_40_200_150.png');
    expect(objectMaskFilename('dog', 'dog', 0.999, { x: 0, y: 0, width: 1, height: 1 })).toBe('mdog.100.dog.0_0_1_1.png');
    expect(backgroundMaskFilename('dog')).toBe('mdog.background.png');
  });

  it('gives images with the same base name distinct roots, in order, never reusing one', () => {
    expect(distinctMaskRoots(['a/dog.jpg', 'b/dog.png', 'eagle.jpg', 'c/dog.webp'])).toEqual(['dog', 'dog-2', 'eagle', 'dog-3']);
    expect(distinctMaskRoots(['dog-2.jpg', 'a/dog.jpg', 'b/dog.jpg'])).toEqual(['dog-2', 'dog', 'dog-3']);
  });

  it('takes the root from the image name without directory or extension', () => {
    expect(maskRoot('/photos/holiday.2024.jpg')).toBe('holiday.2024');
    expect(maskRoot('dog.jpg')).toBe('dog');
    expect(maskRoot('README')).toBe('README');
  });

  it('parses names back, including dotted roots and multi-word labels', () => {
    expect(parseMaskFilename('/out/mholiday.2024.87.traffic_light.5_6_70_80.png')).toEqual({
      kind: 'object', root: 'holiday.2024', label: 'traffic light', scorePercent: 87,
      box: { x: 5, y: 6, width: 70, height: 80 },
    });
    expect(parseMaskFilename('mdog.background.png')).toEqual({ kind: 'background', root: 'dog' });
  });

  it('round-trips every field', () => {
    const box = { x: 301, y: 7, width: 1024, height: 33 };
    const parsed = parseMaskFilename(objectMaskFilename('IMG_0001', 'cell phone', 0.456, box));
    expect(parsed).toEqual({ kind: 'object', root: 'IMG_0001', label: 'cell phone', scorePercent: 46, box });
  });

  it('rejects names that do not follow the format', () => {
    for (const name of ['dog.png', 'mdog.93.dog.1_2_3.png', 'mdog.930.dog.1_2_3_4.png', 'mdog.93.dog.1_2_0_4.png', 'mdog.93.dog.1_2_3_4.jpg']) {
      expect(parseMaskFilename(name)).toBeUndefined();
    }
  });
});
