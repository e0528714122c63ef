import { describe, expect, it } from 'vitest';
import { buildManifest, listOperations } from '../../src/catalogue.js';
import { parameterSchema } from '../../src/manifest.js';
import { resultSchema } from '../../src/operations/parameter-schema.js';

type Prop = { description?: string; default?: unknown };

describe('the catalogue of operations', () => {
  const ops = listOperations();

  it('holds the ~60 operations with unique snake_case names', () => {
    expect(ops.length).toBeGreaterThanOrEqual(55);
    const names = ops.map((o) => o.name);
    expect(new Set(names).size).toBe(names.length);
    for (const n of names) expect(n).toMatch(/^[a-z][a-z0-9_]*$/);
  });

  it('declares every operation completely', () => {
    for (const op of ops) {
      expect(op.title, op.name).toBeTruthy();
      expect(op.description.length, op.name).toBeGreaterThan(20);
      expect(op.result, op.name).toBeTruthy();
      expect(['read', 'write', 'destructive'], op.name).toContain(op.safety);
      expect(['system', 'containers', 'images', 'networks', 'volumes', 'swarm'], op.name).toContain(op.category);
    }
  });

  it('declares what every operation returns: a result schema with described fields', () => {
    const missing = ops.filter((o) => !o.resultSchema).map((o) => o.name);
    expect(missing, 'operations without resultSchema').toEqual([]);
    for (const op of ops) {
      const schema = resultSchema(op);
      expect(Object.keys(schema).length, op.name).toBeGreaterThan(0);
      // A top-level object lists its fields, each described, so a form or a person can read them.
      const props = (schema.properties ?? {}) as Record<string, Prop>;
      for (const [name, prop] of Object.entries(props)) expect(prop.description ?? (prop as { $ref?: string }).$ref, `${op.name} result ${name}`).toBeTruthy();
    }
  });

  it('describes every parameter and refuses unknown ones', () => {
    for (const op of ops) {
      const schema = parameterSchema(op) as { type: string; properties?: Record<string, Prop>; additionalProperties?: unknown };
      expect(schema.type, op.name).toBe('object');
      expect(schema.additionalProperties, op.name).toBe(false);
      for (const [name, prop] of Object.entries(schema.properties ?? {})) expect(prop.description, `${op.name}.${name}`).toBeTruthy();
    }
  });

  it('gives every destructive operation a dry run, off by default, and never calls a read operation destructive', () => {
    for (const op of ops.filter((o) => o.safety === 'destructive')) {
      const props = (parameterSchema(op).properties ?? {}) as Record<string, Prop>;
      expect(props.dry_run, op.name).toBeDefined();
      expect(props.dry_run?.default, op.name).toBe(false);
    }
    for (const op of ops.filter((o) => o.safety === 'read')) expect(op.idempotent, op.name).toBe(true);
  });

  it('binds every destructive operation to plans: it takes plan_id, declares a plan, and its dry run result declares plan_id and skipped', () => {
    // A field declared by the object itself or by a branch of a union of objects.
    const declares = (schema: Record<string, unknown>, field: string): boolean =>
      Object.hasOwn((schema.properties ?? {}) as object, field) ||
      [...((schema.anyOf ?? []) as Record<string, unknown>[]), ...((schema.oneOf ?? []) as Record<string, unknown>[])].some((s) => declares(s, field));
    const destructive = ops.filter((o) => o.safety === 'destructive');
    expect(destructive.length).toBeGreaterThanOrEqual(10);
    for (const op of destructive) {
      const props = (parameterSchema(op).properties ?? {}) as Record<string, Prop & { type?: string }>;
      expect(props.plan_id?.type, `${op.name} plan_id`).toBe('string');
      expect(op.plan, `${op.name} plan`).toBeDefined();
      const result = resultSchema(op) as Record<string, unknown>;
      expect(declares(result, 'plan_id'), `${op.name} result plan_id`).toBe(true);
      expect(declares(result, 'skipped'), `${op.name} result skipped`).toBe(true);
    }
    for (const op of ops.filter((o) => o.safety !== 'destructive')) expect(op.plan, op.name).toBeUndefined();
  });

  it('declares local file parameters that exist', () => {
    for (const op of ops) {
      const props = Object.keys((parameterSchema(op).properties ?? {}) as Record<string, unknown>);
      for (const p of op.localPaths ?? []) expect(props, op.name).toContain(p);
    }
  });

  it('puts all of it in the manifest, with no secret defaults', () => {
    const m = buildManifest();
    expect(m.operations.map((o) => o.name)).toEqual(ops.map((o) => o.name));
    for (const f of m.config.filter((c) => c.secret)) expect(f.default).toBeUndefined();
    expect(m.operations.find((o) => o.name === 'container_export')?.local_paths).toEqual(['path']);
  });
});
