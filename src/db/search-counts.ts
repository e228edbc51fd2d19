/**
 * Counts from the running tallies (the Tally table, kept by triggers on Image, Segment and
 * ImageLabel: see prisma/migrations/20261126124339_search_tallies), so that `totalCount` and the
 * `labels` facets cost a few hundred small rows whatever the size of the catalogue.
 *
 * A tally is bucketed by score hundredth. A count at or above minScore adds up the buckets from
 * minScore's own, then takes away that bucket's rows below minScore: none when minScore is a whole
 * hundredth (0.3, 0.55), otherwise a range of the table's (label, score) index a hundredth wide.
 */
import { Prisma } from '../generated/prisma/client.js';
import type { ImageStatus, PrismaClient } from '../generated/prisma/client.js';

/** Per class: images and segments at or above a score. */
export interface LabelFacet {
  label: string;
  imageCount: number;
  segmentCount: number;
}

/** What a per-class tally counts, with the table and score column its rows come from. */
const CLASS_TALLIES = {
  /** Images with the class, by their best score of it. */
  images: { kind: 'IMAGE_LABEL', rows: Prisma.sql`"ImageLabel" r`, score: Prisma.sql`r."maxScore"` },
  /** Segments of the class. */
  segments: { kind: 'SEGMENT', rows: Prisma.sql`"Segment" r`, score: Prisma.sql`r.score` },
} as const;

/** Which per-class tally to read. */
export type ClassTally = keyof typeof CLASS_TALLIES;

/** Tally readers. */
export class SearchCounts {
  constructor(private readonly prisma: PrismaClient) {}

  /**
   * Images with any of `labels` (or segments of them) at or above minScore; every class when
   * `labels` is null. Images are counted once per class: exact for one class only.
   */
  async ofClasses(tally: ClassTally, labels: readonly string[] | null, minScore: number): Promise<number> {
    const { kind, rows, score } = CLASS_TALLIES[tally];
    const keys = labels
      ? Prisma.sql`${[...labels]}::text[]`
      : Prisma.sql`(SELECT array_agg(DISTINCT key) FROM "Tally" WHERE kind = ${kind}::"TallyKind")`;
    const [row] = await this.prisma.$queryRaw<{ count: number }[]>`
      WITH b AS (${bucketOf(minScore)}), k AS (SELECT ${keys} AS keys)
      SELECT ((SELECT coalesce(sum(t.delta), 0) FROM "Tally" t, b, k
               WHERE t.kind = ${kind}::"TallyKind" AND t.key = ANY(k.keys) AND t.bucket >= b.bucket)
            - (SELECT count(*) FROM ${rows}, b, k
               WHERE r.label = ANY(k.keys) AND ${score} >= b.floor AND ${score} < ${minScore}::real))::int AS count`;
    return row?.count ?? 0;
  }

  /** Images in a status, or all of them. */
  async ofStatus(status: ImageStatus | undefined): Promise<number> {
    const [row] = await this.prisma.$queryRaw<{ count: number }[]>`
      SELECT coalesce(sum(delta), 0)::int AS count FROM "Tally"
      WHERE kind = 'IMAGE_STATUS' ${status ? Prisma.sql`AND key = ${status}` : Prisma.empty}`;
    return row?.count ?? 0;
  }

  /** Facet counts per class at or above minScore, most images first. */
  async labelFacets(minScore: number): Promise<LabelFacet[]> {
    return this.prisma.$queryRaw<LabelFacet[]>`
      WITH b AS (${bucketOf(minScore)}),
      tallied AS (
        SELECT t.key AS label,
               coalesce(sum(t.delta) FILTER (WHERE t.kind = 'IMAGE_LABEL'), 0) AS images,
               coalesce(sum(t.delta) FILTER (WHERE t.kind = 'SEGMENT'), 0) AS segments
        FROM "Tally" t, b WHERE t.kind IN ('IMAGE_LABEL', 'SEGMENT') AND t.bucket >= b.bucket GROUP BY t.key
      ),
      counted AS (
        SELECT c.label,
               (c.images - (SELECT count(*) FROM "ImageLabel" r WHERE r.label = c.label AND r."maxScore" >= b.floor AND r."maxScore" < ${minScore}::real))::int AS "imageCount",
               (c.segments - (SELECT count(*) FROM "Segment" r WHERE r.label = c.label AND r.score >= b.floor AND r.score < ${minScore}::real))::int AS "segmentCount"
        FROM tallied c, b
      )
      SELECT * FROM counted WHERE "imageCount" > 0
      ORDER BY "imageCount" DESC, "segmentCount" DESC, label`;
  }
}

/** minScore's bucket and the lowest score in it, as one row (bucket, floor). */
function bucketOf(minScore: number): Prisma.Sql {
  return Prisma.sql`SELECT score_bucket(${minScore}::real) AS bucket, (score_bucket(${minScore}::real)::float8 / 100)::real AS floor`;
}
