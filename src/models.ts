/**
 * The catalogue's records as services and transports see them. Repositories (src/db/) return rows
 * that have exactly these fields, so Prisma's generated types stay in the database layer, and the
 * GraphQL resolver types (codegen.yml `mappers`) are built on these. (Beside config.ts because
 * every layer uses them.)
 */

/** Where an image is in its segmentation. */
export type ImageStatus = 'PENDING' | 'PROCESSING' | 'DONE' | 'FAILED';
/** What replaces the pixels outside the object in a cut-out. */
export type ExtractionBackground = 'TRANSPARENT' | 'WHITE';
/** A cut-out's file format. */
export type ExtractionFormat = 'PNG' | 'WEBP';

/** One distinct picture (by the sha256 of its bytes) and the state of its segmentation. */
export interface Image {
  id: string;
  sha256: string;
  /** The name it was uploaded under: for display only, never a path. */
  filename: string;
  mimeType: string;
  bytes: number;
  /** Size after EXIF orientation, the frame boxes and masks refer to. */
  width: number;
  height: number;
  status: ImageStatus;
  /** Why segmentation failed, when it did. */
  error: string | null;
  /** The original, relative to DATA_DIR. */
  storagePath: string;
  thumbnailPath: string | null;
  /** Mask of the pixels no object covers, relative to DATA_DIR. */
  backgroundMaskPath: string | null;
  backgroundArea: number | null;
  /** Model (and its version) that produced the current segments. */
  modelName: string | null;
  modelVersion: string | null;
  segmentedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

/** One object found in an image. */
export interface Segment {
  id: string;
  imageId: string;
  label: string;
  classId: number;
  score: number;
  /** The box, in image pixels. */
  x: number;
  y: number;
  width: number;
  height: number;
  /** Pixels the mask covers. */
  area: number;
  /** The mask file, relative to DATA_DIR, named in the recipe's format. */
  maskPath: string;
  createdAt: Date;
}

/** A stored cut-out of a segment. */
export interface Extraction {
  id: string;
  segmentId: string;
  format: ExtractionFormat;
  background: ExtractionBackground;
  /** Made from the mask refined against the photo's edges, not the stored mask. */
  refined: boolean;
  /** Relative to DATA_DIR. */
  path: string;
  width: number;
  height: number;
  bytes: number;
  createdAt: Date;
}
