/**
 * Catalogue reads: search by class with keyset paging, facets, and batch loads for DataLoader
 * (images by id are ImageReadRepository.findByIds).
 *
 * Class search runs on ImageLabel (one row per image and class with its best score), whose index
 * (label, maxScore DESC, imageCreatedAt DESC, imageId DESC) is exactly the result order, so a
 * one-class page is a short index range scan however large the catalogue grows.
 */
import { Prisma } from '../generated/prisma/client.js';
import type { Extraction, Image, ImageStatus, PrismaClient, Segment } from '../generated/prisma/client.js';
import { groupBy, orderBy } from './row-order.js';

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

/** Per class: images and segments at or above a score. */
export interface LabelFacet {
  label: string;
  imageCount: number;
  segmentCount: number;
}

/** Per group of classes (a COCO supercategory): images and segments at or above a score. */
export interface CategoryFacet {
  category: string;
  imageCount: number;
  segmentCount: number;
}

/** Read queries of the catalogue. */
export class SearchRepository {
  constructor(private readonly prisma: PrismaClient) {}

  /** One page of images (limit rows) in result order. */
  async findImages(query: ImageQuery): Promise<ScoredImage[]> {
    if (query.terms.length === 0) return this.findNewestImages(query);
    const ids = await this.prisma.$queryRaw<{ imageId: string; score: number }[]>`
      ${this.matchingImages(query)}
      ${query.after ? Prisma.sql`WHERE (m.score, m."createdAt", m."imageId") < (${query.after.score}::real, ${query.after.createdAt}, ${query.after.id}::uuid)` : Prisma.empty}
      ORDER BY m.score DESC, m."createdAt" DESC, m."imageId" DESC
      LIMIT ${query.limit}`;
    const images = await this.prisma.image.findMany({ where: { id: { in: ids.map((row) => row.imageId) } } });
    const byId = new Map(images.map((image) => [image.id, image]));
    return ids.flatMap(({ imageId, score }) => {
      const image = byId.get(imageId);
      return image ? [{ ...image, matchScore: score }] : [];
    });
  }

  /** How many images match, ignoring paging. */
  async countImages(query: ImageQuery): Promise<number> {
    if (query.terms.length === 0) return this.prisma.image.count({ where: { status: query.status } });
    const [row] = await this.prisma.$queryRaw<{ count: number }[]>`
      SELECT count(*)::int AS count FROM (${this.matchingImages(query)}) AS counted`;
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

  /** How many segments match, ignoring paging. */
  async countSegments(query: SegmentQuery): Promise<number> {
    return this.prisma.segment.count({ where: this.segmentWhere(query) });
  }

  /** Facet counts per class, most images first. */
  async labelFacets(minScore: number): Promise<LabelFacet[]> {
    return this.prisma.$queryRaw<LabelFacet[]>`
      SELECT label, count(DISTINCT "imageId")::int AS "imageCount", count(*)::int AS "segmentCount"
      FROM "Segment" WHERE score >= ${minScore}::real
      GROUP BY label ORDER BY "imageCount" DESC, "segmentCount" DESC, label`;
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

  /**
   * Images holding the query's terms with their match score: a term's score is its best class's;
   * for ALL the image's score is its weakest term's (an image is only as good a match as its least
   * certain term), for ANY its best class's. A single class needs no grouping, which keeps it on
   * the index; one term, or ANY, is a search for any of the classes.
   */
  private matchingImages(query: ImageQuery): Prisma.Sql {
    const statusJoin = query.status
      ? Prisma.sql`JOIN "Image" i ON i.id = l."imageId" AND i.status = ${query.status}::"ImageStatus"`
      : Prisma.empty;
    const labels = [...new Set(query.terms.flat())];
    if (labels.length === 1) {
      return Prisma.sql`SELECT * FROM (
        SELECT l."imageId", l."maxScore" AS score, l."imageCreatedAt" AS "createdAt"
        FROM "ImageLabel" l ${statusJoin}
        WHERE l.label = ${labels[0]} AND l."maxScore" >= ${query.minScore}::real) AS m`;
    }
    let score = Prisma.sql`max(l."maxScore")`;
    let having = Prisma.empty;
    if (query.matchAll && query.terms.length > 1) {
      if (query.terms.every((term) => term.length === 1)) {
        // One row per image and class: an image with every class has as many rows as classes.
        score = Prisma.sql`min(l."maxScore")`;
        having = Prisma.sql`HAVING count(*) = ${query.terms.length}`;
      } else {
        // Terms can share classes ("animal" and "dog"), so each is checked on its own.
        const best = query.terms.map((term) => Prisma.sql`max(CASE WHEN l.label IN (${Prisma.join(term)}) THEN l."maxScore" END)`);
        score = Prisma.sql`LEAST(${Prisma.join(best)})`;
        having = Prisma.sql`HAVING ${Prisma.join(best.map((term) => Prisma.sql`${term} IS NOT NULL`), ' AND ')}`;
      }
    }
    return Prisma.sql`SELECT * FROM (
      SELECT l."imageId", ${score} AS score, l."imageCreatedAt" AS "createdAt"
      FROM "ImageLabel" l ${statusJoin}
      WHERE l.label IN (${Prisma.join(labels)}) AND l."maxScore" >= ${query.minScore}::real
      GROUP BY l."imageId", l."imageCreatedAt"
      ${having}) AS m`;
  }

  private segmentWhere(query: SegmentQuery): Prisma.SegmentWhereInput {
    return {
      score: { gte: query.minScore },
      ...(query.labels.length > 0 && { label: { in: query.labels } }),
      ...(query.imageId && { imageId: query.imageId }),
    };
  }
}
