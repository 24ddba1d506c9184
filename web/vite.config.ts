import { defineConfig } from 'vitest/config';
import react from '@vitejs/plugin-react';

// `npm run dev` proxies the API to a running `homesim serve` (HOMESIM_SERVE, default :8080).
const api = process.env.HOMESIM_SERVE ?? 'http://127.0.0.1:8080';

export default defineConfig({
  plugins: [react()],
  base: './',
  build: { outDir: 'dist', chunkSizeWarningLimit: 4000 },
  // the templates are the repository's examples (../examples), read at build time
  server: { proxy: { '/api': api }, fs: { allow: ['..'] } },
  test: { include: ['src/**/*.test.ts'], environment: 'node', testTimeout: 30000 },
});
