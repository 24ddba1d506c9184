import { Handle, Position, type NodeProps, type Node } from '@xyflow/react';
import { memo } from 'react';
import { useRun } from '../runStore';
import { formatMetric } from '../lib/live';

export type DeviceNodeData = { name: string; kind: string; label: string; colour: string; disabled: boolean; invalid: boolean };
export type DeviceFlowNode = Node<DeviceNodeData, 'device'>;

/** A device on the canvas: its name, kind and, while a run is live, its metrics. */
function DeviceNodeView({ id, data, selected }: NodeProps<DeviceFlowNode>) {
  const metrics = useRun((s) => s.live.metrics[id]);
  return (
    <div
      className={`device-node${selected ? ' selected' : ''}${data.disabled ? ' disabled' : ''}${data.invalid ? ' invalid' : ''}`}
      data-testid={`node-${id}`}
      data-kind={data.kind}
      style={{ borderColor: data.colour }}
      title={data.label}
    >
      <Handle type="target" position={Position.Left} />
      <div className="device-name">{id}</div>
      <div className="device-kind" style={{ color: data.colour }}>{data.kind}</div>
      {metrics && (
        <div className="device-metrics" data-testid={`metrics-${id}`}>
          {Object.entries(metrics).map(([k, v]) => (
            <span key={k} data-metric={k}>{formatMetric(k, v)}</span>
          ))}
        </div>
      )}
      <Handle type="source" position={Position.Right} />
    </div>
  );
}

export const DeviceNode = memo(DeviceNodeView);

export type FlatNodeData = { name: string };
export type FlatFlowNode = Node<FlatNodeData, 'flat'>;

/** A Block's flat: the group its devices sit in. */
function FlatGroupView({ data, selected }: NodeProps<FlatFlowNode>) {
  return (
    <div className={`flat-group${selected ? ' selected' : ''}`} data-testid={`flat-${data.name}`}>
      <div className="flat-title">flat {data.name}</div>
    </div>
  );
}

export const FlatGroup = memo(FlatGroupView);
