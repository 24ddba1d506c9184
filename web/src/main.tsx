import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import '@xyflow/react/dist/style.css';
import './styles.css';
import { App } from './App';
import { initToken } from './lib/api';

initToken();
createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);

// `?debug` exposes the stores to the console (and to tests): window.homesim.run / .builder
if (new URLSearchParams(window.location.search).has('debug')) {
  void Promise.all([import('./runStore'), import('./store')]).then(([r, b]) => {
    (window as unknown as { homesim: unknown }).homesim = { run: r.useRun, builder: b.useBuilder };
  });
}
