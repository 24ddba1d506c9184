import { useEffect, useRef, useState } from 'react';
import { useBuilder } from '../store';
import { exportYaml, importYaml, ManifestParseError } from '../lib/manifest';

/** Export the canvas as a manifest and import one (text or file). */
export function YamlPanel({ onImported }: { onImported: () => void }) {
  const model = useBuilder((s) => s.model);
  const [text, setText] = useState('');
  const [error, setError] = useState<string | null>(null);
  const file = useRef<HTMLInputElement>(null);
  useEffect(() => setText(exportYaml(model)), [model]);

  const load = (t: string) => {
    try {
      useBuilder.getState().load(importYaml(t));
      setError(null);
      onImported();
    } catch (e) {
      setError(e instanceof ManifestParseError ? `${e.path}: ${e.message}` : (e as Error).message);
    }
  };

  const download = () => {
    const t = exportYaml(model);
    setText(t);
    const a = document.createElement('a');
    a.href = URL.createObjectURL(new Blob([t], { type: 'application/yaml' }));
    a.download = `${String(model.metadata.name ?? 'home')}.yaml`;
    a.click();
    URL.revokeObjectURL(a.href);
  };

  return (
    <section className="yaml-panel">
      <div className="yaml-buttons">
        <button data-testid="export-yaml" onClick={download}>Export YAML</button>
        <button data-testid="import-yaml" onClick={() => load(text)} title="load the text below onto the canvas">Import YAML</button>
        <button onClick={() => file.current?.click()}>Import file…</button>
        <input ref={file} type="file" accept=".yaml,.yml" hidden data-testid="import-file"
          onChange={async (e) => { const f = e.target.files?.[0]; if (f) { const t = await f.text(); setText(t); load(t); } e.target.value = ''; }} />
      </div>
      {error && <div className="error" data-testid="import-error">{error}</div>}
      <textarea data-testid="yaml-output" value={text} onChange={(e) => setText(e.target.value)} spellCheck={false} />
    </section>
  );
}
