// The kernel's release version, reported by /health and attached to error reports.
export const KERNEL_VERSION = '0.1.0'
