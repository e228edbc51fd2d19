/**
 * Segmentation results: an image's status while it is segmented, its segments and labels, and the
 * cut-outs made of its segments.
 *
 * Rows that point at files are written only after those files are durable (see storage/atomic-write.ts), and a
 * result replaces the previous one in a single transaction, so readers see either the old
 * segments or the new ones, never a mix.
 */
import { Prisma } from '../generated/prisma/client.js';
import type { Extraction, PrismaClient } from '../generated/prisma/client.js';
import type { Segment } from '../models.js';
import { IMAGE_EVENTS_CHANNEL, imageEventPayload, notifyImageEvents } from './image-events.js';

/** One segment of a segmentation result, its mask file already written. */
export type NewSegment = Omit<Segment, 'id' | 'imageId' | 'createdAt'>;

/** A whole segmentation result for one image. */
export interface SegmentationRecord {
  modelName: string;
  modelVersion: string;
  segments: NewSegment[];
  backgroundMaskPath: string;
  backgroundArea: number;
}

/** What a segmentation result replaced, for the caller to remove once it has committed. */
export interface ReplacedSegmentation {
  /** Old masks and cut-outs that the new result does not use. */
  files: string[];
  /** The replaced segments, whose cut-out folders go too. */
  segmentIds: string[];
}

/** A cut-out about to be recorded. */
export type NewExtraction = Pick<Extraction, 'segmentId' | 'format' | 'background' | 'refined' | 'path' | 'width' | 'height' | 'bytes'>;

/** Segmentation results and cut-outs. */
export class SegmentationRepository {
  constructor(private readonly prisma: PrismaClient) {}

  /** Marks an image as being segmented now; false when it is gone. */
  async markProcessing(id: string): Promise<boolean> {
    const { count } = await this.prisma.image.updateMany({ where: { id }, data: { status: 'PROCESSING', error: null } });
    return count === 1;
  }

  /**
   * Replaces an image's segments with a new result and marks it DONE. Returns what the replaced
   * result leaves for the caller to remove once this has committed, or null (having recorded
   * nothing) when the image is gone: deleted while it was being segmented.
   */
  async saveSegmentation(id: string, record: SegmentationRecord): Promise<ReplacedSegmentation | null> {
    if (await this.saveFirstSegmentation(id, record)) return { files: [], segmentIds: [] };
    return this.prisma.$transaction(async (tx) => {
      // Locked first, as ImageWriteRepository.delete does: the two take turns.
      const locked = await tx.$queryRaw<unknown[]>`SELECT 1 FROM "Image" WHERE id = ${id}::uuid FOR UPDATE`;
      if (locked.length === 0) return null;
      const previous = await tx.image.findUniqueOrThrow({
        where: { id },
        select: {
          backgroundMaskPath: true,
          segments: { select: { id: true, maskPath: true, extractions: { select: { path: true } } } },
        },
      });
      await tx.segment.deleteMany({ where: { imageId: id } });
      await tx.imageLabel.deleteMany({ where: { imageId: id } });
      const image = await tx.image.update({
        where: { id },
        data: {
          status: 'DONE',
          error: null,
          modelName: record.modelName,
          modelVersion: record.modelVersion,
          backgroundMaskPath: record.backgroundMaskPath,
          backgroundArea: record.backgroundArea,
          segmentedAt: new Date(),
        },
      });
      await tx.segment.createMany({ data: record.segments.map((segment) => ({ ...segment, imageId: id })) });
      await tx.imageLabel.createMany({
        data: summariseLabels(record.segments).map((label) => ({ ...label, imageId: id, imageCreatedAt: image.createdAt })),
      });
      await notifyImageEvents(tx, [id], 'DONE');
      const kept = new Set([...record.segments.map((segment) => segment.maskPath), record.backgroundMaskPath]);
      const replaced = [
        previous.backgroundMaskPath,
        ...previous.segments.flatMap((segment) => [segment.maskPath, ...segment.extractions.map((e) => e.path)]),
      ];
      return {
        files: replaced.filter((file): file is string => file !== null && !kept.has(file)),
        segmentIds: previous.segments.map((segment) => segment.id),
      };
    });
  }

