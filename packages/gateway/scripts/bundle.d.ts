/** Bundles both handlers into `outDir` (default dist/bundle); returns the paths written. */
export function bundleHandlers(outDir?: string): Promise<{ worker: string; lambda: string }>
