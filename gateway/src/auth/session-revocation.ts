// The key's format is shared with identity through the kernel.
export { isSessionRevoked, revokedSessionKey } from '@symbeon/kernel';
