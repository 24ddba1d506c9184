import { ReactFlowProvider, useReactFlow } from '@xyflow/react';
import { useCallback, useEffect, useMemo, useState } from 'react';
import { Canvas } from './components/Canvas';
import { ErrorBoundary } from './components/ErrorBoundary';
import { Palette } from './components/Palette';
import { PropertiesForm } from './components/PropertiesForm';
import { RunPanel } from './components/RunPanel';
import { YamlPanel } from './components/YamlPanel';
import { api, type Example } from './lib/api';
import { emptyModel, exportYaml, importYaml } from './lib/manifest';
import { makeRegistry } from './lib/registry';
import { validateModel } from './lib/validate';
import { redo, undo, useBuilder } from './store';
import { useRun } from './runStore';
import { BUNDLED_EXAMPLES } from './templates';

const SAVE_KEY = 'homesim.builder.v1';

function useAutosave() {
  const model = useBuilder((s) => s.model);
  const positions = useBuilder((s) => s.positions);
  useEffect(() => {
    const t = setTimeout(() => {
      try {
        localStorage.setItem(SAVE_KEY, JSON.stringify({ yaml: exportYaml(model), positions }));
      } catch {
        /* storage full or disabled: nothing to do */
      }
    }, 300);
    return () => clearTimeout(t);
  }, [model, positions]);
}

function restore(): boolean {
  try {
    const raw = localStorage.getItem(SAVE_KEY);
    if (!raw) return false;
    const { yaml, positions } = JSON.parse(raw) as { yaml: string; positions: Record<string, { x: number; y: number }> };
    useBuilder.getState().load(importYaml(yaml));
    useBuilder.getState().setPositions(positions ?? {});
    useBuilder.temporal.getState().clear();
    return true;
  } catch {
    return false;
  }
}

