import { describe, expect, it } from 'vitest';
import { parameterSchema } from '../../src/manifest.js';
import { getOperation } from '../../src/operations/index.js';
import { imageRef } from '../../src/operations/shared/params.js';

/*
 * The image reference rule follows Docker's reference grammar, so a
 * reference the published pattern allows is one the Engine parses (it
 * answers 404 for one it does not have, never 400 "invalid reference
 * format"). The refused examples below are ones both Engines of the test
 * harness answer 400 to.
 */

const ID = 'e1ddb9110ad6fc12ab23bbf8d744b4ba8475f1e1a504ee5b38256e19638e6943';

const accepted = [
  'busybox',
  'busybox:1.36',
  'library/busybox:latest',
  'docker.io/library/busybox',
  '127.0.0.1:5000/dc/busybox:latest',
  'localhost/app',
  'localhost:5000/team/app:v1.2_rc-3',
  'Registry.Example.com:443/team/app',
  'a.b/c',
  'my-app__x.y--z/sub_dir/leaf',
  'app:Latest_1.0-rc',
  `app@sha256:${ID}`,
  `app:tag@sha256:${ID}`,
  `sha256:${ID}`,
  ID,
  'e1ddb911',
  'sha256:e1ddb911',
  'a'.repeat(237), // with the "docker.io/library/" the Engine adds: 255
];

const refused = [
  '1.', // a path component cannot end with a separator
  'P:', // capitals in a repository name; an empty tag
  '6h4..',
  'A',
  'a/B',
  'Foo/bar', // a first part without "." or ":" is a path component: lowercase (20.10 refuses it)
  'a:.x', // a tag cannot start with "."
  'a@md5:d41d8cd98f00b204e9800998ecf8427e', // a digest algorithm the Engine does not verify
  `app@sha256:${ID.slice(1)}`, // digest of the wrong length
  'a.b:c/d', // a registry port is digits
  'repo/..:tag', // ".." would become a path segment once the tag is split off
  'registry.local:5000/team/..:v1',
  'app/.:latest',
  '/app',
  'app/',
  'app//x',
  'a'.repeat(238), // with "docker.io/library/" the 20.10 Engine refuses more than 255
];

describe('image references (Docker reference grammar)', () => {
  it.each(accepted)('accepts %s', (ref) => {
    expect(imageRef.safeParse(ref).success).toBe(true);
  });

  it.each(refused)('refuses %s', (ref) => {
    const r = imageRef.safeParse(ref);
    expect(r.success).toBe(false);
  });

  it('publishes the whole rule (pattern and length) in the parameter schema', () => {
    const schema = parameterSchema(getOperation('inspect_image')!) as { properties: { image: { pattern: string; maxLength: number } } };
    const pattern = new RegExp(schema.properties.image.pattern, 'u');
    for (const ref of accepted) expect(pattern.test(ref) && ref.length <= schema.properties.image.maxLength, ref).toBe(true);
    for (const ref of refused) expect(pattern.test(ref) && ref.length <= schema.properties.image.maxLength, ref).toBe(false);
  });
});
