/**
 * The service layer as one object, built once at start from the infrastructure. Transports get
 * services only: the repositories, the file store and the model stay behind them.
 */
import type { Logger } from 'pino';
import type { PrismaClient } from '../generated/prisma/client.js';
import { CatalogueRepository } from '../db/catalogue.repository.js';
import { BatchRepository } from '../db/batch.repository.js';
import { ImageReadRepository } from '../db/image-read.repository.js';
import { ImageWriteRepository } from '../db/image-write.repository.js';
import { RecoveryRepository } from '../db/recovery.repository.js';
import { SearchRepository } from '../db/search.repository.js';
import { SegmentationRepository } from '../db/segmentation.repository.js';
import type { SegmentationObserver } from '../observability/probes.js';
import type { FileStore } from '../storage/file-store.js';
import { SectionedFile } from '../storage/sectioned-file.js';
import { CatalogueService } from './catalogue.service.js';
import { CocoExportService } from './coco-export.service.js';
import { ExtractionService } from './extraction.service.js';
import { createImageWaiter, type ImageEvents, type ImageWaiter } from './image-waiter.js';
import { ImportService } from './import.service.js';
import { IngestService } from './ingest.service.js';
import { LabelVocabulary } from './label-terms.js';
import { MaintenanceService } from './maintenance.service.js';
import { SegmentationService } from './segmentation.service.js';
import type { VisionRegistry } from '../vision/vision-engine.js';
import { QueueService } from './queue.service.js';
import { ServedFilesService } from './served-files.service.js';

/** Everything the transports (GraphQL, CLI, queue) call. */
export interface Services {
  catalogue: CatalogueService;
  /** COCO instances files of the catalogue (`exportCoco`, `segcat export`). */
  cocoExport: CocoExportService;
  ingest: IngestService;
  segmentation: SegmentationService;
  extraction: ExtractionService;
  importer: ImportService;
  queue: QueueService;
  /** Integrity checks, repairs and thumbnails (`segcat check`, `segcat thumbnails`, /health?deep=1, start-up reconciliation). */
  maintenance: MaintenanceService;
  /** What /files and /overlays send. */
  files: ServedFilesService;
  /** The waits of `wait: true` uploads; closed at shutdown so their requests can finish. */
  waiter: ImageWaiter;
}

/** Infrastructure the services are built from. */
export interface ServiceDeps {
  prisma: PrismaClient;
  store: FileStore;
  models: VisionRegistry;
  events: ImageEvents;
  logger: Logger;
  maxUploadBytes: number;
  /** UPLOAD_WAIT_MS. */
  uploadWaitMs: number;
  /** Unlocks queue jobs whose worker died (with `olderThanMs`, only those locked longer ago); returns how many. */
  unlockAbandonedJobs: (olderThanMs?: number) => Promise<number>;
  /** Hears what the services measure (segmentation stage timings); optional. */
  metrics?: SegmentationObserver;
}

/** Wires the services together. */
export function createServices(deps: ServiceDeps): Services {
  const { prisma, store, models, logger } = deps;
  const vision = models.current;
  const images = new ImageReadRepository(prisma);
  const imageWrites = new ImageWriteRepository(prisma);
  const batches = new BatchRepository(prisma);
  const segmentations = new SegmentationRepository(prisma);
  const search = new SearchRepository(prisma);
  const waiter = createImageWaiter(deps.events, (id) => images.findById(id));
  const ingest = new IngestService({
    images,
    imageWrites,
    batches,
    store,
    vision,
    waiter,
    logger,
    maxUploadBytes: deps.maxUploadBytes,
    uploadWaitMs: deps.uploadWaitMs,
  });
  const queue = new QueueService({ images, imageWrites, batches, models });
  const vocabulary = new LabelVocabulary(vision.model.classNames);
  const extraction = new ExtractionService({ images, search, segmentations, store, vision, vocabulary });
  const catalogue = new CatalogueService({ search, images, vocabulary, events: deps.events });
  return {
    waiter,
    catalogue,
    cocoExport: new CocoExportService({
      catalogue,
      readStored: (relativePath) => store.read(relativePath),
      createStoredFile: (relativePath, sections) => store.createSectionedFile(relativePath, sections),
      createLocalFile: (file, sections) => SectionedFile.create(file, sections),
      vision,
    }),
    ingest,
    importer: new ImportService({ ingest, images, events: deps.events }),
    segmentation: new SegmentationService({ images, segmentations, store, models, logger, metrics: deps.metrics }),
    queue,
    extraction,
    maintenance: new MaintenanceService({
      images,
      imageWrites,
      segmentations,
      catalogue: new CatalogueRepository(prisma),
      recovery: new RecoveryRepository(prisma),
      unlockAbandonedJobs: deps.unlockAbandonedJobs,
      store,
      queue,
      extraction,
      vision,
    }),
    files: new ServedFilesService({ store, isReferenced: (file, owner) => images.referencesFile(file, owner), extraction }),
  };
}
