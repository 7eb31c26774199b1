/** Absolute path of the built dashboard (index.html and assets/); `npm run build` makes it. */
export declare const dashboardDir: string
