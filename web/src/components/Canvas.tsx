import {
  Background, ConnectionMode, Controls, MarkerType, MiniMap, ReactFlow, applyEdgeChanges, applyNodeChanges,
  useReactFlow, type EdgeChange, type Node, type NodeChange, type Connection,
} from '@xyflow/react';
import { useCallback, useEffect, useMemo, useState, type DragEvent } from 'react';
import { useBuilder, type XY } from '../store';
import { DeviceNode, FlatGroup, type DeviceFlowNode, type FlatFlowNode } from './DeviceNode';
import { PowerEdge, type PowerFlowEdge } from './PowerEdge';
import { NODE_H, NODE_W } from '../lib/geometry';
import type { ManifestModel } from '../lib/manifest';
import type { Registry } from '../lib/registry';

export const KIND_MIME = 'application/x-homesim-kind';

const nodeTypes = { device: DeviceNode, flat: FlatGroup };
const edgeTypes = { power: PowerEdge };

type AnyNode = DeviceFlowNode | FlatFlowNode;

function defaultPos(i: number): XY {
  return { x: 40 + (i % 4) * (NODE_W + 50), y: 40 + Math.floor(i / 4) * (NODE_H + 50) };
}

function buildNodes(m: ManifestModel, reg: Registry, positions: Record<string, XY>, invalid: Set<string>, prev: AnyNode[]): AnyNode[] {
  const old = new Map(prev.map((n) => [n.id, n]));
  const out: AnyNode[] = [];
  m.flats.forEach((f, i) => {
    const id = `flat:${f.name}`;
    const kids = m.devices.filter((d) => d.group === f.name);
    const kp = kids.map((d, j) => positions[d.id] ?? { x: 14 + (j % 2) * (NODE_W + 20), y: 36 + Math.floor(j / 2) * (NODE_H + 20) });
    const width = Math.max(NODE_W + 28, ...kp.map((p) => p.x + NODE_W + 14));
    const height = Math.max(NODE_H + 50, ...kp.map((p) => p.y + NODE_H + 14));
    const o = old.get(id);
    out.push({
      ...(o ?? {}), id, type: 'flat', data: { name: f.name },
      position: positions[id] ?? { x: 40 + i * (width + 40), y: 400 },
      style: { width, height }, selectable: true, deletable: true,
    } as FlatFlowNode);
  });
  m.devices.forEach((d, i) => {
    const k = reg.get(d.kind);
    const o = old.get(d.id);
    const inFlat = d.group && m.flats.some((f) => f.name === d.group);
    const j = inFlat ? m.devices.filter((x) => x.group === d.group).indexOf(d) : i;
    out.push({
      ...(o ?? {}), id: d.id, type: 'device',
      position: positions[d.id] ?? (inFlat ? { x: 14 + (j % 2) * (NODE_W + 20), y: 36 + Math.floor(j / 2) * (NODE_H + 20) } : defaultPos(i)),
      parentId: inFlat ? `flat:${d.group}` : undefined,
      extent: inFlat ? 'parent' : undefined,
      data: { name: d.name, kind: d.kind, label: k?.label ?? d.kind, colour: k?.colour ?? '#95a5a6', disabled: d.extra.enabled === false, invalid: invalid.has(d.id) },
    } as DeviceFlowNode);
  });
  return out;
}

