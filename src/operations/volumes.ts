/** Volumes operations. */
export const volumeOperations = [] as const;
