/** The origin of updates loaded from storage: not stored again, and counted against a room's `maxDocBytes`. */
export const FROM_STORAGE = Symbol('from storage')
