/**
 * A fresh machine: the runtime's vision engine pulls missing weights itself (here from the
 * mirror), so that `npm install && npm start` needs no separate step.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config.js';
import { createVisionEngine } from '../../src/vision/vision-engine.js';

import { PACKAGE_ROOT } from '../../src/config.js';

// The repository's own models/ (filled by npm test's pretest step) serves as the mirror.
const MIRROR = path.join(PACKAGE_ROOT, 'models');

it('pulls the configured model when it is missing, then loads it', async () => {
  const modelDir = await mkdtemp(path.join(os.tmpdir(), 'segcat-models-'));
  try {
    const pulls: string[] = [];
    const engine = await createVisionEngine(loadConfig({ MODEL_DIR: modelDir, MODEL_MIRROR: MIRROR }), (file, action) => pulls.push(`${path.basename(file)} ${action}`));
    expect(pulls).toEqual(['yolo11n-seg-uint8.onnx copied']);
    expect(engine.model.classNames).toHaveLength(80);
    await engine.close();
    expect(await readdir(modelDir)).toEqual(['yolo11n-seg-uint8.onnx']);
  } finally {
    await rm(modelDir, { recursive: true, force: true });
  }
});
