/**
 * The catalogue as a whole: its identity (one `Catalogue` row, written at first start; see
 * src/storage/catalogue-identity.ts for the rules that pair it with DATA_DIR), and what its rows
 * point to, for integrity checks.
 */
import type { Extraction, Image, PrismaClient } from '../generated/prisma/client.js';

/** The files one image's rows point to: its original, thumbnail, masks and cut-outs. */
export interface ImageFiles {
  id: string;
  sha256: string;
  status: Image['status'];
  error: string | null;
  storagePath: string;
  thumbnailPath: string | null;
  backgroundMaskPath: string | null;
  segments: { id: string; maskPath: string; extractions: Pick<Extraction, 'path' | 'format' | 'background' | 'refined'>[] }[];
}

/** Advisory lock taken while the row is claimed, so that servers starting together agree on one id. */
const CLAIM_LOCK_KEY = 0x5ec_a7a1;

/** Catalogue-wide reads and the catalogue id. */
export class CatalogueRepository {
  constructor(private readonly prisma: PrismaClient) {}

  /** The catalogue id this database holds, if it has one yet. */
  async id(): Promise<string | undefined> {
    const row = await this.prisma.catalogue.findFirst({ orderBy: { createdAt: 'asc' } });
    return row?.id;
  }

  /** Records `id` unless the database already holds one; returns the id it holds now. */
  async claim(id: string): Promise<string> {
    return this.prisma.$transaction(async (tx) => {
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(${CLAIM_LOCK_KEY}::bigint)`;
      const existing = await tx.catalogue.findFirst({ orderBy: { createdAt: 'asc' } });
      return existing?.id ?? (await tx.catalogue.create({ data: { id } })).id;
    });
  }

  /** What images' rows point to: a page of images in id order (after `after`), or the images with these ids. */
  async storedFilesOf(query: { after?: string; limit: number } | { ids: string[] }): Promise<ImageFiles[]> {
    const byIds = 'ids' in query;
    return this.prisma.image.findMany({
      where: byIds ? { id: { in: query.ids } } : query.after ? { id: { gt: query.after } } : {},
      orderBy: { id: 'asc' },
      ...(byIds ? {} : { take: query.limit }),
      select: {
        id: true,
        sha256: true,
        status: true,
        error: true,
        storagePath: true,
        thumbnailPath: true,
        backgroundMaskPath: true,
        segments: { select: { id: true, maskPath: true, extractions: { select: { path: true, format: true, background: true, refined: true } } } },
      },
    });
  }

  /** Every stored file a row points to (originals, thumbnails, masks, cut-outs). */
  async referencedFiles(): Promise<Set<string>> {
    const rows = await this.prisma.$queryRaw<{ path: string }[]>`
      SELECT "storagePath" AS path FROM "Image"
      UNION ALL SELECT "thumbnailPath" FROM "Image" WHERE "thumbnailPath" IS NOT NULL
      UNION ALL SELECT "backgroundMaskPath" FROM "Image" WHERE "backgroundMaskPath" IS NOT NULL
      UNION ALL SELECT "maskPath" FROM "Segment"
      UNION ALL SELECT path FROM "Extraction"`;
    return new Set(rows.map((row) => row.path));
  }
}
