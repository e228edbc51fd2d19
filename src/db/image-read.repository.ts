/**
 * Image reads: images by id, by content or page by page, the files their rows point to, and counts.
 */
import type { Image, PrismaClient } from '../generated/prisma/client.js';
import type { FileOwner } from '../storage/layout.js';
import { orderBy } from './row-order.js';

/** Reads of images and of the files their rows point to. */
export class ImageReadRepository {
  constructor(private readonly prisma: PrismaClient) {}

  /** An image by id. */
  async findById(id: string): Promise<Image | null> {
    return this.prisma.image.findUnique({ where: { id } });
  }

  /** Images by id, in the order asked (null where missing): also a DataLoader batch function. */
  async findByIds(ids: readonly string[]): Promise<(Image | null)[]> {
    const rows = await this.prisma.image.findMany({ where: { id: { in: [...ids] } } });
    return orderBy(ids, rows, (row) => row.id);
  }

  /** The image with these bytes, if catalogued. */
  async findBySha256(sha256: string): Promise<Image | null> {
    return this.prisma.image.findUnique({ where: { sha256 } });
  }

  /** A page of every image, in id order, for maintenance passes over the whole catalogue. */
  async page(after: string | undefined, limit: number): Promise<Image[]> {
    return this.prisma.image.findMany({
      orderBy: { id: 'asc' },
      take: limit,
      ...(after ? { where: { id: { gt: after } } } : {}),
    });
  }

  /** The mask files an image's current rows point to. */
  async filesOf(id: string): Promise<string[]> {
    const image = await this.prisma.image.findUnique({
      where: { id },
      select: { backgroundMaskPath: true, segments: { select: { maskPath: true } } },
    });
    if (!image) return [];
    return [image.backgroundMaskPath, ...image.segments.map((segment) => segment.maskPath)].filter((file): file is string => file !== null);
  }

  /**
   * Whether a row points to this stored file: the only files ever served. `owner` (from the file
   * store) names the row to look in, so this is one lookup by key.
   */
  async referencesFile(path: string, owner: FileOwner): Promise<boolean> {
    const { root, key } = owner;
    if (root === 'originals' || root === 'thumbnails') {
      return (await this.prisma.image.count({ where: { sha256: key, OR: [{ storagePath: path }, { thumbnailPath: path }] } })) > 0;
    }
    if (root === 'cutouts') return (await this.prisma.extraction.count({ where: { segmentId: key, path } })) > 0;
    // Overlays are a cache with no row of their own: they belong to their image while it exists.
    if (root === 'overlays') return (await this.prisma.image.count({ where: { id: key } })) > 0;
    const [found] = await this.prisma.$queryRaw<{ found: boolean }[]>`
      SELECT EXISTS (SELECT 1 FROM "Image" WHERE id = ${key}::uuid AND "backgroundMaskPath" = ${path})
          OR EXISTS (SELECT 1 FROM "Segment" WHERE "imageId" = ${key}::uuid AND "maskPath" = ${path}) AS found`;
    return found?.found === true;
  }

  /** Ids of images to re-segment: all of them, or those not segmented by this model and version. */
  async idsToResegment(filter: { outdatedFor?: { name: string; version: string } }): Promise<string[]> {
    const outdated = filter.outdatedFor;
    const rows = await this.prisma.image.findMany({
      where: outdated
        ? { OR: [{ modelName: { not: outdated.name } }, { modelVersion: { not: outdated.version } }, { modelName: null }, { status: 'FAILED' }] }
        : {},
      select: { id: true },
      orderBy: { createdAt: 'asc' },
    });
    return rows.map((row) => row.id);
  }

  /** How many images are in each status. */
  async countByStatus(): Promise<Record<Image['status'], number>> {
    const rows = await this.prisma.image.groupBy({ by: ['status'], _count: { _all: true } });
    const counts = { PENDING: 0, PROCESSING: 0, DONE: 0, FAILED: 0 };
    for (const row of rows) counts[row.status] = row._count._all;
    return counts;
  }

  /**
   * Images waiting, being segmented and failed: the queue's share of the catalogue. Unlike a count
   * of DONE images, which reads the whole catalogue (half a second at a million images), it reads
   * only the status index's entries for these three.
   */
  async countUnfinished(): Promise<Record<'PENDING' | 'PROCESSING' | 'FAILED', number>> {
    const rows = await this.prisma.image.groupBy({
      by: ['status'],
      where: { status: { in: ['PENDING', 'PROCESSING', 'FAILED'] } },
      _count: { _all: true },
    });
    const counts = { PENDING: 0, PROCESSING: 0, FAILED: 0 };
    for (const row of rows) if (row.status !== 'DONE') counts[row.status] = row._count._all;
    return counts;
  }
}
