// Auto-layout with elkjs (layered, left to right); a Block's flats are compound nodes.
import ELK from 'elkjs/lib/elk.bundled.js';
import type { ElkNode } from 'elkjs/lib/elk-api';
import type { ManifestModel } from './manifest';
import type { Relation } from './rules';

import { NODE_H, NODE_W } from './geometry';

export { NODE_H, NODE_W };

const elk = new ELK();

export interface Layout {
  /** Position of each device (relative to its flat group) and of each group (`flat:<name>`). */
  positions: Record<string, { x: number; y: number }>;
  /** Size of each flat group. */
  sizes: Record<string, { width: number; height: number }>;
}

export async function autoLayout(m: ManifestModel, edges: Relation[]): Promise<Layout> {
  const leaf = (id: string): ElkNode => ({ id, width: NODE_W, height: NODE_H });
  const graph: ElkNode = {
    id: 'root',
    layoutOptions: {
      'elk.algorithm': 'layered', 'elk.direction': 'RIGHT',
      'elk.hierarchyHandling': 'INCLUDE_CHILDREN',
      'elk.spacing.nodeNode': '30', 'elk.layered.spacing.nodeNodeBetweenLayers': '70',
    },
    children: [
      ...m.flats.map((f) => ({
        id: `flat:${f.name}`,
        layoutOptions: { 'elk.padding': '[top=36,left=14,bottom=14,right=14]' },
        children: m.devices.filter((d) => d.group === f.name).map((d) => leaf(d.id)),
      })),
      ...m.devices.filter((d) => !d.group || !m.flats.some((f) => f.name === d.group)).map((d) => leaf(d.id)),
    ],
    edges: edges.map((e, i) => ({ id: `e${i}`, sources: [e.source], targets: [e.target] })),
  };
  const out = await elk.layout(graph);
  const positions: Layout['positions'] = {};
  const sizes: Layout['sizes'] = {};
  for (const c of out.children ?? []) {
    positions[c.id] = { x: c.x ?? 0, y: c.y ?? 0 };
    if (c.children) {
      sizes[c.id] = { width: c.width ?? NODE_W, height: c.height ?? NODE_H };
      for (const g of c.children) positions[g.id] = { x: g.x ?? 0, y: g.y ?? 0 };
    }
  }
  return { positions, sizes };
}
