// onnxruntime-node creates its output tensors in Node's own realm, while Jest runs each test file in
// a separate vm context with its own typed-array constructors, so `instanceof Float32Array` fails
// (jest#11864). Sharing the host realm's constructors makes the two agree.
const { TestEnvironment } = require('jest-environment-node');

const SHARED = [
  'ArrayBuffer', 'SharedArrayBuffer', 'DataView',
  'Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array',
  'Int32Array', 'Uint32Array', 'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array',
];

class SegcatEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of SHARED) this.global[name] = globalThis[name];
  }
}

module.exports = SegcatEnvironment;
