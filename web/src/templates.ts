// Templates: the example manifests (examples/*.yaml), bundled at build time so the page works
// offline; `GET /api/examples` replaces them when the server answers.
import type { Example } from './lib/api';

const files = import.meta.glob('../../examples/*.yaml', { query: '?raw', import: 'default', eager: true }) as Record<string, string>;

function title(yaml: string, name: string): string {
  const first = yaml.split('\n').find((l) => l.startsWith('#'));
  return first ? first.replace(/^#\s*/, '').replace(/[.:]$/, '') : name;
}

export const BUNDLED_EXAMPLES: Example[] = Object.entries(files)
  .map(([path, yaml]) => {
    const name = path.split('/').pop()!.replace(/\.yaml$/, '');
    return { name, title: title(yaml, name), yaml };
  })
  .sort((a, b) => a.name.localeCompare(b.name));
