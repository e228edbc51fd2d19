/**
 * COCO export: the catalogue, or the images one `images` filter selects, as a COCO instances file
 * (README, "Exporting to COCO"): `images`, the 80 `categories` with their supercategories, and one
 * annotation per segment with its box, area, score and mask in compressed RLE.
 *
 * Streamed, so memory stays flat however large the catalogue: images are read a page at a time
 * through the catalogue's own search (the filter means exactly what it means for `images`), one
 * image's masks are read and encoded at a time, and the `images` array is written to the file's
 * first section while the annotations fill its second (SectionedFile joins them at the end).
 *
 * What the file says:
 * - `id`s are 1, 2, 3... in export order, as COCO tools expect integers; `segcat_id` keeps
 *   segcat's id. `file_name` is the original's path under DATA_DIR, unique and openable
 *   (`original_filename` is the name it was uploaded with).
 * - Annotations: every segment of an exported image that scores at least the filter's minScore,
 *   whatever its class. COCO tools take an image's annotations to be all its objects, so the
 *   filter's labels choose images, not annotations.
 * - `bbox` is the model's box, as the API's `bbox` and the mask's file name give it; masks are
 *   stored inside their box, so the box contains every pixel of `segmentation` (it may be a
 *   pixel or two larger than the mask's tight box). `area` is the mask's pixel count.
 * - Without a status, only DONE images: one not segmented yet has no annotations and would
 *   read as an image with nothing in it.
 */
import { randomUUID } from 'node:crypto';
import type { ImageStatus } from '../models.js';
import { exportPath } from '../storage/layout.js';
import { COCO_CATEGORIES, cocoCategory } from '../vision/coco-categories.js';
import { compressRunLengths, runLengthArea, runLengths } from '../vision/coco-rle.js';
import { DEFAULT_MIN_SCORE, MAX_IMAGE_PAGE, type CatalogueService, type ImageSearch } from './catalogue.service.js';
import type { VisionEngine } from './vision.port.js';

/** Which images to export: the filter of the `images` query. */
export type CocoExportFilter = Omit<ImageSearch, 'first' | 'after'>;

/** A file being written in sections (storage's SectionedFile). */
export interface ExportFile {
  write(section: number, text: string): Promise<void>;
  /** Puts the file in place; resolves to its size in bytes. */
  commit(): Promise<number>;
  /** Removes what was written, unless committed. */
  discard(): Promise<void>;
}

/** What an export reads of an image. */
export interface ExportedImage {
  id: string;
  filename: string;
  /** The original, relative to DATA_DIR. */
  storagePath: string;
  width: number;
  height: number;
}

/** What an export reads of a segment. */
export interface ExportedSegment {
  id: string;
  label: string;
  score: number;
  x: number;
  y: number;
  width: number;
  height: number;
  /** Mask file, relative to DATA_DIR. */
  maskPath: string;
}

/** Dependencies of the export service. */
export interface CocoExportDeps {
  catalogue: Pick<CatalogueService, 'findImages'> & {
    segmentsOfImages(imageIds: readonly string[]): Promise<ExportedSegment[][]>;
  };
  /** Reads a stored file (a mask). */
  readStored(relativePath: string): Promise<Buffer>;
  /** Starts writing a stored file (relative path) in `sections` sections. */
  createStoredFile(relativePath: string, sections: number): Promise<ExportFile>;
  /** Starts writing a file in `sections` sections at an absolute path on this machine. */
  createLocalFile(absolutePath: string, sections: number): Promise<ExportFile>;
  vision: Pick<VisionEngine, 'readMask'>;
}

/** What an export wrote. */
export interface CocoExportSummary {
  images: number;
  annotations: number;
  bytes: number;
}

/** An export kept under DATA_DIR and served under /files/. */
export interface StoredCocoExport extends CocoExportSummary {
  id: string;
  /** Relative to DATA_DIR. */
  path: string;
}

/** Options of an export. */
export interface CocoExportOptions {
  /** Stops the export (and removes what it wrote) when aborted, e.g. when the client goes away. */
  signal?: AbortSignal;
  /** Told after each page of images: `total` images matched when the export started, and the counts so far. */
  onProgress?: (progress: { total: number; images: number; annotations: number }) => void;
}

const IMAGES = 0;
const ANNOTATIONS = 1;

/** Writes COCO instances files of the catalogue. */
export class CocoExportService {
  constructor(private readonly deps: CocoExportDeps) {}

  /** Exports to DATA_DIR/exports/<id>.json. */
  async exportToStore(filter: CocoExportFilter, options: CocoExportOptions = {}): Promise<StoredCocoExport> {
    const id = randomUUID();
    const path = exportPath(id);
    return { id, path, ...(await this.exportTo(await this.deps.createStoredFile(path, 2), filter, options)) };
  }

