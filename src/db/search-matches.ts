/**
 * The SQL of a class search: which images match, with the score they match with, read from
 * ImageLabel's index (label, maxScore DESC, imageCreatedAt DESC, imageId DESC, outrankedBy).
 *
 * Each class asked for is one branch: a range of that index, best first. An image matches ALL the
 * terms once its weakest term is found, and ANY at its best class, so each branch keeps only the
 * rows that are that one row of their image, which the row's `outrankedBy` (the image's classes
 * ranked above it) decides on its own:
 * - ALL: every other term has a class above this row (so this row is the weakest term's best), and
 *   no other class of this row's own term is above it (so it is that term's best);
 * - ANY (one term of every class): no other class asked for is above this row.
 * Branches are then merged in result order, so a page costs the index entries above its last row
 * (each branch stops after a page of matches), never a pass over every image of the classes.
 */
import { Prisma } from '../generated/prisma/client.js';
import type { ImageQuery } from './search.repository.js';

/** Columns of a match: imageId, score (what the image matched with), createdAt. */
const MATCH_COLUMNS = Prisma.sql`l."imageId", l."maxScore" AS score, l."imageCreatedAt" AS "createdAt"`;
const BRANCH_ORDER = Prisma.sql`ORDER BY l."maxScore" DESC, l."imageCreatedAt" DESC, l."imageId" DESC`;

/** One page of matching images (query.limit rows after query.after), in result order. */
export function matchPageSql(query: ImageQuery): Prisma.Sql {
  const branches = classesOf(query).map(
    (label) => Prisma.sql`(SELECT ${MATCH_COLUMNS} FROM "ImageLabel" l WHERE ${branchWhere(label, query, true)} ${BRANCH_ORDER} LIMIT ${query.limit})`,
  );
  return Prisma.sql`SELECT * FROM (${Prisma.join(branches, ' UNION ALL ')}) AS m
    ORDER BY m.score DESC, m."createdAt" DESC, m."imageId" DESC LIMIT ${query.limit}`;
}

/** How many images match, ignoring paging: a pass over the index entries of the classes asked. */
export function matchCountSql(query: ImageQuery): Prisma.Sql {
  const branches = classesOf(query).map(
    (label) => Prisma.sql`SELECT count(*) AS n FROM "ImageLabel" l WHERE ${branchWhere(label, query, false)}`,
  );
  return Prisma.sql`SELECT coalesce(sum(n), 0)::int AS count FROM (${Prisma.join(branches, ' UNION ALL ')}) AS m`;
}

/** The terms an image must satisfy: ALL's own, or ANY's as one term holding every class. */
function termsOf(query: ImageQuery): string[][] {
  return query.matchAll ? query.terms : [classesOf(query)];
}

function classesOf(query: ImageQuery): string[] {
  return [...new Set(query.terms.flat())];
}

/**
 * The rows of one class that are their image's match (see the header), at or above minScore and,
 * when `paged`, after the query's cursor.
 */
function branchWhere(label: string, query: ImageQuery, paged: boolean): Prisma.Sql {
  const terms = termsOf(query);
  const conditions = [Prisma.sql`l.label = ${label}`, Prisma.sql`l."maxScore" >= ${query.minScore}::real`];
  if (paged && query.after) {
    const { score, createdAt, id } = query.after;
    conditions.push(Prisma.sql`(l."maxScore", l."imageCreatedAt", l."imageId") < (${score}::real, ${createdAt}, ${id}::uuid)`);
  }
  for (const term of terms.filter((classes) => !classes.includes(label))) {
    conditions.push(Prisma.sql`l."outrankedBy" && ${term}::text[]`);
  }
  const rivals = terms.filter((classes) => classes.includes(label)).map((classes) => classes.filter((other) => other !== label));
  if (!rivals.some((classes) => classes.length === 0)) {
    const alone = rivals.map((classes) => Prisma.sql`NOT (l."outrankedBy" && ${classes}::text[])`);
    conditions.push(Prisma.sql`(${Prisma.join(alone, ' OR ')})`);
  }
  if (query.status) {
    conditions.push(Prisma.sql`EXISTS (SELECT 1 FROM "Image" i WHERE i.id = l."imageId" AND i.status = ${query.status}::"ImageStatus")`);
  }
  return Prisma.join(conditions, ' AND ');
}
