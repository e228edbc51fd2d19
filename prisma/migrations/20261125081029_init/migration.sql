-- CreateEnum
CREATE TYPE "ImageStatus" AS ENUM ('PENDING', 'PROCESSING', 'DONE', 'FAILED');

-- CreateEnum
CREATE TYPE "ExtractionFormat" AS ENUM ('PNG', 'WEBP');

-- CreateEnum
CREATE TYPE "ExtractionBackground" AS ENUM ('TRANSPARENT', 'WHITE');

-- CreateTable
CREATE TABLE "Image" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "sha256" CHAR(64) NOT NULL,
    "filename" TEXT NOT NULL,
    "mimeType" TEXT NOT NULL,
    "bytes" INTEGER NOT NULL,
    "width" INTEGER NOT NULL,
    "height" INTEGER NOT NULL,
    "status" "ImageStatus" NOT NULL DEFAULT 'PENDING',
    "error" TEXT,
    "storagePath" TEXT NOT NULL,
    "thumbnailPath" TEXT,
    "backgroundMaskPath" TEXT,
    "backgroundArea" INTEGER,
    "modelName" TEXT,
    "modelVersion" TEXT,
    "segmentedAt" TIMESTAMPTZ(3),
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "batchId" UUID,

    CONSTRAINT "Image_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Segment" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "imageId" UUID NOT NULL,
    "label" TEXT NOT NULL,
    "classId" INTEGER NOT NULL,
    "score" REAL NOT NULL,
    "x" INTEGER NOT NULL,
    "y" INTEGER NOT NULL,
    "width" INTEGER NOT NULL,
    "height" INTEGER NOT NULL,
    "area" INTEGER NOT NULL,
    "maskPath" TEXT NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Segment_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ImageLabel" (
    "imageId" UUID NOT NULL,
    "label" TEXT NOT NULL,
    "maxScore" REAL NOT NULL,
    "segmentCount" INTEGER NOT NULL,
    "imageCreatedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "ImageLabel_pkey" PRIMARY KEY ("label","imageId")
);

-- CreateTable
CREATE TABLE "Extraction" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "segmentId" UUID NOT NULL,
    "format" "ExtractionFormat" NOT NULL,
    "background" "ExtractionBackground" NOT NULL,
    "path" TEXT NOT NULL,
    "width" INTEGER NOT NULL,
    "height" INTEGER NOT NULL,
    "bytes" INTEGER NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Extraction_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ImportBatch" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "source" TEXT NOT NULL,
    "total" INTEGER NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ImportBatch_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "Image_sha256_key" ON "Image"("sha256");

-- CreateIndex
CREATE INDEX "Image_createdAt_id_idx" ON "Image"("createdAt" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "Image_status_createdAt_idx" ON "Image"("status", "createdAt" DESC);

-- CreateIndex
CREATE INDEX "Image_batchId_idx" ON "Image"("batchId");

-- CreateIndex
CREATE INDEX "Segment_label_score_id_idx" ON "Segment"("label", "score" DESC, "id");

-- CreateIndex
CREATE INDEX "Segment_imageId_score_idx" ON "Segment"("imageId", "score" DESC);

-- CreateIndex
CREATE INDEX "ImageLabel_label_maxScore_imageCreatedAt_imageId_idx" ON "ImageLabel"("label", "maxScore" DESC, "imageCreatedAt" DESC, "imageId" DESC);

-- CreateIndex
CREATE INDEX "ImageLabel_imageId_idx" ON "ImageLabel"("imageId");

-- CreateIndex
CREATE UNIQUE INDEX "Extraction_segmentId_format_background_key" ON "Extraction"("segmentId", "format", "background");

-- AddForeignKey
ALTER TABLE "Image" ADD CONSTRAINT "Image_batchId_fkey" FOREIGN KEY ("batchId") REFERENCES "ImportBatch"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Segment" ADD CONSTRAINT "Segment_imageId_fkey" FOREIGN KEY ("imageId") REFERENCES "Image"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ImageLabel" ADD CONSTRAINT "ImageLabel_imageId_fkey" FOREIGN KEY ("imageId") REFERENCES "Image"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Extraction" ADD CONSTRAINT "Extraction_segmentId_fkey" FOREIGN KEY ("segmentId") REFERENCES "Segment"("id") ON DELETE CASCADE ON UPDATE CASCADE;