  /**
   * The common case, an image segmented for the first time (it has no model yet, so no segments
   * or labels either), as one statement: one round trip instead of a transaction's nine. Returns
   * false, having changed nothing, when the image was segmented before or is gone.
   */
  private async saveFirstSegmentation(id: string, record: SegmentationRecord): Promise<boolean> {
    const segments = record.segments;
    const labels = summariseLabels(segments);
    const column = <K extends keyof NewSegment>(key: K) => segments.map((segment) => segment[key]);
    const rows = await this.prisma.$queryRaw<unknown[]>`
      WITH image AS (
        UPDATE "Image" SET status = 'DONE', error = NULL, "modelName" = ${record.modelName}, "modelVersion" = ${record.modelVersion},
          "backgroundMaskPath" = ${record.backgroundMaskPath}, "backgroundArea" = ${record.backgroundArea}::int,
          "segmentedAt" = now(), "updatedAt" = now()
        WHERE id = ${id}::uuid AND "modelName" IS NULL
        RETURNING id, "createdAt"
      ), segments AS (
        INSERT INTO "Segment" ("imageId", label, "classId", score, x, y, width, height, area, "maskPath")
        SELECT image.id, s.* FROM image, unnest(${column('label')}::text[], ${column('classId')}::int[], ${column('score')}::real[],
          ${column('x')}::int[], ${column('y')}::int[], ${column('width')}::int[], ${column('height')}::int[], ${column('area')}::int[],
          ${column('maskPath')}::text[]) AS s
      ), labels AS (
        -- Each outrankedBy goes as JSON text: unnest() would flatten an array of arrays.
        INSERT INTO "ImageLabel" ("imageId", "imageCreatedAt", label, "maxScore", "segmentCount", "outrankedBy")
        SELECT image.id, image."createdAt", l.label, l.score, l.count, ARRAY(SELECT jsonb_array_elements_text(l.outranked::jsonb))
        FROM image, unnest(${labels.map((l) => l.label)}::text[], ${labels.map((l) => l.maxScore)}::real[],
          ${labels.map((l) => l.segmentCount)}::int[], ${labels.map((l) => JSON.stringify(l.outrankedBy))}::text[]) AS l(label, score, count, outranked)
      )
      SELECT pg_notify(${IMAGE_EVENTS_CHANNEL}, ${imageEventPayload(id, 'DONE')})::text FROM image`;
    return rows.length === 1;
  }

  /** Marks an image FAILED with a reason people can read (nothing, when it is gone). */
  async markFailed(id: string, reason: string): Promise<void> {
    await this.prisma.$transaction(async (tx) => {
      const { count } = await tx.image.updateMany({ where: { id }, data: { status: 'FAILED', error: reason } });
      if (count === 1) await notifyImageEvents(tx, [id], 'FAILED');
    });
  }

  /**
   * Records a cut-out, or updates the one for the same segment, format, background and refinement; null,
   * having recorded nothing, when the segment is gone (its image was deleted or re-segmented).
   */
  async upsertExtraction(extraction: NewExtraction): Promise<Extraction | null> {
    const { segmentId, format, background, refined } = extraction;
    try {
      return await this.prisma.extraction.upsert({
        where: { segmentId_format_background_refined: { segmentId, format, background, refined } },
        create: extraction,
        update: { path: extraction.path, width: extraction.width, height: extraction.height, bytes: extraction.bytes },
      });
    } catch (error) {
      if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2003') return null;
      throw error;
    }
  }

  /** The stored cut-out for a segment, format, background and refinement, if any. */
  async findExtraction(key: Pick<Extraction, 'segmentId' | 'format' | 'background' | 'refined'>): Promise<Extraction | null> {
    return this.prisma.extraction.findUnique({ where: { segmentId_format_background_refined: key } });
  }
}

/** The content of an image's ImageLabel rows. */
interface LabelSummary {
  label: string;
  /** The class's best score in the image. */
  maxScore: number;
  segmentCount: number;
  /** The classes ranked before this one. */
  outrankedBy: string[];
}

/**
 * Per class: its best score, how many segments it has, and the classes that outrank it. Classes
 * rank by best score, equal scores by name; a score is stored as a real, so ranks compare the
 * reals, as searches do.
 */
function summariseLabels(segments: readonly Pick<NewSegment, 'label' | 'score'>[]): LabelSummary[] {
  const byLabel = new Map<string, { maxScore: number; segmentCount: number }>();
  for (const segment of segments) {
    const entry = byLabel.get(segment.label) ?? { maxScore: 0, segmentCount: 0 };
    entry.maxScore = Math.max(entry.maxScore, segment.score);
    entry.segmentCount += 1;
    byLabel.set(segment.label, entry);
  }
  const ranked = [...byLabel]
    .map(([label, entry]) => ({ label, ...entry }))
    .sort((a, b) => Math.fround(b.maxScore) - Math.fround(a.maxScore) || (a.label < b.label ? -1 : a.label > b.label ? 1 : 0));
  return ranked.map((entry, rank) => ({ ...entry, outrankedBy: ranked.slice(0, rank).map((above) => above.label) }));
}
