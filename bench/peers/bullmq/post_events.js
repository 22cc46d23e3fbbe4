// Posts N lead.created events to crmsync's /api/v1/events, CONCURRENCY requests in
// flight on keep-alive connections, and prints the accepted count and events/s.
// The same leads as producer.js adds to BullMQ.
//   node post_events.js ENGINE_URL TOKEN N CONCURRENCY RUN
'use strict';
const { lead, request, runConcurrently } = require('./common');

(async () => {
  const [url, token, n, concurrency, run] = process.argv.slice(2);
  let accepted = 0;
  const t0 = process.hrtime.bigint();
  await runConcurrently(Number(n), Number(concurrency), async (i) => {
    const data = lead(i, run);
    const answer = await request(`${url}/api/v1/events`, 'POST', {
      eventId: `e-${data.id}`, type: 'lead.created', occurredAt: '2026-11-23T10:15:00Z', data,
    }, { Authorization: `Bearer ${token}` });
    if (answer.status === 202) accepted++;
    else console.error(`event ${i}: ${answer.status} ${answer.body}`);
  });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(`accepted=${accepted}`);
  console.log(`per_second=${Math.round(accepted / seconds)}`);
})().catch((e) => { console.error(e); process.exit(1); });
