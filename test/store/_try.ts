import { startTestPostgres } from '../helpers/postgres.js';
async function main() {
  const t0 = Date.now();
  const pg = await startTestPostgres();
  console.log(pg.source, pg.connectionString, Date.now() - t0, 'ms');
  await pg.stop();
  console.log('stopped', Date.now() - t0);
}
void main();
