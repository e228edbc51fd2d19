/**
 * `--quality fast|accurate`, shared by the commands that segment (segment, evaluate, import,
 * resegment). Absent, SEGCAT_QUALITY decides.
 */
import { Option } from 'commander';
import { QUALITIES } from '../vision/types.js';

/** The option; its value is a Quality. */
export function qualityOption(what = 'segment'): Option {
  return new Option('--quality <quality>', `how thoroughly to ${what}: fast (one model run) or accurate (both models fused, tiles on large photos; default SEGCAT_QUALITY, else fast)`).choices(QUALITIES);
}
