// Adds N lead jobs to BullMQ, CONCURRENCY adds in flight, and prints the adds/s.
//   node producer.js REDIS_PORT N CONCURRENCY RUN
'use strict';
const { Queue } = require('bullmq');
const { lead, runConcurrently } = require('./common');

(async () => {
  const [redisPort, n, concurrency, run] = process.argv.slice(2);
  const queue = new Queue('leads', { connection: { host: '127.0.0.1', port: Number(redisPort) } });
  const t0 = process.hrtime.bigint();
  await runConcurrently(Number(n), Number(concurrency), (i) => queue.add('lead', lead(i, run), {
    attempts: 10, backoff: { type: 'fixed', delay: 1000 }, removeOnComplete: 1000,
  }));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(`accepted=${n}`);
  console.log(`per_second=${Math.round(Number(n) / seconds)}`);
  await queue.close();
})().catch((e) => { console.error(e); process.exit(1); });
