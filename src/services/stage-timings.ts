/** Stage timings as logged: milliseconds to one decimal, stages that did not run left out. */
export function loggedStages(stages: Record<string, number | undefined>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(stages).flatMap(([stage, ms]) => (ms === undefined ? [] : [[stage, Math.round(ms * 10) / 10]])),
  );
}
