import { OnnxMetadataError, parseClassNames, parseImageSize, readOnnxMetadata } from '../../src/vision/onnx-metadata.js';

/** Minimal protobuf writer: a ModelProto with ir_version and metadata_props entries. */
function modelProto(props: Record<string, string>): Uint8Array {
  const bytes: number[] = [0x08, 0x08]; // field 1 (ir_version) = 8
  const lengthDelimited = (field: number, payload: number[]) => [(field << 3) | 2, payload.length, ...payload];
  for (const [key, value] of Object.entries(props)) {
    const entry = [...lengthDelimited(1, [...Buffer.from(key)]), ...lengthDelimited(2, [...Buffer.from(value)])];
    bytes.push(...lengthDelimited(14, entry));
  }
  return Uint8Array.from(bytes);
}

describe('ONNX metadata', () => {
  it('reads metadata_props from the protobuf', () => {
    expect(readOnnxMetadata(modelProto({ imgsz: '[480, 640]', task: 'segment' }))).toEqual({ imgsz: '[480, 640]', task: 'segment' });
  });

  it('fails clearly on truncated bytes', () => {
    expect(() => readOnnxMetadata(modelProto({ task: 'segment' }).subarray(0, 6))).toThrow(OnnxMetadataError);
  });

  it("parses Ultralytics' names dict and imgsz", () => {
    expect(parseClassNames("{0: 'person', 1: 'traffic light', 2: \"it's\"}")).toEqual(['person', 'traffic light', "it's"]);
    expect(parseImageSize('[480, 640]')).toEqual({ width: 640, height: 480 });
    expect(parseImageSize('640')).toEqual({ width: 640, height: 640 });
    expect(() => parseClassNames('{}')).toThrow(OnnxMetadataError);
  });
});
