import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { registerExtractCommand } from '../../src/cli/extract.command.js';
import { registerModelsCommand } from '../../src/cli/models.command.js';
import { registerSegmentCommand } from '../../src/cli/segment.command.js';
import { loadConfig, PACKAGE_ROOT } from '../../src/config.js';
import { parseMaskFilename } from '../../src/vision/mask-filename.js';
import { ModelError } from '../../src/vision/model-store.js';
import { createSegmenter } from '../../src/vision/segmenter.js';
import { runCommands, runSegcat } from '../support/cli.js';
import { photo } from '../support/vision.js';

/** Runs the vision commands as `npx segcat ...` would, capturing output and the exit code. */
function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return runCommands([registerExtractCommand, registerModelsCommand, registerSegmentCommand], args);
}

describe('segcat segment and extract', () => {
  let dir: string;
  beforeAll(async () => { dir = await mkdtemp(path.join(os.tmpdir(), 'segcat-cli-')); });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("writes the recipe's masks for each image, reports a bad file by name and goes on", async () => {
    const bad = path.join(dir, 'notes.jpg');
    await writeFile(bad, 'this is not a picture');
    const out = path.join(dir, 'masks');
    const result = await run('segment', photo('dog'), bad, photo('eagle'), out);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/notes\.jpg.*not an image/);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    const printed = result.stdout.trim().split('\n');
    expect(printed.sort()).toEqual((await readdir(out)).map((name) => path.join(out, name)).sort());
    const names = printed.map((p) => parseMaskFilename(p));
    expect(names.filter((n) => n?.kind === 'background').map((n) => n!.root).sort()).toEqual(['dog', 'eagle']);
    const objects = names.filter((n) => n?.kind === 'object');
    expect(objects.map((n) => n!.kind === 'object' && `${n!.root}:${n!.label}`)).toEqual(expect.arrayContaining(['dog:dog', 'dog:bicycle', 'eagle:bird']));
    for (const file of printed) {
      expect(await sharp(file).metadata()).toMatchObject({ channels: 1, width: file.includes('mdog') ? 768 : 773 });
    }
  });

  it('prints one JSON document with --json and honours --min-score', async () => {
    const result = await run('segment', photo('kite'), path.join(dir, 'json'), '--json', '--min-score', '0.7');
    expect(result.code).toBe(0);
    const document = JSON.parse(result.stdout);
    expect(document.model.name).toBe('yolo11n-seg-uint8');
    expect(document.failures).toEqual([]);
    expect(document.images).toHaveLength(1);
    expect(document.images[0].masks.objects.length).toBeGreaterThan(0);
    for (const mask of document.images[0].masks.objects) expect(mask.score).toBeGreaterThanOrEqual(0.7);
    expect(await run('segment', photo('kite'), dir, '--min-score', '7')).toMatchObject({ code: 1 });
  });

  it('segments more thoroughly with --quality accurate, and refuses a quality that does not exist', async () => {
    const fast = JSON.parse((await run('segment', photo('dog'), path.join(dir, 'fast'), '--json')).stdout);
    const result = await run('segment', photo('dog'), path.join(dir, 'accurate'), '--json', '--quality', 'accurate');
    expect(result.code).toBe(0);
    const document = JSON.parse(result.stdout);
    expect(document.model).toEqual({ name: 'yolo11n-seg-uint8', version: `${fast.model.version}+accurate` });
    const labels = document.images[0].masks.objects.map((mask: { label: string }) => mask.label);
    expect(labels).toEqual(expect.arrayContaining(['dog', 'bicycle', 'truck']));
    const wrong = await run('segment', photo('dog'), path.join(dir, 'wrong'), '--quality', 'best');
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/--quality.*best.*fast, accurate/);
  });

  it('cuts an object out with transparency (default) or white, sized to its box', async () => {
    const out = path.join(dir, 'cut');
    await run('segment', photo('dog'), out);
    const maskFile = (await readdir(out)).find((name) => name.includes('.dog.'))!;
    const { box } = parseMaskFilename(maskFile) as { box: { width: number; height: number } };
    const png = path.join(dir, 'dog.png');
    expect(await run('extract', photo('dog'), path.join(out, maskFile), png)).toMatchObject({ code: 0, stdout: `${png}\n` });
    expect(await sharp(png).metadata()).toMatchObject({ width: box.width, height: box.height, hasAlpha: true });
    const jpg = path.join(dir, 'dog.jpg');
    expect((await run('extract', photo('dog'), path.join(out, maskFile), jpg, '--background', 'white')).code).toBe(0);
    expect(await sharp(jpg).metadata()).toMatchObject({ format: 'jpeg', width: box.width, height: box.height });
    expect(await run('extract', photo('dog'), path.join(out, maskFile), jpg)).toMatchObject({ code: 1, stderr: expect.stringMatching(/JPEG cannot be transparent/) });
    const other = path.join(dir, 'other.png');
    expect(await run('extract', photo('eagle'), path.join(out, maskFile), other)).toMatchObject({ code: 1, stderr: expect.stringMatching(/768x576 but the image is 773x512/) });
    expect(await run('extract', photo('dog'), path.join(out, 'mdog.background.png'), other)).toMatchObject({ code: 1, stderr: expect.stringMatching(/not an object mask/) });
  });

  it('never writes over an input, and over an existing file only with --force', async () => {
    const out = path.join(dir, 'guard');
    await run('segment', photo('dog'), out);
    const mask = path.join(out, (await readdir(out)).find((name) => name.includes('.dog.'))!);
    const copy = path.join(dir, 'guarded-dog.jpg');
    await writeFile(copy, await readFile(photo('dog')));
    const before = await readFile(copy);
    expect(await run('extract', copy, mask, copy, '--background', 'white')).toMatchObject({ code: 1, stderr: expect.stringMatching(/that is an input file/) });
    expect(await run('extract', copy, mask, mask, '--force')).toMatchObject({ code: 1, stderr: expect.stringMatching(/that is an input file/) });
    expect(await readFile(copy)).toEqual(before);
    const cut = path.join(dir, 'guarded-cut.png');
    expect((await run('extract', copy, mask, cut)).code).toBe(0);
    expect(await run('extract', copy, mask, cut)).toMatchObject({ code: 1, stderr: expect.stringMatching(/already exists; .*--force/) });
    expect((await run('extract', copy, mask, cut, '--force')).code).toBe(0);
  });

  it('refuses a mask that is not a one-channel PNG, saying what it expected', async () => {
    const colour = path.join(dir, 'mdog.50.dog.1_1_20_20.png');
    await writeFile(colour, await readFile(photo('dog')));
    expect(await run('extract', photo('dog'), colour, path.join(dir, 'colour-cut.png'))).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/expected a one-channel \(grey\) PNG mask .* got a 3-channel jpeg/),
    });
  });

  it('gives images with the same name distinct roots, and says so', async () => {
    const a = path.join(dir, 'a');
    const b = path.join(dir, 'b');
    await mkdir(a);
    await mkdir(b);
    await writeFile(path.join(a, 'dog.jpg'), await readFile(photo('dog')));
    await writeFile(path.join(b, 'dog.jpg'), await readFile(photo('eagle')));
    const out = path.join(dir, 'same-name');
    const result = await run('segment', path.join(a, 'dog.jpg'), path.join(b, 'dog.jpg'), out);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/b\/dog\.jpg: another image is also named dog; its masks are mdog-2\.\*/);
    const names = (await readdir(out)).map((name) => parseMaskFilename(name)!);
    expect(names.filter((n) => n.kind === 'background').map((n) => n.root).sort()).toEqual(['dog', 'dog-2']);
    expect(names.filter((n) => n.kind === 'object' && n.label === 'bird').map((n) => n.root)).toEqual(['dog-2']);
  });
});

