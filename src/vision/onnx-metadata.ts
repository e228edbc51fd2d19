/**
 * Reads an ONNX model's `metadata_props` straight from the protobuf bytes, because onnxruntime-node
 * exposes input/output shapes but not the exporter's metadata (class names, image size).
 * Pure: bytes in, strings out.
 */

/** ModelProto field 14 is `repeated StringStringEntryProto metadata_props` (key = 1, value = 2). */
const METADATA_PROPS_FIELD = 14;

/** Thrown when the bytes are not a well-formed ONNX protobuf or lack the metadata segcat needs. */
export class OnnxMetadataError extends Error {
  override name = 'OnnxMetadataError';
}

interface Field {
  number: number;
  wireType: number;
  /** Payload of a length-delimited field; undefined for scalar wire types. */
  bytes?: Uint8Array;
}

function readVarint(buf: Uint8Array, pos: { at: number }): number {
  let result = 0;
  let multiplier = 1;
  for (let i = 0; i < 10; i++) {
    if (pos.at >= buf.length) throw new OnnxMetadataError('truncated varint in ONNX file');
    const byte = buf[pos.at++]!;
    // Multiplication rather than shifts: values above 2^31 (lengths of big tensors) must stay exact.
    result += (byte & 0x7f) * multiplier;
    if ((byte & 0x80) === 0) return result;
    multiplier *= 128;
  }
  throw new OnnxMetadataError('malformed varint in ONNX file');
}

function* fields(buf: Uint8Array): Generator<Field> {
  const pos = { at: 0 };
  while (pos.at < buf.length) {
    const key = readVarint(buf, pos);
    const number = Math.floor(key / 8);
    const wireType = key & 7;
    if (wireType === 0) readVarint(buf, pos);
    else if (wireType === 1) pos.at += 8;
    else if (wireType === 5) pos.at += 4;
    else if (wireType === 2) {
      const length = readVarint(buf, pos);
      if (pos.at + length > buf.length) throw new OnnxMetadataError('truncated field in ONNX file');
      yield { number, wireType, bytes: buf.subarray(pos.at, pos.at + length) };
      pos.at += length;
      continue;
    } else throw new OnnxMetadataError(`unsupported protobuf wire type ${wireType} in ONNX file`);
    if (pos.at > buf.length) throw new OnnxMetadataError('truncated field in ONNX file');
    yield { number, wireType };
  }
}

/** Returns the model's `metadata_props` as a plain key → value record. */
export function readOnnxMetadata(model: Uint8Array): Record<string, string> {
  const decoder = new TextDecoder();
  const props: Record<string, string> = {};
  for (const field of fields(model)) {
    if (field.number !== METADATA_PROPS_FIELD || field.bytes === undefined) continue;
    let key = '';
    let value = '';
    for (const entry of fields(field.bytes)) {
      if (entry.bytes === undefined) continue;
      if (entry.number === 1) key = decoder.decode(entry.bytes);
      if (entry.number === 2) value = decoder.decode(entry.bytes);
    }
    props[key] = value;
  }
  return props;
}

/**
 * Parses Ultralytics' `names` entry, a Python dict literal such as `{0: 'person', 1: 'bicycle'}`,
 * into an array indexed by class id.
 */
export function parseClassNames(literal: string): string[] {
  const names: string[] = [];
  const entry = /(\d+)\s*:\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")/g;
  for (const match of literal.matchAll(entry)) {
    names[Number(match[1])] = (match[2] ?? match[3] ?? '').replace(/\\(.)/g, '$1');
  }
  if (names.length === 0 || names.some((name) => name === undefined)) {
    throw new OnnxMetadataError(`cannot read class names from metadata "names": ${literal.slice(0, 80)}`);
  }
  return names;
}

/** Parses Ultralytics' `imgsz` entry (`[480, 640]` is height, width; a single number is square). */
export function parseImageSize(literal: string): { width: number; height: number } {
  const numbers = (literal.match(/\d+/g) ?? []).map(Number);
  if (numbers.length === 1) return { width: numbers[0]!, height: numbers[0]! };
  if (numbers.length === 2) return { width: numbers[1]!, height: numbers[0]! };
  throw new OnnxMetadataError(`cannot read input size from metadata "imgsz": ${literal}`);
}