function Builder() {
  const model = useBuilder((s) => s.model);
  const reg = useBuilder((s) => s.registry);
  const message = useBuilder((s) => s.message);
  const serverErrors = useRun((s) => s.serverErrors);
  const [examples, setExamples] = useState<Example[]>(BUNDLED_EXAMPLES);
  const { fitView } = useReactFlow();
  useAutosave();

  const errors = useMemo(() => {
    const local = validateModel(model, reg);
    return [...local, ...serverErrors.filter((e) => !local.some((l) => l.path === e.path && l.message === e.message))];
  }, [model, reg, serverErrors]);
  const invalid = useMemo(() => {
    const ids = new Set<string>();
    const top = model.devices.filter((d) => !d.group);
    for (const e of errors) {
      let m = /^spec\.devices\[(\d+)\]/.exec(e.path);
      if (m && top[Number(m[1])]) ids.add(top[Number(m[1])].id);
      m = /^spec\.flats\[(\d+)\]\.devices\[(\d+)\]/.exec(e.path);
      if (m) {
        const flat = model.flats[Number(m[1])];
        const d = flat && model.devices.filter((x) => x.group === flat.name)[Number(m[2])];
        if (d) ids.add(d.id);
      }
    }
    return ids;
  }, [errors, model]);

  const layout = useCallback(async () => {
    const { model: m, edges } = useBuilder.getState();
    const { autoLayout } = await import('./lib/layout'); // elkjs is large: loaded when needed
    const l = await autoLayout(m, edges);
    useBuilder.getState().setPositions(l.positions);
    setTimeout(() => fitView({ padding: 0.1, duration: 200 }), 50);
  }, [fitView]);

  useEffect(() => {
    api.kinds().then((k) => useBuilder.getState().setRegistry(makeRegistry(k.kinds))).catch(() => undefined);
    api.examples().then((e) => e.examples.length && setExamples(e.examples)).catch(() => undefined);
    if (restore()) setTimeout(() => fitView({ padding: 0.1 }), 100);
  }, [fitView]);

  const loadTemplate = (name: string) => {
    const ex = examples.find((e) => e.name === name);
    if (!ex) return;
    useBuilder.getState().load(importYaml(ex.yaml));
    void layout();
  };

  // keyboard shortcuts (not while typing in a field)
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement | null;
      if (t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT' || t.isContentEditable)) return;
      const mod = e.ctrlKey || e.metaKey;
      const k = e.key.toLowerCase();
      const st = useBuilder.getState();
      if (mod && k === 'z' && !e.shiftKey) { undo(); e.preventDefault(); }
      else if (mod && (k === 'y' || (k === 'z' && e.shiftKey))) { redo(); e.preventDefault(); }
      else if (mod && k === 'c' && st.selected) { st.copy([st.selected]); e.preventDefault(); }
      else if (mod && k === 'v') { st.paste(); e.preventDefault(); }
      else if (mod && k === 'l') { void layout(); e.preventDefault(); }
      else if (k === 'escape') st.select(null);
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [layout]);

  const addFlat = () => {
    const st = useBuilder.getState();
    const m = st.model;
    let i = m.flats.length + 1;
    while (m.flats.some((f) => f.name === `flat-${i}`)) i++;
    const name = `flat-${i}`;
    useBuilder.setState({ model: { ...m, kind: 'Block', flats: [...m.flats, { name, extra: {} }] } });
    st.addDevice('flat', { x: 14, y: 36 }, name);
  };

  return (
    <div className="app">
      <header className="toolbar">
        <strong>homesim builder</strong>
        <label>
          {model.kind} <input data-field="metadata.name" value={String(model.metadata.name ?? '')} onChange={(e) => useBuilder.getState().setMeta(e.target.value)} size={14} />
        </label>
        <button data-testid="new-home" onClick={() => { useBuilder.getState().load(emptyModel()); useBuilder.temporal.getState().clear(); }}>New</button>
        <select data-testid="templates" value="" onChange={(e) => loadTemplate(e.target.value)}>
          <option value="">Templates…</option>
          {examples.map((e) => <option key={e.name} value={e.name} title={e.title}>{e.name}</option>)}
        </select>
        <button data-testid="undo" onClick={undo} title="Ctrl+Z">Undo</button>
        <button data-testid="redo" onClick={redo} title="Ctrl+Y / Ctrl+Shift+Z">Redo</button>
        <button data-testid="copy" onClick={() => { const s = useBuilder.getState(); if (s.selected) s.copy([s.selected]); }} title="Ctrl+C">Copy</button>
        <button data-testid="paste" onClick={() => useBuilder.getState().paste()} title="Ctrl+V">Paste</button>
        <button data-testid="delete" onClick={() => { const s = useBuilder.getState(); if (s.selected) s.remove([s.selected]); }} title="Delete / Backspace">Delete</button>
        <button data-testid="layout" onClick={() => void layout()} title="Ctrl+L">Auto-layout</button>
        <button data-testid="add-flat" onClick={addFlat} title="a Block's flat: a group for its devices">+ Flat</button>
      </header>
      {message && <div className={`message ${message.kind}`} data-testid="message" role={message.kind === 'error' ? 'alert' : 'status'}>{message.text}</div>}
      <main className="main">
        <Palette />
        <ErrorBoundary name="canvas"><Canvas invalid={invalid} /></ErrorBoundary>
        <div className="side">
          <ErrorBoundary name="form"><PropertiesForm errors={errors} /></ErrorBoundary>
          <section className="problems" data-testid="problems">
            <h3>{errors.length ? `${errors.length} problem(s)` : 'No problems found'}</h3>
            <ul>{errors.map((e) => <li key={e.path + e.message} data-problem-path={e.path}>{e.path}: {e.message}</li>)}</ul>
          </section>
        </div>
      </main>
      <footer className="dock">
        <ErrorBoundary name="run"><RunPanel /></ErrorBoundary>
        <ErrorBoundary name="yaml"><YamlPanel onImported={() => void layout()} /></ErrorBoundary>
      </footer>
    </div>
  );
}

export function App() {
  return (
    <ReactFlowProvider>
      <Builder />
    </ReactFlowProvider>
  );
}