describe('segcat segment as a process', () => {
  it('exits 1 at once when the output path is a file, instead of hanging', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'segcat-cli-'));
    try {
      const file = path.join(dir, 'not-a-folder');
      await writeFile(file, '');
      // A hang shows as no exit within a minute: the process is then killed and the code is null.
      const { code, stderr } = await runSegcat(['segment', photo('dog'), file], {}, 60_000);
      expect({ code, stderr }).toEqual({ code: 1, stderr: expect.stringMatching(/not-a-folder: not a directory/) });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('missing or corrupt models', () => {
  it('says how to pull the model', async () => {
    const empty = await mkdtemp(path.join(os.tmpdir(), 'segcat-models-'));
    try {
      await expect(createSegmenter(loadConfig({ MODEL_DIR: empty }))).rejects.toThrow(/not installed.*npx segcat models pull/);
      await writeFile(path.join(empty, 'yolo11n-seg-uint8.onnx'), 'garbage');
      const error = await createSegmenter(loadConfig({ MODEL_DIR: empty })).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ModelError);
      expect((error as Error).message).toMatch(/corrupt.*npx segcat models pull/);
      await expect(createSegmenter(loadConfig({ MODEL_DIR: empty, SEGCAT_MODEL: 'nope' }))).rejects.toThrow(/unknown model "nope".*yolo11n-seg-uint8/);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });

  it('pulls from MODEL_MIRROR, verifying sha256', async () => {
    const target = await mkdtemp(path.join(os.tmpdir(), 'segcat-pull-'));
    const mirror = await mkdtemp(path.join(os.tmpdir(), 'segcat-mirror-'));
    try {
      // The repository's own models/ (filled by npm test's pretest step) serves as the mirror.
      const installed = path.join(PACKAGE_ROOT, 'models');
      const env = { ...process.env };
      Object.assign(process.env, { MODEL_DIR: target, MODEL_MIRROR: installed });
      try {
        expect((await run('models', 'pull', 'yolo11n-seg-uint8')).stdout).toMatch(/yolo11n-seg-uint8: copied/);
        expect((await run('models', 'list')).stdout).toMatch(/yolo11n-seg-uint8\s+present/);
        process.env.MODEL_MIRROR = mirror;
        await writeFile(path.join(mirror, 'yolov8n-seg-uint8.onnx'), 'tampered');
        expect((await run('models', 'pull', 'yolov8n-seg-uint8')).stderr).toMatch(/sha256/);
        expect((await readdir(target)).sort()).toEqual(['yolo11n-seg-uint8.onnx']);
      } finally {
        process.env = env;
      }
    } finally {
      await rm(target, { recursive: true, force: true });
      await rm(mirror, { recursive: true, force: true });
    }
  });
});
