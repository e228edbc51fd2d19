/**
 * Rows fetched for many keys in one query, put back in the order the keys were asked in: the
 * contract of a DataLoader batch function.
 */

/** One row per key, in the keys' order (null where none). */
export function orderBy<T>(ids: readonly string[], rows: T[], key: (row: T) => string): (T | null)[] {
  const byKey = new Map(rows.map((row) => [key(row), row]));
  return ids.map((id) => byKey.get(id) ?? null);
}

/** Every row of each key, in the keys' order (rows keep their order within a key). */
export function groupBy<T>(ids: readonly string[], rows: T[], key: (row: T) => string): T[][] {
  const groups = new Map<string, T[]>(ids.map((id) => [id, []]));
  for (const row of rows) groups.get(key(row))?.push(row);
  return ids.map((id) => groups.get(id) ?? []);
}
