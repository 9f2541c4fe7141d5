/**
 * A database of a given size on h001, made fast: one table of 1 KiB rows (a primary key, text
 * stored uncompressed so the size on disk is what was asked), filled by generate_series in
 * batches of 100 MiB. Returns the database's size as PostgreSQL reports it.
 */
import type { Lab } from '../lab.js';
import { sql } from './zitadel.js';

export async function fillDatabase(lab: Lab, mib: number, host = 'h001'): Promise<number> {
  await sql(lab, host, 'zitadel', 'CREATE TABLE blobs (id int PRIMARY KEY, body text NOT NULL); ALTER TABLE blobs ALTER COLUMN body SET STORAGE EXTERNAL; ALTER TABLE blobs OWNER TO zitadel;');
  // a row: a 4-byte key, 1024 characters and the tuple header, some 1.1 KiB on disk
  const rows = Math.round((mib * 1024 * 1024) / 1130);
  for (let from = 1; from <= rows; from += 100_000) {
    const to = Math.min(rows, from + 99_999);
    await sql(lab, host, 'zitadel', `INSERT INTO blobs SELECT g, repeat(md5(g::text), 32) FROM generate_series(${from}, ${to}) g;`);
  }
  await sql(lab, host, 'zitadel', 'VACUUM ANALYZE blobs;');
  return Number(await sql(lab, host, 'zitadel', 'SELECT pg_database_size(current_database());'));
}
