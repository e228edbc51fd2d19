/**
 * The text `segcat evaluate` prints: the COCO summary, AP per class and the image-level table.
 * Pure: a ModelEvaluation in, lines out. Figures are percentages, as COCO results are usually quoted.
 */
import type { CocoEvaluation } from '../vision/coco-eval.js';
import type { ModelEvaluation } from '../vision/model-evaluation.js';

function percent(value: number | null, width = 6): string {
  return (value === null ? '-' : (100 * value).toFixed(1)).padStart(width);
}

function summaryRow(name: string, evaluation: CocoEvaluation | null): string {
  if (!evaluation) return `${name.padEnd(6)}${'(not measured: some annotations have no mask)'.padStart(8)}`;
  const s = evaluation.summary;
  return `${name.padEnd(6)}${[s.ap, s.ap50, s.ap75, s.apSmall, s.apMedium, s.apLarge].map((v) => percent(v)).join('')}`;
}

/** The report as lines of text. */
export function formatEvaluation(evaluation: ModelEvaluation): string[] {
  const { model, presence } = evaluation;
  const lines = [
    `${model.name} (version ${model.version}) on ${evaluation.images} images: ${evaluation.objects} objects of ${evaluation.categories.length} classes, ${evaluation.crowdRegions} crowd regions (ignored)`,
    '',
    'COCO AP, % (IoU .50:.95 unless named; 101-point; at most 100 detections per image and class):',
    `${''.padEnd(6)}${['AP', 'AP50', 'AP75', 'APs', 'APm', 'APl'].map((h) => h.padStart(6)).join('')}`,
    summaryRow('box', evaluation.box),
    summaryRow('mask', evaluation.mask),
    '',
    'AP per class, % (IoU .50:.95):',
    `${'class'.padEnd(16)}${'objects'.padStart(8)}${'images'.padStart(8)}${'box'.padStart(8)}${'mask'.padStart(8)}`,
    ...[...evaluation.categories]
      .sort((a, b) => b.objects - a.objects || a.name.localeCompare(b.name))
      .map((c) => `${c.name.padEnd(16)}${String(c.objects).padStart(8)}${String(c.images).padStart(8)}${percent(c.boxAp, 8)}${percent(c.maskAp, 8)}`),
    '',
    `Images that contain a class, as a search with minScore finds them (${presence[0]?.present ?? 0} image-class pairs annotated):`,
    `${'minScore'.padEnd(10)}${'precision'.padStart(10)}${'recall'.padStart(8)}${'F1'.padStart(8)}${'returned'.padStart(10)}${'right'.padStart(8)}`,
    ...presence.map((p) =>
      `${p.floor.toFixed(2).padEnd(10)}${percent(p.precision, 10)}${percent(p.recall, 8)}${percent(p.f1, 8)}${String(p.returned).padStart(10)}${String(p.found).padStart(8)}`),
  ];
  if (evaluation.unlistedDetections > 0) {
    lines.push('', `${evaluation.unlistedDetections} detections of classes the file has no category for were left out.`);
  }
  if (evaluation.failures.length > 0) {
    lines.push('', `${evaluation.failures.length} images could not be measured and were left out (see above).`);
  }
  return lines;
}