export function Canvas({ invalid }: { invalid: Set<string> }) {
  const model = useBuilder((s) => s.model);
  const reg = useBuilder((s) => s.registry);
  const positions = useBuilder((s) => s.positions);
  const storeEdges = useBuilder((s) => s.edges);
  const selected = useBuilder((s) => s.selected);
  const { screenToFlowPosition } = useReactFlow();
  const [nodes, setNodes] = useState<AnyNode[]>([]);
  const [edges, setEdges] = useState<PowerFlowEdge[]>([]);

  useEffect(() => {
    setNodes((prev) => buildNodes(model, reg, positions, invalid, prev).map((n) => ({ ...n, selected: n.id === selected })));
  }, [model, reg, positions, invalid, selected]);

  useEffect(() => {
    setEdges((prev) => {
      const sel = new Set(prev.filter((e) => e.selected).map((e) => e.id));
      return storeEdges.map((e) => {
        const id = `${e.source}>${e.target}`;
        return {
          id, source: e.source, target: e.target, type: 'power', data: { why: e.why }, selected: sel.has(id),
          markerEnd: { type: MarkerType.ArrowClosed, width: 16, height: 16 },
        };
      });
    });
  }, [storeEdges]);

  const onNodesChange = useCallback((changes: NodeChange<AnyNode>[]) => {
    setNodes((ns) => applyNodeChanges(changes, ns));
    const st = useBuilder.getState();
    const removed: string[] = [];
    for (const c of changes) {
      if (c.type === 'position' && c.position && c.dragging === false) st.move(c.id, c.position);
      if (c.type === 'position' && c.position && c.dragging === undefined) st.move(c.id, c.position);
      if (c.type === 'select' && c.selected) st.select(c.id.startsWith('flat:') ? null : c.id);
      if (c.type === 'remove') removed.push(c.id);
    }
    if (removed.length) st.remove(removed);
  }, []);

  const onNodeDragStop = useCallback((_e: unknown, _n: Node, dragged: Node[]) => {
    const p: Record<string, XY> = {};
    for (const n of dragged) p[n.id] = n.position;
    useBuilder.getState().setPositions(p);
  }, []);

  const onEdgesChange = useCallback((changes: EdgeChange<PowerFlowEdge>[]) => {
    setEdges((es) => applyEdgeChanges(changes, es));
    for (const c of changes) {
      if (c.type === 'remove') {
        const [s, t] = c.id.split('>');
        useBuilder.getState().disconnect(s, t);
      }
    }
  }, []);

  const onConnect = useCallback((c: Connection) => {
    useBuilder.getState().connect(c.source, c.target);
  }, []);

  const onDragOver = useCallback((e: DragEvent) => {
    e.preventDefault();
    e.dataTransfer.dropEffect = 'copy';
  }, []);

  const onDrop = useCallback((e: DragEvent) => {
    e.preventDefault();
    const kind = e.dataTransfer.getData(KIND_MIME) || e.dataTransfer.getData('text/plain');
    const st = useBuilder.getState();
    if (!kind || !st.registry.has(kind)) return;
    const at = screenToFlowPosition({ x: e.clientX, y: e.clientY });
    // dropped into a flat's group: the device belongs to that flat
    const group = nodes.find((n) => {
      if (n.type !== 'flat') return false;
      const w = Number(n.style?.width ?? 0);
      const h = Number(n.style?.height ?? 0);
      return at.x >= n.position.x && at.x <= n.position.x + w && at.y >= n.position.y && at.y <= n.position.y + h;
    }) as FlatFlowNode | undefined;
    if (group) st.addDevice(kind, { x: at.x - group.position.x, y: at.y - group.position.y }, group.data.name);
    else st.addDevice(kind, { x: at.x - NODE_W / 2, y: at.y - NODE_H / 2 });
  }, [nodes, screenToFlowPosition]);

  const miniColour = useMemo(() => (n: Node) => (n.type === 'flat' ? '#eee' : String((n.data as { colour?: string }).colour ?? '#999')), []);

  return (
    <div className="canvas" data-testid="canvas" onDragOver={onDragOver} onDrop={onDrop}>
      <ReactFlow<AnyNode, PowerFlowEdge>
        nodes={nodes}
        edges={edges}
        nodeTypes={nodeTypes}
        edgeTypes={edgeTypes}
        onNodesChange={onNodesChange}
        onEdgesChange={onEdgesChange}
        onNodeDragStop={onNodeDragStop}
        onConnect={onConnect}
        onPaneClick={() => useBuilder.getState().select(null)}
        connectionMode={ConnectionMode.Loose}
        deleteKeyCode={['Delete', 'Backspace']}
        fitView
        minZoom={0.2}
      >
        <Background />
        <Controls />
        <MiniMap nodeColor={miniColour} pannable zoomable style={{ width: 160, height: 110 }} />
      </ReactFlow>
    </div>
  );
}
