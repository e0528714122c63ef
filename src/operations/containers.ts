/** Container operations. */
export const containerOperations = [] as const;
