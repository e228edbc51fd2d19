/**
 * Catalogue reads: search by class with keyset paging, counts and facets, and batch loads for
 * DataLoader (images by id are ImageReadRepository.findByIds).
 *
 * Class search runs on ImageLabel (one row per image and class with its best score), whose index
 * (label, maxScore DESC, imageCreatedAt DESC, imageId DESC, outrankedBy) is exactly the result
 * order, so a page is a short index range scan per class however large the catalogue grows
 * (search-matches.ts). Counts come from running tallies where they can (search-counts.ts).
 */
import { Prisma } from '../generated/prisma/client.js';
import type { Extraction, Image, ImageStatus, PrismaClient, Segment } from '../generated/prisma/client.js';
import { groupBy, orderBy } from './row-order.js';
import { SearchCounts, type LabelFacet } from './search-counts.js';
import { matchCountSql, matchPageSql } from './search-matches.js';

export type { LabelFacet } from './search-counts.js';

/** Where a page starts: the sort key of the last row of the previous page. */
export interface ImageCursor {
  score: number | null;
  createdAt: Date;
  id: string;
}

/** Sort key of a segment page. */
export interface SegmentCursor {
  score: number;
  id: string;
}

/** A class search over images. */
export interface ImageQuery {
  /**
   * The terms searched for, each the class names it stands for (a class alone, or a category's
   * classes); empty means every image, newest first.
   */
  terms: string[][];
  /** true: every term must be present (one of its classes); false: any class of any term. */
  matchAll: boolean;
  minScore: number;
  status?: ImageStatus;
  limit: number;
  after?: ImageCursor;
}

/** A search over segments. */
export interface SegmentQuery {
  /** Class names, any of which matches; empty means every class. */
  labels: string[];
  minScore: number;
  imageId?: string;
  limit: number;
  after?: SegmentCursor;
}

/** An image with the score it matched with (null when no class was asked for). */
export type ScoredImage = Image & { matchScore: number | null };

/** Per group of classes (a COCO supercategory): images and segments at or above a score. */
export interface CategoryFacet {
  category: string;
  imageCount: number;
  segmentCount: number;
}

/** Read queries of the catalogue. */
export class SearchRepository {
  private readonly counts: SearchCounts;

  constructor(private readonly prisma: PrismaClient) {
    this.counts = new SearchCounts(prisma);
  }

  /** One page of images (limit rows) in result order. */
  async findImages(query: ImageQuery): Promise<ScoredImage[]> {
    if (query.terms.length === 0) return this.findNewestImages(query);
    // The images come with their page in one round trip: the Image columns are the model's fields.
    return this.prisma.$queryRaw<ScoredImage[]>`
      SELECT i.*, m.score AS "matchScore" FROM (${matchPageSql(query)}) AS m JOIN "Image" i ON i.id = m."imageId"
      ORDER BY m.score DESC, m."createdAt" DESC, m."imageId" DESC`;
  }

  /**
   * How many images match, ignoring paging. Read from the tallies for every image or one class
   * (without a status); otherwise counted over the index entries of the classes asked for.
   */
  async countImages(query: ImageQuery): Promise<number> {
    if (query.terms.length === 0) return this.counts.ofStatus(query.status);
    const [first, ...others] = query.terms;
    if (others.length === 0 && first?.length === 1 && !query.status) return this.counts.ofClasses('images', first, query.minScore);
    const [row] = await this.prisma.$queryRaw<{ count: number }[]>(matchCountSql(query));
    return row?.count ?? 0;
  }

  /** One page of segments, best score first. */
  async findSegments(query: SegmentQuery): Promise<Segment[]> {
    return this.prisma.segment.findMany({
      where: {
        ...this.segmentWhere(query),
        ...(query.after && {
          OR: [
            { score: { lt: query.after.score } },
            { score: query.after.score, id: { lt: query.after.id } },
          ],
        }),
      },
      orderBy: [{ score: 'desc' }, { id: 'desc' }],
      take: query.limit,
    });
  }

