/**
 * prom-client's standard process_* and nodejs_* metrics (CPU, memory, event-loop lag, GC, handles).
 * They describe the process, not a runtime, so they are collected once per process and added to
 * every runtime's scrape; a runtime's own registry would start a second set of GC and event-loop
 * observers with each runtime (tests run several in one process).
 */
import { collectDefaultMetrics, Registry } from 'prom-client';

let registry: Registry | undefined;

/** The process's standard metrics, started on first use. */
export function processRegistry(): Registry {
  if (!registry) {
    registry = new Registry();
    collectDefaultMetrics({ register: registry });
  }
  return registry;
}
