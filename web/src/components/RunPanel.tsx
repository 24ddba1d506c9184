// Run and watch: validate on the server, start the run, follow its clock; pause / resume /
// speed; the report; the what-if fork with its KPIs next to the original's.
import { useState } from 'react';
import { useRun } from '../runStore';
import { useBuilder } from '../store';
import { exportYaml } from '../lib/manifest';

function clockText(simTime: number | undefined): string {
  if (simTime === undefined || !Number.isFinite(simTime)) return '—';
  return new Date(simTime * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

type Kpis = Record<string, string>;

/** The KPIs of a run's summary.json that the what-if compares. */
export function kpis(summary: Record<string, unknown> | null | undefined): Kpis {
  if (!summary) return {};
  const e = (summary.energy_kwh ?? {}) as Record<string, number>;
  const cost = (summary.cost ?? {}) as Record<string, unknown>;
  const pct = (v: unknown) => (typeof v === 'number' ? `${(v * 100).toFixed(1)} %` : '—');
  const kwh = (v: unknown) => (typeof v === 'number' ? `${v.toFixed(1)} kWh` : '—');
  return {
    'net cost': typeof cost.net === 'number' ? `${cost.net.toFixed(2)} ${String(cost.currency ?? '')}` : '—',
    'grid import': kwh(e.grid_import),
    'grid export': kwh(e.grid_export),
    'self-consumption': pct(summary.self_consumption),
    'self-sufficiency': pct(summary.self_sufficiency),
    'unserved': kwh(e.unserved),
    'peak import': typeof summary.peak_import_w === 'number' ? `${(summary.peak_import_w / 1000).toFixed(2)} kW` : '—',
  };
}

export function RunPanel() {
  const model = useBuilder((s) => s.model);
  const r = useRun();
  const [speed, setSpeed] = useState('max');
  const [until, setUntil] = useState('');
  const [whatIf, setWhatIf] = useState('battery.capacity=18000000');
  const [note, setNote] = useState<string | null>(null);
  const clock = r.live.clock ?? (r.run?.progress as { sim_time?: number; tick?: number; ticks_total?: number; state?: string } | null) ?? null;
  const done = clock && clock.ticks_total ? Math.min(1, (clock.tick ?? 0) / clock.ticks_total) : null;
  const active = r.run && ['starting', 'running'].includes(r.run.status);
  const status = r.busy ? 'starting' : r.run ? (r.run.status === 'running' && r.paused ? 'paused' : r.run.status) : 'idle';

  const doWhatIf = async () => {
    setNote(null);
    try {
      await r.whatIf(whatIf.split(/[\n,;]+/).map((x) => x.trim()).filter(Boolean));
    } catch (e) {
      setNote((e as Error).message);
    }
  };

  return (
    <section className="run-panel">
      <div className="run-controls">
        <label>speed <input data-testid="speed-input" value={speed} onChange={(e) => setSpeed(e.target.value)} size={6} title="max, realtime or a multiple of real time (60)" /></label>
        <label>until <input data-testid="until-input" value={until} onChange={(e) => setUntil(e.target.value)} size={6} placeholder={String((model.spec.simulation as { duration?: string } | undefined)?.duration ?? '1d')} title="e.g. 2d, 12h" /></label>
        <button data-testid="run-button" disabled={r.busy} onClick={() => r.start(exportYaml(model), speed, until)}>{r.busy ? 'starting…' : 'Run'}</button>
        {active && <button data-testid="stop-button" onClick={() => r.stop()}>Stop</button>}
        {r.bus && (r.paused
          ? <button data-testid="resume-button" onClick={() => r.resume()}>Resume</button>
          : <button data-testid="pause-button" onClick={() => r.pause()}>Pause</button>)}
        {r.bus && <button data-testid="set-speed-button" onClick={() => r.setSpeed(speed)}>Set speed</button>}
      </div>
      <div className="run-state">
        <span>status <b data-testid="run-status">{status}</b></span>
        <span>clock <b data-testid="clock-time">{clockText(clock?.sim_time)}</b></span>
        {done !== null && <progress data-testid="run-progress" value={done} max={1} />}
        {r.run && r.run.status === 'finished' && <a data-testid="report-link" href={`api/runs/${encodeURIComponent(r.run.id)}/report`} target="_blank" rel="noreferrer">report</a>}
        {r.run?.error && <span className="error">{r.run.error}</span>}
        {r.busError && <span className="error" data-testid="run-error">{r.busError}</span>}
        {r.controlError && <span className="error" data-testid="control-error">{r.controlError}</span>}
      </div>
      {r.serverErrors.length > 0 && (
        <ul className="server-errors" data-testid="server-errors">
          {r.serverErrors.map((e) => <li key={e.path + e.message} data-problem-path={e.path}>{e.path}: {e.message}</li>)}
        </ul>
      )}
      <div className="whatif">
        <input value={whatIf} onChange={(e) => setWhatIf(e.target.value)} data-testid="whatif-set" title="DEVICE.PROPERTY=VALUE, comma-separated" />
        <button data-testid="whatif-button" disabled={!r.bus} onClick={doWhatIf} title="fork the running home with these changes">What if…</button>
        {note && <span className="error">{note}</span>}
      </div>
      {(r.fork || r.run?.summary) && (
        <table className="kpis" data-testid="whatif-kpis">
          <thead><tr><th>KPI</th><th title="the whole run, from its start">this run (whole)</th><th title="the fork books only the future after its snapshot">what-if {r.fork ? `(${r.fork.set.join(', ')})` : ''}, from its snapshot on</th></tr></thead>
          <tbody>
            {Object.keys(kpis({ energy_kwh: {} })).map((k) => (
              <tr key={k}>
                <td>{k}</td>
                <td data-kpi={k} data-run="original">{kpis(r.run?.summary)[k] ?? '—'}</td>
                <td data-kpi={k} data-run="fork">{r.fork ? (r.fork.status === 'running' ? 'running…' : r.fork.error ?? kpis(r.fork.summary)[k] ?? '—') : '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
