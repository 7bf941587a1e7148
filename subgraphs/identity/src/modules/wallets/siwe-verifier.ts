import { randomBytes } from 'node:crypto';
import type { Provider } from 'ethers';
import type { SiweMessage } from 'siwe';
import { DomainError, type Cache } from '@symbeon/kernel';

/**
 * Sign-In with Ethereum (EIP-4361), every rule. siwe 3 parses the message (ABNF, EIP-55 address) but leaves
 * domain, URI, chain, time bounds and nonce bookkeeping to the caller: all of them are checked here, each
 * refused with its own code, before the nonce is consumed.
 */
export const SiweError = {
  INVALID_MESSAGE: 'SIWE_INVALID_MESSAGE',
  WRONG_DOMAIN: 'SIWE_WRONG_DOMAIN',
  WRONG_URI: 'SIWE_WRONG_URI',
  WRONG_CHAIN: 'SIWE_WRONG_CHAIN',
  ISSUED_IN_FUTURE: 'SIWE_ISSUED_IN_FUTURE',
  TOO_OLD: 'SIWE_MESSAGE_TOO_OLD',
  EXPIRED: 'SIWE_MESSAGE_EXPIRED',
  NOT_YET_VALID: 'SIWE_NOT_YET_VALID',
  UNKNOWN_NONCE: 'SIWE_UNKNOWN_NONCE',
  NONCE_REUSED: 'SIWE_NONCE_REUSED',
  INVALID_SIGNATURE: 'SIWE_INVALID_SIGNATURE',
} as const;

export interface SiweConfig {
  /** Allowed `domain` values (host[:port]), e.g. `localhost:8000`. */
  domains: readonly string[];
  /** Allowed URI origins, e.g. `http://localhost:8000`. */
  uris: readonly string[];
  chainIds: readonly number[];
  /** How old `issuedAt` may be. */
  maxAgeMs: number;
  /** Clock skew tolerated on issuedAt / notBefore / expirationTime. */
  skewMs: number;
  /** For contract wallets (EIP-1271); without it only externally owned accounts can sign in. */
  provider?: Provider | undefined;
  now?: () => Date;
}

export const NONCE_TTL_MS = 5 * 60_000;
const nonceKey = (nonce: string) => `siwe:nonce:${nonce}`;
const usedNonceKey = (nonce: string) => `siwe:used:${nonce}`;
/** bytes4(keccak256("isValidSignature(bytes32,bytes)")) */
const EIP1271_MAGIC = '0x1626ba7e';

export interface VerifiedSiwe {
  /** EIP-55 checksum address. */
  address: string;
  chainId: number;
  message: SiweMessage;
}

export function createSiweVerifier(cache: Cache, config: SiweConfig) {
  const now = config.now ?? (() => new Date());
  const fail = (code: string, message: string, field = 'message'): never => {
    throw new DomainError(code, message, field);
  };

  // ethers and siwe are loaded on the first sign-in, not at start-up (they cost about 0.4 s to import).
  const libraries = () => Promise.all([import('ethers'), import('siwe')]);

  async function signatureIsValid(message: string, address: string, signature: string): Promise<boolean> {
    const [{ Contract, getAddress, hashMessage, verifyMessage }] = await libraries();
    try {
      if (getAddress(verifyMessage(message, signature)) === address) return true;
    } catch {
      // Not a 65-byte ECDSA signature: it may still be a contract wallet's.
    }
    if (!config.provider) return false;
    try {
      const code = await config.provider.getCode(address);
      if (code === '0x') return false;
      const wallet = new Contract(
        address,
        ['function isValidSignature(bytes32 hash, bytes signature) view returns (bytes4)'],
        config.provider,
      );
      const result = (await wallet.getFunction('isValidSignature')(
        hashMessage(message),
        signature,
      )) as string;
      return result.toLowerCase() === EIP1271_MAGIC;
    } catch {
      return false;
    }
  }

  return {
    /** A single-use, high-entropy nonce (128 bits, alphanumeric as EIP-4361 requires), valid 5 minutes. */
    async createNonce(): Promise<string> {
      const nonce = randomBytes(16).toString('hex');
      await cache.set(nonceKey(nonce), '1', { ttlMs: NONCE_TTL_MS });
      return nonce;
    },

    async verify(text: string, signature: string): Promise<VerifiedSiwe> {
      const [{ getAddress }, { SiweMessage }] = await libraries();
      let message: SiweMessage;
      try {
        message = new SiweMessage(text);
      } catch (error) {
        return fail(
          SiweError.INVALID_MESSAGE,
          `Not an EIP-4361 message: ${error instanceof Error ? error.message : 'unreadable'}`,
        );
      }
      if (!config.domains.includes(message.domain)) {
        fail(SiweError.WRONG_DOMAIN, `The message is for "${message.domain}", not this site`);
      }
      let origin: string;
      try {
        origin = new URL(message.uri).origin;
      } catch {
        return fail(SiweError.WRONG_URI, 'The message URI is not a URL');
      }
      if (!config.uris.includes(origin))
        fail(SiweError.WRONG_URI, `The message URI "${message.uri}" is not this site`);
      if (!config.chainIds.includes(message.chainId)) {
        fail(
          SiweError.WRONG_CHAIN,
          `Chain ${message.chainId} is not accepted (accepted: ${config.chainIds.join(', ')})`,
        );
      }
      const current = now().getTime();
      const issuedAt = Date.parse(message.issuedAt ?? '');
      if (Number.isNaN(issuedAt)) fail(SiweError.INVALID_MESSAGE, 'The message has no valid Issued At');
      if (issuedAt > current + config.skewMs)
        fail(SiweError.ISSUED_IN_FUTURE, 'The message is issued in the future');
      if (issuedAt < current - config.maxAgeMs)
        fail(SiweError.TOO_OLD, 'The message is too old: ask for a new nonce');
      if (message.expirationTime && Date.parse(message.expirationTime) <= current - config.skewMs) {
        fail(SiweError.EXPIRED, 'The message has expired');
      }
      if (message.notBefore && Date.parse(message.notBefore) > current + config.skewMs) {
        fail(SiweError.NOT_YET_VALID, 'The message is not valid yet');
      }
      if ((await cache.get(nonceKey(message.nonce))) === undefined) {
        if (await cache.get(usedNonceKey(message.nonce)))
          fail(SiweError.NONCE_REUSED, 'This nonce was already used');
        fail(SiweError.UNKNOWN_NONCE, 'Unknown or expired nonce: ask for a new one');
      }
      const address = getAddress(message.address);
      if (!(await signatureIsValid(text, address, signature))) {
        fail(
          SiweError.INVALID_SIGNATURE,
          'The signature is not from the address in the message',
          'signature',
        );
      }
      // Consumed last and atomically: of two concurrent sign-ins with one nonce, exactly one gets here.
      if ((await cache.take(nonceKey(message.nonce))) === undefined) {
        fail(SiweError.NONCE_REUSED, 'This nonce was already used');
      }
      await cache.set(usedNonceKey(message.nonce), '1', { ttlMs: config.maxAgeMs + NONCE_TTL_MS });
      return { address, chainId: message.chainId, message };
    },
  };
}

export type SiweVerifier = ReturnType<typeof createSiweVerifier>;
