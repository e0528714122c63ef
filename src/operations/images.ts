/** Images operations. */
export const imageOperations = [] as const;
