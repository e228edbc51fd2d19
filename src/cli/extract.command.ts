/**
 * `segcat extract`: the recipe's extract.py. Cuts the object of one mask out of its image, cropped
 * to the box the mask's file name records.
 */
import { Option, type Command } from 'commander';
import { realpath, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadConfig } from '../config.js';
import { parseMaskFilename } from '../vision/mask-filename.js';
import { checkMaskFile, extractCutout, readBoxMask, validateImage, type CutoutOptions } from '../vision/raster.js';

const FORMATS: Record<string, CutoutOptions['format']> = { '.png': 'png', '.webp': 'webp', '.jpg': 'jpeg', '.jpeg': 'jpeg' };

/** Adds `extract` to the program. */
export function registerExtractCommand(program: Command): void {
  program
    .command('extract')
    .description('cut one object out of an image using a mask written by `segcat segment`')
    .argument('<image>', 'the image the mask was made from')
    .argument('<mask>', 'an object mask, named m<root>.<score>.<label>.<x>_<y>_<w>_<h>.png')
    .argument('<out>', 'output file: .png or .webp (or .jpg with --background white)')
    .addOption(new Option('--background <background>', 'what surrounds the object').choices(['transparent', 'white']).default('transparent'))
    .option('--refine', "cut along the photo's edges: refine the mask against the image first (the mask file is not changed)")
    .option('--force', 'write over <out> if it exists (never over the image or the mask)')
    .addHelpText('after', `
The output is cropped to the mask's box. With a transparent background the mask becomes the alpha
channel; white reproduces the original recipe. --refine moves the mask's edge onto the image's own
edges (a guided filter around the box) and gives it an anti-aliased border; the output then covers
the box grown by half a prototype cell (2 px on a 640-px photo). An existing <out> is kept unless
--force is given; the image and the mask are never written over.

Examples:
  $ npx segcat extract dog.jpg out/mdog.93.dog.124_210_198_330.png dog-cutout.png
  $ npx segcat extract dog.jpg out/mdog.93.dog.124_210_198_330.png dog.webp
  $ npx segcat extract dog.jpg out/mdog.93.dog.124_210_198_330.png dog.jpg --background white
  $ npx segcat extract dog.jpg out/mdog.93.dog.124_210_198_330.png dog-refined.png --refine`)
    .action(async (image: string, mask: string, out: string, options: { background: CutoutOptions['background']; refine?: boolean; force?: boolean }) => {
      const format = FORMATS[path.extname(out).toLowerCase()];
      if (!format) throw new Error(`${out}: output must end in .png or .webp (or .jpg with --background white)`);
      if (format === 'jpeg' && options.background === 'transparent') {
        throw new Error(`${out}: JPEG cannot be transparent; use .png or .webp, or --background white`);
      }
      const name = parseMaskFilename(mask);
      if (!name || name.kind !== 'object') {
        throw new Error(`${mask}: not an object mask name (expected m<root>.<score>.<label>.<x>_<y>_<w>_<h>.png)`);
      }
      await checkOutput(out, [image, mask], options.force === true);
      const picture = await validateImage(image, { maxPixels: loadConfig().maxImagePixels });
      await checkMaskFile(mask, picture);
      const boxMask = await readBoxMask(mask, name.box);
      const cutout = await extractCutout(image, boxMask, { background: options.background, format, refine: options.refine === true });
      // `wx` fails rather than replace a file that appeared meanwhile, unless --force.
      await writeFile(out, cutout.data, { flag: options.force ? 'w' : 'wx' });
      process.stdout.write(`${out}\n`);
    });
}

/** Refuses an output path that is one of the inputs, or an existing file without --force. */
async function checkOutput(out: string, inputs: string[], force: boolean): Promise<void> {
  const real = (file: string) => realpath(file).catch(() => path.resolve(file));
  const target = await real(out);
  for (const input of inputs) {
    if ((await real(input)) === target) throw new Error(`${out}: that is an input file; choose another output name`);
  }
  const exists = await realpath(out).then(() => true, () => false);
  if (exists && !force) throw new Error(`${out} already exists; choose another name, or add --force to replace it`);
}
