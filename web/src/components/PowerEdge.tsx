import { BaseEdge, EdgeLabelRenderer, getBezierPath, type Edge, type EdgeProps } from '@xyflow/react';
import { memo } from 'react';
import { useRun } from '../runStore';
import { edgePower } from '../lib/live';

export type PowerEdgeData = { why: string };
export type PowerFlowEdge = Edge<PowerEdgeData, 'power'>;

/** A connection; while a run is live it carries the current power [W] and animates its way. */
function PowerEdgeView(p: EdgeProps<PowerFlowEdge>) {
  const power = useRun((s) => edgePower(s.live, p.source, p.target));
  const [path, lx, ly] = getBezierPath(p);
  const flowing = power !== null && Math.abs(power) > 0.5;
  const cls = flowing ? (power! > 0 ? 'flow-forward' : 'flow-backward') : '';
  return (
    <>
      <BaseEdge id={p.id} path={path} markerEnd={p.markerEnd} style={p.style} className={cls} />
      <path d={path} className={`edge-hit ${cls}`} data-testid={`edge-${p.source}-${p.target}`} fill="none">
        <title>{p.data?.why}</title>
      </path>
      {power !== null && (
        <EdgeLabelRenderer>
          <div
            className="edge-power"
            style={{ transform: `translate(-50%, -50%) translate(${lx}px,${ly}px)` }}
            data-testid={`edge-power-${p.source}-${p.target}`}
            data-power={power}
            title="power from source to target [W] (negative: the other way)"
          >
            {Math.round(power)} W
          </div>
        </EdgeLabelRenderer>
      )}
    </>
  );
}

export const PowerEdge = memo(PowerEdgeView);
