/** Size of a device node on the canvas [px]. */
export const NODE_W = 170;
export const NODE_H = 64;