  /** How many segments match, ignoring paging: from the tallies, unless for one image. */
  async countSegments(query: SegmentQuery): Promise<number> {
    if (query.imageId) return this.prisma.segment.count({ where: this.segmentWhere(query) });
    return this.counts.ofClasses('segments', query.labels.length > 0 ? query.labels : null, query.minScore);
  }

  /** Facet counts per class, most images first (from the tallies). */
  async labelFacets(minScore: number): Promise<LabelFacet[]> {
    return this.counts.labelFacets(minScore);
  }

  /**
   * Facet counts per category, most images first; `categories` names each one's classes. An
   * image counts once per category, however many of its classes it holds.
   */
  async categoryFacets(minScore: number, categories: ReadonlyMap<string, readonly string[]>): Promise<CategoryFacet[]> {
    const pairs = [...categories].flatMap(([category, labels]) => labels.map((label) => Prisma.sql`(${label}::text, ${category}::text)`));
    if (pairs.length === 0) return [];
    return this.prisma.$queryRaw<CategoryFacet[]>`
      SELECT c.category, count(DISTINCT s."imageId")::int AS "imageCount", count(*)::int AS "segmentCount"
      FROM "Segment" s JOIN (VALUES ${Prisma.join(pairs)}) AS c(label, category) ON c.label = s.label
      WHERE s.score >= ${minScore}::real
      GROUP BY c.category ORDER BY "imageCount" DESC, "segmentCount" DESC, c.category`;
  }

  /** Segments by id, in the order asked. */
  async segmentsByIds(ids: readonly string[]): Promise<(Segment | null)[]> {
    const rows = await this.prisma.segment.findMany({ where: { id: { in: [...ids] } } });
    return orderBy(ids, rows, (row) => row.id);
  }

  /** Every segment of each image, best score first. */
  async segmentsOfImages(imageIds: readonly string[]): Promise<Segment[][]> {
    const rows = await this.prisma.segment.findMany({
      where: { imageId: { in: [...imageIds] } },
      orderBy: [{ score: 'desc' }, { id: 'asc' }],
    });
    return groupBy(imageIds, rows, (row) => row.imageId);
  }

  /** Distinct classes of each image at or above minScore, most confident first. */
  async labelsOfImages(imageIds: readonly string[], minScore: number): Promise<string[][]> {
    const rows = await this.prisma.imageLabel.findMany({
      where: { imageId: { in: [...imageIds] }, maxScore: { gte: minScore } },
      orderBy: [{ maxScore: 'desc' }, { label: 'asc' }],
    });
    return groupBy(imageIds, rows, (row) => row.imageId).map((labels) => labels.map((row) => row.label));
  }

  /** Cut-outs of each segment, oldest first. */
  async extractionsOfSegments(segmentIds: readonly string[]): Promise<Extraction[][]> {
    const rows = await this.prisma.extraction.findMany({
      where: { segmentId: { in: [...segmentIds] } },
      orderBy: { createdAt: 'asc' },
    });
    return groupBy(segmentIds, rows, (row) => row.segmentId);
  }

  private async findNewestImages(query: ImageQuery): Promise<ScoredImage[]> {
    const after = query.after;
    const images = await this.prisma.image.findMany({
      where: {
        status: query.status,
        ...(after && {
          OR: [{ createdAt: { lt: after.createdAt } }, { createdAt: after.createdAt, id: { lt: after.id } }],
        }),
      },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: query.limit,
    });
    return images.map((image) => ({ ...image, matchScore: null }));
  }

  private segmentWhere(query: SegmentQuery): Prisma.SegmentWhereInput {
    return {
      score: { gte: query.minScore },
      ...(query.labels.length > 0 && { label: { in: query.labels } }),
      ...(query.imageId && { imageId: query.imageId }),
    };
  }
}
