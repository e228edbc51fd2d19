-- CreateEnum
CREATE TYPE "SessionScope" AS ENUM ('READ', 'WRITE');

-- CreateTable
CREATE TABLE "Session" (
    "id" CHAR(64) NOT NULL,
    "scope" "SessionScope" NOT NULL,
    "expiresAt" TIMESTAMPTZ(3) NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Session_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "Session_expiresAt_idx" ON "Session"("expiresAt");