  /** Exports to a file at an absolute path on this machine (replaced whole when the export is complete). */
  async exportToFile(filter: CocoExportFilter, absolutePath: string, options: CocoExportOptions = {}): Promise<CocoExportSummary> {
    return this.exportTo(await this.deps.createLocalFile(absolutePath, 2), filter, options);
  }

  private async exportTo(file: ExportFile, filter: CocoExportFilter, options: CocoExportOptions): Promise<CocoExportSummary> {
    try {
      const counts = await this.write(filter, file, options);
      return { ...counts, bytes: await file.commit() };
    } finally {
      await file.discard();
    }
  }

  private async write(filter: CocoExportFilter, file: ExportFile, options: CocoExportOptions): Promise<{ images: number; annotations: number }> {
    const search = { ...filter, status: filter.status ?? ('DONE' satisfies ImageStatus), first: MAX_IMAGE_PAGE };
    const minScore = filter.minScore ?? DEFAULT_MIN_SCORE;
    // The first page is read before anything is written, so a bad filter fails at once.
    let page = await this.deps.catalogue.findImages(search);
    await file.write(IMAGES, `${documentHead(search, minScore)},"images":[`);
    await file.write(ANNOTATIONS, '],"annotations":[');
    const counts = { images: 0, annotations: 0 };
    const total = options.onProgress ? await page.totalCount() : 0;
    for (;;) {
      const images = page.edges.map((edge) => edge.node);
      const segments = await this.deps.catalogue.segmentsOfImages(images.map((image) => image.id));
      for (const [index, image] of images.entries()) {
        options.signal?.throwIfAborted();
        const annotations = await this.annotate(image, segments[index] ?? [], minScore);
        counts.images += 1;
        await file.write(IMAGES, `${counts.images > 1 ? ',' : ''}\n${JSON.stringify(imageEntry(counts.images, image))}`);
        for (const annotation of annotations) {
          counts.annotations += 1;
          const entry = { id: counts.annotations, image_id: counts.images, ...annotation };
          await file.write(ANNOTATIONS, `${counts.annotations > 1 ? ',' : ''}\n${JSON.stringify(entry)}`);
        }
      }
      options.onProgress?.({ total, ...counts });
      if (!page.pageInfo.hasNextPage || !page.pageInfo.endCursor) break;
      page = await this.deps.catalogue.findImages({ ...search, after: page.pageInfo.endCursor });
    }
    await file.write(ANNOTATIONS, ']}\n');
    return counts;
  }

  /**
   * The annotations of one image. A mask that cannot be read may belong to a segment replaced or
   * deleted since its page was read (a re-segmentation, deleteImage): the image's segments are
   * read again and used once more before the export gives up (`segcat check` finds lost files).
   */
  private async annotate(image: ExportedImage, segments: ExportedSegment[], minScore: number) {
    const annotations = (found: ExportedSegment[]) =>
      Promise.all(found.filter((segment) => segment.score >= minScore).map((segment) => this.annotation(image, segment)));
    try {
      return await annotations(segments);
    } catch {
      const [current = []] = await this.deps.catalogue.segmentsOfImages([image.id]);
      return annotations(current).catch((error: unknown) => {
        const reason = error instanceof Error ? error.message : String(error);
        throw new Error(`cannot export image ${image.id} (${image.filename}): ${reason}; \`segcat check\` finds missing or damaged files`, { cause: error });
      });
    }
  }

  private async annotation(image: ExportedImage, segment: ExportedSegment) {
    const category = cocoCategory(segment.label);
    if (!category) {
      throw new Error(`segment ${segment.id} is a "${segment.label}", which is not a COCO class: COCO export needs a model trained on COCO's classes`);
    }
    const box = { x: segment.x, y: segment.y, width: segment.width, height: segment.height };
    const mask = await this.deps.vision.readMask(await this.deps.readStored(segment.maskPath), box);
    const counts = runLengths(mask, image.width, image.height);
    return {
      category_id: category.id,
      bbox: [box.x, box.y, box.width, box.height],
      area: runLengthArea(counts),
      iscrowd: 0,
      score: segment.score,
      segcat_id: segment.id,
      segmentation: { size: [image.height, image.width], counts: compressRunLengths(counts) },
    };
  }
}

/** `{"info":…,"licenses":[],"categories":[…]` (the document's opening, up to the images). */
function documentHead(filter: CocoExportFilter, minScore: number): string {
  const created = new Date();
  const info = {
    description: 'segcat catalogue export',
    url: '',
    version: '1.0',
    year: created.getUTCFullYear(),
    contributor: 'segcat',
    date_created: created.toISOString(),
    segcat_filter: { labels: filter.labels ?? [], match: filter.match ?? 'ALL', minScore, status: filter.status },
  };
  return `{"info":${JSON.stringify(info)},"licenses":[],"categories":${JSON.stringify(COCO_CATEGORIES)}`;
}

function imageEntry(id: number, image: ExportedImage) {
  return {
    id,
    file_name: image.storagePath,
    width: image.width,
    height: image.height,
    segcat_id: image.id,
    original_filename: image.filename,
  };
}
