// What both sides of the comparison share: the lead a platform would post,
// and a keep-alive HTTP client.
'use strict';
const http = require('http');

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

function lead(i, run) {
  return {
    id: `${run}-${i}`,
    name: 'Bench Lead',
    email: `lead${i}@example.com`,
    phone: '+919800000000',
    status: 'NEW',
    budgetMin: 5000000,
    budgetMax: 7500000,
    preferredLocation: ['Baner'],
    utmSource: 'google',
  };
}

// request(url, method, body, headers) -> {status, headers, body}
function request(url, method, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(url, {
      method,
      agent,
      headers: data === undefined ? headers : {
        'Content-Type': 'application/json',
        'Content-Length': Buffer.byteLength(data),
        ...headers,
      },
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers,
                                    body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    if (data !== undefined) req.write(data);
    req.end();
  });
}

// runConcurrently(n, concurrency, fn): fn(i) for i in 0..n-1, `concurrency` at a time.
async function runConcurrently(n, concurrency, fn) {
  let next = 0;
  async function lane() {
    while (next < n) {
      const i = next++;
      await fn(i);
    }
  }
  await Promise.all(Array.from({ length: concurrency }, lane));
}

module.exports = { lead, request, runConcurrently };
