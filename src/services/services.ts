/**
 * The service layer as one object, built once at start from the infrastructure.
 */
import type { Logger } from 'pino';
import type { PrismaClient } from '../generated/prisma/client.js';
import { CatalogueRepository } from '../db/catalogue.repository.js';
import { ImageRepository } from '../db/image.repository.js';
import { SearchRepository } from '../db/search.repository.js';
import type { FileStore } from '../storage/file-store.js';
import { CatalogueService } from './catalogue.service.js';
import { ExtractionService } from './extraction.service.js';
import { createImageWaiter, type ImageEvents, type ImageWaiter } from './image-waiter.js';
import { ImportService } from './import.service.js';
import { IngestService } from './ingest.service.js';
import { MaintenanceService } from './maintenance.service.js';
import { SegmentationService } from './segmentation.service.js';
import type { VisionRegistry } from '../vision/vision-engine.js';
import { QueueService } from './queue.service.js';
import type { VisionEngine } from './vision.port.js';

/** Everything the transports (GraphQL, CLI, queue) call. */
export interface Services {
  images: ImageRepository;
  search: SearchRepository;
  catalogue: CatalogueService;
  ingest: IngestService;
  segmentation: SegmentationService;
  extraction: ExtractionService;
  importer: ImportService;
  queue: QueueService;
  /** Integrity checks and repairs (`segcat check`, /health?deep=1, start-up reconciliation). */
  maintenance: MaintenanceService;
  store: FileStore;
  vision: VisionEngine;
  events: ImageEvents;
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
}

/** Wires the services together. */
export function createServices(deps: ServiceDeps): Services {
  const { prisma, store, models, logger } = deps;
  const vision = models.current;
  const images = new ImageRepository(prisma);
  const search = new SearchRepository(prisma);
  const waiter = createImageWaiter(deps.events, (id) => images.findById(id));
  const ingest = new IngestService({
    images,
    store,
    vision,
    waiter,
    logger,
    maxUploadBytes: deps.maxUploadBytes,
    uploadWaitMs: deps.uploadWaitMs,
  });
  const queue = new QueueService(images, models);
  const extraction = new ExtractionService({ images, search, store, vision });
  return {
    images,
    search,
    store,
    vision,
    events: deps.events,
    waiter,
    catalogue: new CatalogueService(search, vision.model.classNames, deps.events),
    ingest,
    importer: new ImportService({ ingest, images, events: deps.events }),
    segmentation: new SegmentationService({ images, store, models, logger }),
    queue,
    extraction,
    maintenance: new MaintenanceService({ images, catalogue: new CatalogueRepository(prisma), store, queue, extraction, vision }),
  };
}
