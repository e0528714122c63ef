/** Networks operations. */
export const networkOperations = [] as const;
