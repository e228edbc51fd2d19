-- Search at a million images: a search for several classes reads one index (ImageLabel gains
-- outrankedBy), and totalCount and the labels facets add up running counts (Tally) instead of
-- counting rows. The first trigger created on each table locks out its writers until this
-- migration commits, so the backfills below and the triggers agree. Servers of an older version
-- must be stopped first, as they would write ImageLabel rows without outrankedBy.

-- CreateEnum
CREATE TYPE "TallyKind" AS ENUM ('IMAGE_LABEL', 'SEGMENT', 'IMAGE_STATUS');

-- DropIndex
DROP INDEX "ImageLabel_label_maxScore_imageCreatedAt_imageId_idx";

-- AlterTable
ALTER TABLE "ImageLabel" ADD COLUMN     "outrankedBy" TEXT[];

-- CreateTable
CREATE TABLE "Tally" (
    "id" BIGSERIAL NOT NULL,
    "kind" "TallyKind" NOT NULL,
    "key" TEXT NOT NULL,
    "bucket" SMALLINT NOT NULL,
    "delta" INTEGER NOT NULL,

    CONSTRAINT "Tally_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "Tally_kind_key_bucket_idx" ON "Tally"("kind", "key", "bucket");

-- The hundredth of a score: the largest k with k/100 (as a real) <= score, so that minScore 0.3
-- is exactly the buckets from 30 up, and any other minScore is those of its bucket and above, less
-- the rows of its bucket below it. Not STRICT, so that PostgreSQL inlines it into queries: a call
-- per row would cost more than the row.
CREATE FUNCTION score_bucket(score real) RETURNS smallint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT (floor(score::float8 * 100) + CASE WHEN ((floor(score::float8 * 100) + 1) / 100)::real <= score THEN 1 ELSE 0 END)::smallint
$$;

-- Folds the Tally rows into one per kind, key and bucket. One fold at a time (a writer that finds
-- one running skips its own), and only under READ COMMITTED, where rows committed meanwhile are
-- simply left for the next fold.
CREATE FUNCTION tally_fold() RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
  IF current_setting('transaction_isolation') <> 'read committed' OR NOT pg_try_advisory_xact_lock(1952541797) THEN
    RETURN;
  END IF;
  WITH gone AS (DELETE FROM "Tally" RETURNING kind, key, bucket, delta)
  INSERT INTO "Tally" (kind, key, bucket, delta)
  SELECT kind, key, bucket, sum(delta) FROM gone GROUP BY kind, key, bucket HAVING sum(delta) <> 0;
END
$$;

-- Row trigger of a counted table (its kind the one argument): appends to Tally what the row adds
-- and, when changed or deleted, what it takes away, and folds the table at every 4096th id. A
-- plain INSERT per row is cheaper, on the few rows an image has, than statement triggers with
-- transition tables.
CREATE FUNCTION tally_row() RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
  old_key text;
  old_bucket smallint := 0;
  new_key text;
  new_bucket smallint := 0;
  appended_id bigint;
BEGIN
  IF TG_TABLE_NAME = 'Image' THEN
    IF TG_OP <> 'INSERT' THEN old_key := OLD.status::text; END IF;
    IF TG_OP <> 'DELETE' THEN new_key := NEW.status::text; END IF;
  ELSIF TG_TABLE_NAME = 'Segment' THEN
    IF TG_OP <> 'INSERT' THEN old_key := OLD.label; old_bucket := score_bucket(OLD.score); END IF;
    IF TG_OP <> 'DELETE' THEN new_key := NEW.label; new_bucket := score_bucket(NEW.score); END IF;
  ELSE
    IF TG_OP <> 'INSERT' THEN old_key := OLD.label; old_bucket := score_bucket(OLD."maxScore"); END IF;
    IF TG_OP <> 'DELETE' THEN new_key := NEW.label; new_bucket := score_bucket(NEW."maxScore"); END IF;
  END IF;
  IF old_key = new_key AND old_bucket = new_bucket THEN
    RETURN NULL;
  END IF;
  IF old_key IS NOT NULL THEN
    INSERT INTO "Tally" (kind, key, bucket, delta) VALUES (TG_ARGV[0]::"TallyKind", old_key, old_bucket, -1) RETURNING id INTO appended_id;
    IF appended_id % 4096 = 0 THEN PERFORM tally_fold(); END IF;
  END IF;
  IF new_key IS NOT NULL THEN
    INSERT INTO "Tally" (kind, key, bucket, delta) VALUES (TG_ARGV[0]::"TallyKind", new_key, new_bucket, 1) RETURNING id INTO appended_id;
    IF appended_id % 4096 = 0 THEN PERFORM tally_fold(); END IF;
  END IF;
  RETURN NULL;
END
$$;

-- Counts the counted tables afresh, in place of the Tally rows: for a new catalogue, or one filled
-- with the triggers disabled (a bulk load). One statement, so one snapshot: the changes of writers
-- still running are neither counted nor removed, and their own Tally rows add them once they commit.
CREATE FUNCTION tally_rebuild() RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(1952541797);
  WITH gone AS (DELETE FROM "Tally")
  INSERT INTO "Tally" (kind, key, bucket, delta)
  SELECT 'IMAGE_LABEL'::"TallyKind", label, score_bucket("maxScore"), count(*) FROM "ImageLabel" GROUP BY 2, 3
  UNION ALL
  SELECT 'SEGMENT'::"TallyKind", label, score_bucket(score), count(*) FROM "Segment" GROUP BY 2, 3
  UNION ALL
  SELECT 'IMAGE_STATUS'::"TallyKind", status::text, 0, count(*) FROM "Image" GROUP BY 2;
END
$$;

-- A truncated table counts nothing: its kind of tallies goes too.
CREATE FUNCTION tally_truncate() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  DELETE FROM "Tally" WHERE kind = TG_ARGV[0]::"TallyKind";
  RETURN NULL;
END
$$;

CREATE TRIGGER tally_change AFTER INSERT OR DELETE OR UPDATE OF label, "maxScore" ON "ImageLabel"
  FOR EACH ROW EXECUTE FUNCTION tally_row('IMAGE_LABEL');
CREATE TRIGGER tally_truncate AFTER TRUNCATE ON "ImageLabel"
  FOR EACH STATEMENT EXECUTE FUNCTION tally_truncate('IMAGE_LABEL');

-- outrankedBy of each row: the classes of its image with a higher best score, equal scores by
-- name. (Its trigger fires only on changes of label or maxScore.)
UPDATE "ImageLabel" l SET "outrankedBy" = r.above
FROM (
  SELECT "imageId", label, coalesce(array_agg(label) OVER (
    PARTITION BY "imageId" ORDER BY "maxScore" DESC, label ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), '{}') AS above
  FROM "ImageLabel"
) AS r
WHERE r."imageId" = l."imageId" AND r.label = l.label;

-- CreateIndex
CREATE INDEX "ImageLabel_label_maxScore_imageCreatedAt_imageId_outrankedB_idx" ON "ImageLabel"("label", "maxScore" DESC, "imageCreatedAt" DESC, "imageId" DESC, "outrankedBy");

CREATE TRIGGER tally_change AFTER INSERT OR DELETE OR UPDATE OF label, score ON "Segment"
  FOR EACH ROW EXECUTE FUNCTION tally_row('SEGMENT');
CREATE TRIGGER tally_truncate AFTER TRUNCATE ON "Segment"
  FOR EACH STATEMENT EXECUTE FUNCTION tally_truncate('SEGMENT');

CREATE TRIGGER tally_change AFTER INSERT OR DELETE OR UPDATE OF status ON "Image"
  FOR EACH ROW EXECUTE FUNCTION tally_row('IMAGE_STATUS');
CREATE TRIGGER tally_truncate AFTER TRUNCATE ON "Image"
  FOR EACH STATEMENT EXECUTE FUNCTION tally_truncate('IMAGE_STATUS');

-- What the catalogue holds now, which from here on the triggers keep up to date.
SELECT tally_rebuild();
