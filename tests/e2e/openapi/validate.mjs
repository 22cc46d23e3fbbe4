#!/usr/bin/env node
// Checks the served OpenAPI document and real answers of crmsync against it,
// with validators we did not write (run by tests/e2e/openapi_test.cpp):
//
//   node validate.mjs --modules <node_modules> --spec <served openapi.json>
//                     --yaml <docs/openapi.yaml> --exchanges <exchanges.json>
//
// 1. The served JSON equals docs/openapi.yaml as read by `yaml` (YAML 1.2): the
//    build's conversion changed nothing.
// 2. @seriousme/openapi-schema-validator: the document is valid OpenAPI 3.1 and
//    every $ref resolves.
// 3. For each exchange {name, method, route, status, headers, body}: the route's
//    operation exists (a path item's $ref followed), the status is documented,
//    the answer's media type is one the response lists, a JSON body validates
//    against the response's schema (Ajv2020 + ajv-formats, strict), documented
//    headers that came validate, and every error answer (>= 400) with a JSON
//    body has the common shape (#/components/schemas/Error).
// Prints "openapi: ok, N exchanges" or one "openapi: FAIL ..." line per problem;
// exit 0 or 1.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { isDeepStrictEqual } from 'node:util';

function parseArgs(argv) {
  const args = {};
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--') || i + 1 >= argv.length) throw new Error('bad argument ' + argv[i]);
    args[argv[i].slice(2)] = argv[i + 1];
  }
  for (const required of ['modules', 'spec', 'yaml', 'exchanges']) {
    if (!args[required]) throw new Error('missing --' + required);
  }
  return args;
}

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const SPEC_ID = 'urn:crmsync:openapi';

// "/paths/~1api~1v1~1events" for a path; JSON pointer escaping.
function pointerOf(...parts) {
  return parts.map((p) => '/' + String(p).replace(/~/g, '~0').replace(/\//g, '~1')).join('');
}

function resolvePointer(doc, ref) {
  if (!ref.startsWith('#/')) throw new Error('only local $refs: ' + ref);
  let node = doc;
  for (const raw of ref.slice(2).split('/')) {
    const part = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    if (node === undefined || !(part in node)) throw new Error('$ref does not resolve: ' + ref);
    node = node[part];
  }
  return node;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const modules = path.resolve(args.modules);
  const require = createRequire(path.join(modules, '..', 'noop.js'));
  const Ajv2020 = require('ajv/dist/2020').default;
  const addFormats = require('ajv-formats').default;
  const YAML = require('yaml');
  const { Validator } = await import(
    pathToFileURL(path.join(modules, '@seriousme/openapi-schema-validator/index.js')).href);

  const problems = [];
  const fail = (what) => problems.push(what);
  const spec = JSON.parse(fs.readFileSync(args.spec, 'utf8'));
  const exchanges = JSON.parse(fs.readFileSync(args.exchanges, 'utf8'));

  // 1. The YAML source and the served JSON say the same.
  const fromYaml = YAML.parse(fs.readFileSync(args.yaml, 'utf8'));
  if (!isDeepStrictEqual(fromYaml, spec)) {
    fail('the served document differs from docs/openapi.yaml read as YAML 1.2');
  }

  // 2. A valid OpenAPI 3.1 document.
  const checked = await new Validator().validate(structuredClone(spec));
  if (!checked.valid) {
    fail('not a valid OpenAPI 3.1 document: ' + JSON.stringify(checked.errors).slice(0, 2000));
  }

  // 3. Each answer against its operation.
  const ajv = new Ajv2020({ strict: true, allErrors: true, allowUnionTypes: true });
  addFormats(ajv);
  // The document's own members hold no validation: Ajv reaches the schemas in
  // them by JSON pointer from each response's $ref.
  ajv.addVocabulary(['openapi', 'info', 'jsonSchemaDialect', 'servers', 'paths', 'webhooks',
                     'components', 'security', 'tags', 'externalDocs']);
  ajv.addSchema({ ...spec, $id: SPEC_ID });
  const validators = new Map();
  const validatorAt = (pointer) => {
    if (!validators.has(pointer)) validators.set(pointer, ajv.compile({ $ref: SPEC_ID + '#' + pointer }));
    return validators.get(pointer);
  };
  const check = (label, pointer, value) => {
    const validate = validatorAt(pointer);
    if (!validate(value)) {
      fail(label + ': ' + ajv.errorsText(validate.errors, { dataVar: 'body' }) + '; body: ' +
           JSON.stringify(value).slice(0, 300));
    }
  };

  for (const x of exchanges) {
    const label = `${x.name} (${x.method} ${x.route} -> ${x.status})`;
    let itemPointer = pointerOf('paths', x.route);
    let item = spec.paths[x.route];
    if (!item) {
      fail(`${label}: ${x.route} is not a documented path`);
      continue;
    }
    if (item.$ref) {
      itemPointer = decodeURIComponent(item.$ref.slice(1));
      item = resolvePointer(spec, item.$ref);
    }
    const method = x.method.toLowerCase();
    if (!METHODS.includes(method) || !item[method]) {
      fail(`${label}: ${x.method} is not documented on ${x.route}`);
      continue;
    }
    const responses = item[method].responses;
    const code = String(x.status);
    const key = code in responses ? code : (`${code[0]}XX` in responses ? `${code[0]}XX` : 'default');
    if (!(key in responses)) {
      fail(`${label}: status ${code} is not documented (documented: ${Object.keys(responses).join(', ')})`);
      continue;
    }
    let responsePointer = itemPointer + pointerOf(method, 'responses', key);
    let response = responses[key];
    if (response.$ref) {
      responsePointer = decodeURIComponent(response.$ref.slice(1));
      response = resolvePointer(spec, response.$ref);
    }
    const contentType = (x.headers['content-type'] || '').split(';')[0].trim().toLowerCase();
    const content = response.content || {};
    if (Object.keys(content).length > 0 && !(contentType in content)) {
      fail(`${label}: media type '${contentType}' not documented (documented: ${Object.keys(content).join(', ')})`);
      continue;
    }
    let body;
    const json = contentType === 'application/json';
    if (json) {
      try {
        body = JSON.parse(x.body);
      } catch (e) {
        fail(`${label}: the body is not JSON: ${e.message}`);
        continue;
      }
      if (content[contentType] && content[contentType].schema) {
        check(label, responsePointer + pointerOf('content', contentType, 'schema'), body);
      }
      if (x.status >= 400) check(label + ' [error shape]', '/components/schemas/Error', body);
    }
    for (const [name, header] of Object.entries(response.headers || {})) {
      const value = x.headers[name.toLowerCase()];
      if (value === undefined) continue;
      const resolved = header.$ref ? resolvePointer(spec, header.$ref) : header;
      if (resolved.schema) {
        const typed = resolved.schema.type === 'integer' && /^\d+$/.test(value) ? Number(value) : value;
        const schemaPointer = (header.$ref ? decodeURIComponent(header.$ref.slice(1))
                                           : responsePointer + pointerOf('headers', name)) + '/schema';
        check(`${label} header ${name}`, schemaPointer, typed);
      }
    }
  }

  if (problems.length > 0) {
    for (const p of problems) console.log('openapi: FAIL ' + p);
    process.exit(1);
  }
  console.log(`openapi: ok, ${exchanges.length} exchanges`);
}

main().catch((e) => {
  console.log('openapi: FAIL ' + (e && e.stack ? e.stack : e));
  process.exit(1);
});
