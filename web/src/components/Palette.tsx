import type { DragEvent } from 'react';
import { useBuilder } from '../store';
import { KIND_MIME } from './Canvas';

/** Every device kind of the registry; drag one onto the canvas (or double-click to add it). */
export function Palette() {
  const reg = useBuilder((s) => s.registry);
  const onDragStart = (e: DragEvent, kind: string) => {
    e.dataTransfer.setData(KIND_MIME, kind);
    e.dataTransfer.setData('text/plain', kind);
    e.dataTransfer.effectAllowed = 'copy';
  };
  return (
    <aside className="palette" data-testid="palette">
      <h2>Devices</h2>
      <ul>
        {[...reg.values()].map((k) => (
          <li
            key={k.kind}
            data-kind={k.kind}
            draggable
            onDragStart={(e) => onDragStart(e, k.kind)}
            onDoubleClick={() => useBuilder.getState().addDevice(k.kind, { x: 60 + Math.random() * 300, y: 60 + Math.random() * 200 })}
            title={`${k.description}\nrole: ${k.role}${k.balanced_by ? `, balanced by ${k.balanced_by}` : ''}${k.requires.length ? `, requires ${k.requires.join(', ')}` : ''}`}
            style={{ borderLeftColor: k.colour }}
          >
            <span className="palette-label">{k.label}</span>
            <span className="palette-kind">{k.kind}</span>
          </li>
        ))}
      </ul>
    </aside>
  );
}
