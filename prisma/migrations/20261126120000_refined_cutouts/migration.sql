-- Cut-outs made from the mask refined against the photo's edges are stored beside the plain ones:
-- one cut-out per segment, format, background and refinement.

-- DropIndex
DROP INDEX "Extraction_segmentId_format_background_key";

-- AlterTable
ALTER TABLE "Extraction" ADD COLUMN     "refined" BOOLEAN NOT NULL DEFAULT false;

-- CreateIndex
CREATE UNIQUE INDEX "Extraction_segmentId_format_background_refined_key" ON "Extraction"("segmentId", "format", "background", "refined");
