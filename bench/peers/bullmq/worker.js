// The BullMQ worker: one POST per lead to the CRM, as crmsync's reference
// mapping sends it. A 429 or 5xx fails the job; BullMQ retries it (10 attempts,
// 1 s backoff, the CRM's Retry-After of the benchmark).
//   node worker.js REDIS_PORT CRM_URL CONCURRENCY
'use strict';
const { Worker } = require('bullmq');
const { request } = require('./common');

const [redisPort, crmUrl, concurrency] = process.argv.slice(2);
const worker = new Worker('leads', async (job) => {
  const l = job.data;
  const answer = await request(`${crmUrl}/api/v1/leads`, 'POST', {
    name: l.name,
    email: l.email,
    phone: l.phone,
    source: l.utmSource,
    status: 'new',
    budgetRange: { min: l.budgetMin, max: l.budgetMax },
    preferredAreas: l.preferredLocation,
    externalReference: `lead:${l.id}`,
  }, { 'X-API-Key': 'bench-key', 'X-API-Secret': 'bench-secret' });
  if (answer.status >= 300) throw new Error(`CRM answered ${answer.status}`);
  return JSON.parse(answer.body).id;
}, {
  connection: { host: '127.0.0.1', port: Number(redisPort) },
  concurrency: Number(concurrency),
  removeOnComplete: { count: 1000 },
});
worker.on('error', (e) => console.error('worker error', e.message));
console.log('ready');
