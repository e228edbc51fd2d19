-- Batch membership: an image stays in every batch that queued it, and counts are computed from the
-- members, so done + failed + pending + processing = total always holds.

-- CreateTable
CREATE TABLE "BatchImage" (
    "batchId" UUID NOT NULL,
    "imageId" UUID NOT NULL,
    "outcome" "ImageStatus",

    CONSTRAINT "BatchImage_pkey" PRIMARY KEY ("batchId","imageId")
);

-- CreateIndex
CREATE INDEX "BatchImage_imageId_idx" ON "BatchImage"("imageId");

-- CreateIndex
CREATE INDEX "ImportBatch_createdAt_idx" ON "ImportBatch"("createdAt" DESC);

-- AddForeignKey
ALTER TABLE "BatchImage" ADD CONSTRAINT "BatchImage_batchId_fkey" FOREIGN KEY ("batchId") REFERENCES "ImportBatch"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "BatchImage" ADD CONSTRAINT "BatchImage_imageId_fkey" FOREIGN KEY ("imageId") REFERENCES "Image"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Each image's last batch is the one membership the old column kept; batches left with no image
-- (an `outdated` re-segmentation that matched nothing, or one whose images a later batch took)
-- had nothing to show.
INSERT INTO "BatchImage" ("batchId", "imageId") SELECT "batchId", id FROM "Image" WHERE "batchId" IS NOT NULL;
DELETE FROM "ImportBatch" b WHERE NOT EXISTS (SELECT 1 FROM "BatchImage" m WHERE m."batchId" = b.id);

-- DropForeignKey
ALTER TABLE "Image" DROP CONSTRAINT "Image_batchId_fkey";

-- DropIndex
DROP INDEX "Image_batchId_idx";

-- AlterTable
ALTER TABLE "Image" DROP COLUMN "batchId";

-- AlterTable
ALTER TABLE "ImportBatch" DROP COLUMN "total";
