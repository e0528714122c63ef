import { describe, expect, it } from 'vitest';
import { buildOpenApi } from '../../src/http/openapi.js';
import { negotiateStream, STREAM_MEDIA_TYPES, wantsStream } from '../../src/http/stream.js';
import { parameterSchema, resultSchemaOf } from '../../src/manifest.js';
import { getOperation, listOperations } from '../../src/operations/index.js';

type Doc = { paths: Record<string, Record<string, any>>; components: Record<string, any> };
const doc = () => buildOpenApi() as unknown as Doc;
const opPath = (name: string) => doc().paths[`/v1/operations/${name}`]!.post;

describe('OpenAPI document matches what the service does', () => {
  it('each stream operation declares exactly the media types the service negotiates for it (3.1)', () => {
    const streamOps = listOperations().filter((op) => op.openStream);
    expect(streamOps.map((o) => o.name).sort()).toEqual(['container_export', 'container_logs', 'copy_from_container', 'save_images', 'service_logs']);
    for (const op of streamOps) {
      expect(op.streamContentType, `${op.name} declares its stream media type`).toBeTruthy();
      const declared = Object.keys(opPath(op.name).responses['200'].content).filter((t) => t !== 'application/json');
      // What the service answers for `Accept: <t>`: the stream form (wantsStream) and not 406 (negotiateStream).
      const negotiable = STREAM_MEDIA_TYPES.filter((t) => wantsStream(t) && negotiateStream(t, op.streamContentType!) !== undefined);
      expect(declared.sort(), op.name).toEqual([...negotiable].sort());
    }
    expect(Object.keys(opPath('container_export').responses['200'].content).sort()).toEqual(['application/json', 'application/x-tar']);
    expect(Object.keys(opPath('container_logs').responses['200'].content).sort()).toEqual(['application/json', 'application/x-ndjson', 'text/plain']);
    // Operations without a stream form declare JSON only.
    expect(Object.keys(opPath('ping').responses['200'].content)).toEqual(['application/json']);
  });

  it('the 200 JSON response is the declared result schema; the stream media types keep theirs (issue 15)', () => {
    const d = doc();
    for (const op of listOperations().filter((o) => o.resultSchema)) {
      const json = opPath(op.name).responses['200'].content['application/json'].schema;
      const declared = resultSchemaOf(op);
      if (declared.$defs) {
        // $defs moved to components under "<operation>.result.<name>", references rewritten to them.
        expect(json.$defs, op.name).toBeUndefined();
        for (const name of Object.keys(declared.$defs as object)) expect(d.components.schemas[`${op.name}.result.${name}`], `${op.name} ${name}`).toBeDefined();
        expect(JSON.stringify(json)).not.toContain('#/$defs/');
      } else if (!JSON.stringify(declared).includes('"$ref":"#"')) {
        expect(json, op.name).toEqual(declared);
      }
    }
    const logs = opPath('container_logs').responses['200'].content;
    expect(JSON.stringify(logs['application/json'].schema)).toContain('"stdout"');
    expect(logs['application/x-ndjson'].schema).toMatchObject({ type: 'string', contentMediaType: 'application/x-ndjson' });
    expect(logs['text/plain'].schema).toMatchObject({ type: 'string', contentMediaType: 'text/plain' });
    expect(opPath('container_export').responses['200'].content['application/x-tar'].schema).toEqual({ type: 'string', contentMediaType: 'application/x-tar' });
  });

  it('every route and method has a unique operationId (3.8)', () => {
    const ids: string[] = [];
    for (const [path, item] of Object.entries(doc().paths)) {
      for (const [method, op] of Object.entries(item)) {
        expect(op.operationId, `${method.toUpperCase()} ${path}`).toEqual(expect.any(String));
        ids.push(op.operationId);
      }
    }
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of ['/v1/operations', '/v1/manifest', '/v1/health', '/openapi.json', '/docs']) expect(doc().paths[p]?.get?.operationId, p).toBeTruthy();
  });

  it('declares every status the service answers, each with the error schema (3.2)', () => {
    const d = doc();
    const resolve = (r: any) => (r.$ref ? d.components.responses[r.$ref.split('/').pop()] : r);
    for (const op of listOperations()) {
      const responses = opPath(op.name).responses;
      for (const status of ['400', '401', '403', '404', '406', '409', '413', '415', '429', '500', '502', '503', '504']) {
        expect(responses[status], `${op.name} ${status}`).toBeDefined();
      }
      for (const status of ['400', '401', '403', '404', '406', '409', '413', '415', '429', '500', '502', '504']) {
        expect(resolve(responses[status]).content['application/json'].schema).toEqual({ $ref: '#/components/schemas/Error' });
      }
    }
    for (const p of ['/v1/operations', '/v1/manifest', '/v1/health']) {
      expect(Object.keys(d.paths[p]!.get.responses), p).toEqual(expect.arrayContaining(['200', '401', '403', '429', '500', '503']));
    }
    expect(Object.keys(d.paths['/v1/health']!.get.responses)).toContain('400');
    for (const p of ['/openapi.json', '/docs']) expect(Object.keys(d.paths[p]!.get.responses), p).toEqual(expect.arrayContaining(['200', '403', '500']));
    expect(resolve(d.paths['/v1/operations']!.get.responses['429']).headers['Retry-After']).toBeDefined();
    expect(d.components.responses.MethodNotAllowed.headers.Allow).toBeDefined();
    expect(d.components.schemas.Error.properties.error.properties.code.description).toContain('INTERNAL_ERROR');
  });

  it('the endpoint query lists the configured endpoint names (3.6)', () => {
    const withNames = buildOpenApi({ endpoints: ['local', 'prod'] }) as unknown as Doc;
    expect(withNames.components.parameters.endpoint.schema).toEqual({ type: 'string', enum: ['local', 'prod'] });
  });

  it('the JSON form requires what run() requires; the stream form is documented to do without it (3.6)', () => {
    expect(parameterSchema(getOperation('container_export')!).required).toEqual(expect.arrayContaining(['container', 'path']));
    expect(parameterSchema(getOperation('save_images')!).required).toEqual(expect.arrayContaining(['images', 'path']));
    expect(parameterSchema(getOperation('copy_from_container')!).required).toEqual(expect.arrayContaining(['dest']));
    expect(opPath('container_export').description).toContain('The stream form does without `path`');
  });

  it('parameter schemas publish the allowed filter names and time formats (3.6)', () => {
    for (const name of ['list_containers', 'list_images', 'system_events', 'prune_images']) {
      const filters = (parameterSchema(getOperation(name)!).properties as any).filters;
      expect(filters.additionalProperties, name).toBe(false);
      expect(Object.keys(filters.properties).length, name).toBeGreaterThan(0);
    }
    const since = (parameterSchema(getOperation('container_logs')!).properties as any).since;
    expect(JSON.stringify(since)).toContain('"pattern"');
    const logs = parameterSchema(getOperation('container_logs')!);
    expect(logs.then).toEqual({ properties: { max_bytes: { type: 'integer', maximum: 64 * 1024 * 1024 } } });
  });
});
