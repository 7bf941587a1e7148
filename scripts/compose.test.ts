import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { compose } from './compose.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const folder = mkdtempSync(path.join(tmpdir(), 'symbeon-compose-'));

afterAll(() => rmSync(folder, { recursive: true, force: true }));

function config(subgraphs: Record<string, string>) {
  const lines = ['federation_version: =2.14.4', 'subgraphs:'];
  for (const [name, sdl] of Object.entries(subgraphs)) {
    mkdirSync(path.join(folder, name), { recursive: true });
    writeFileSync(path.join(folder, name, 'schema.graphql'), sdl);
    lines.push(
      `  ${name}:`,
      `    routing_url: http://127.0.0.1:1/${name}`,
      '    schema:',
      `      file: ./${name}/schema.graphql`,
    );
  }
  const file = path.join(folder, 'supergraph.yaml');
  writeFileSync(file, lines.join('\n'));
  return file;
}

const link = 'extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key"])\n';

describe('npm run compose', () => {
  it('matches the committed schema/ and subgraph schema files exactly', () => {
    const { files, errors } = compose();
    expect(errors).toEqual([]);
    // schema/supergraph.graphql, schema/api.graphql, and each subgraph's schema.graphql.
    const subgraphs =
      readFileSync(path.join(root, 'supergraph.yaml'), 'utf8').match(/^ {2}[a-z][\w-]*:$/gm) ?? [];
    expect(subgraphs.length).toBeGreaterThanOrEqual(2);
    expect(files.size).toBe(2 + subgraphs.length);
    for (const [file, text] of files)
      expect(readFileSync(file, 'utf8'), path.relative(root, file)).toBe(text);
  });

  it('reports composition errors instead of writing anything', () => {
    const file = config({
      a: `${link}type Query { thing: Thing } type Thing @key(fields: "id") { id: ID! name: String }`,
      b: `${link}type Thing @key(fields: "id") { id: ID! name: Int }`,
    });
    const { errors, files } = compose(file);
    expect(errors.join('\n')).toMatch(/name/);
    expect([...files.keys()].some((name) => name.endsWith('supergraph.graphql'))).toBe(false);
  });

  it('writes a client-facing API schema without federation machinery', () => {
    const file = config({ a: `${link}type Query { hello: String }` });
    const { files, errors } = compose(file);
    expect(errors).toEqual([]);
    const api = files.get(path.join(folder, 'schema', 'api.graphql'))!;
    const supergraph = files.get(path.join(folder, 'schema', 'supergraph.graphql'))!;
    expect(api).toContain('hello: String');
    expect(api).not.toContain('join__');
    expect(supergraph).toContain('@join__graph(name: "a"');
  });
});
