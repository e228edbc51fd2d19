// `npm run bench:quality [folder]`: `segcat evaluate` on a labelled folder (instances.json and
// images/, default ../shared/coco-mini) with each model, then the README's comparison tables in
// Markdown. Runs the compiled CLI (bin/segcat.js → dist/).
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { formatEvaluation } from '../dist/cli/evaluation-report.js';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const folder = path.resolve(process.argv[2] ?? path.join(root, '..', 'shared', 'coco-mini'));
const MODELS = ['yolo11n-seg-uint8', 'yolov8n-seg-uint8'];

const instances = path.join(folder, 'instances.json');
if (!existsSync(instances)) {
  console.error(`bench:quality: ${instances} not found; give a folder holding instances.json and images/`);
  process.exit(1);
}

const results = [];
for (const model of MODELS) {
  const started = performance.now();
  const { stdout } = await promisify(execFile)(process.execPath, [path.join(root, 'bin', 'segcat.js'), 'evaluate', instances, path.join(folder, 'images'), '--model', model, '--json'], { maxBuffer: 64 * 1024 * 1024 });
  const evaluation = JSON.parse(stdout);
  results.push(evaluation);
  console.log(`${formatEvaluation(evaluation).join('\n')}\n(${((performance.now() - started) / 1000).toFixed(1)} s)\n`);
}

const pct = (v) => (v === null ? '-' : (100 * v).toFixed(1));
console.log('| model | box AP | box AP50 | box AP75 | mask AP | mask AP50 | mask AP75 |');
console.log('|---|---|---|---|---|---|---|');
for (const r of results) {
  const [b, m] = [r.box.summary, r.mask?.summary ?? {}];
  console.log(`| ${r.model.name} | ${pct(b.ap)} | ${pct(b.ap50)} | ${pct(b.ap75)} | ${pct(m.ap ?? null)} | ${pct(m.ap50 ?? null)} | ${pct(m.ap75 ?? null)} |`);
}
console.log(`\n| minScore | ${results.map((r) => `${r.model.name} precision / recall`).join(' | ')} |`);
console.log(`|---|${results.map(() => '---').join('|')}|`);
results[0].presence.forEach((p, i) => {
  console.log(`| ${p.floor.toFixed(2)} | ${results.map((r) => `${pct(r.presence[i].precision)} / ${pct(r.presence[i].recall)}`).join(' | ')} |`);
});
