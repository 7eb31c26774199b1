// The built dashboard's folder, for servers to mount (`npm run build` makes it).
import { fileURLToPath } from 'node:url'

/** Absolute path of the built dashboard (index.html and assets/). */
export const dashboardDir = fileURLToPath(new URL('./dist/', import.meta.url))
