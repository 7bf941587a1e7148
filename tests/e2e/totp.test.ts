import { Wallet } from 'ethers';
import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { devKeys, signIn, siweMessage, startTestStack, type TestStack } from '../kit/index.js';

// Two-factor sign-in as a user meets it, through the gateway only. The kit's signIn throws on the step-up
// (ok: false), so the second sign-in is written out here.
let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack();
});

afterAll(async () => {
  await stack?.stop();
});

const now = () => Math.floor(Date.now() / 1000);

describe('TOTP two-factor sign-in through the gateway', () => {
  it('enrols, confirms, then asks for a code at sign-in and signs in with it', async () => {
    const grace = await signIn(stack.graphql, devKeys.grace);
    const enrolled = await stack.graphql(
      'mutation { enrollTotp { ok error { code } otpauthUri qrCodeSvg } }',
      undefined,
      grace.headers,
    );
    expect(enrolled.body.errors).toBeUndefined();
    const enrollment = enrolled.body.data!.enrollTotp as { otpauthUri: string; qrCodeSvg: string };
    expect(enrollment).toMatchObject({ ok: true, qrCodeSvg: expect.stringMatching(/^<svg/) });
    const secret = new URL(enrollment.otpauthUri).searchParams.get('secret')!;

    // The step before now: still inside the ±1 window, and leaves the current step for the sign-in below.
    const confirmed = await stack.graphql(
      'mutation($code: String!) { confirmTotp(code: $code) { ok error { code message } recoveryCodes } }',
      { code: await generate({ secret, epoch: now() - 30 }) },
      grace.headers,
    );
    expect(confirmed.body.data!.confirmTotp).toMatchObject({ ok: true, recoveryCodes: expect.any(Array) });
    expect(
      (await stack.graphql('{ viewer { totpEnabled } }', undefined, grace.headers)).body.data!.viewer,
    ).toEqual({ totpEnabled: true });
    const signedOut = await stack.graphql('mutation { signOut { ok } }', undefined, grace.headers);
    expect(signedOut.body.data!.signOut.ok).toBe(true);

    const wallet = new Wallet(devKeys.grace);
    const message = await siweMessage(stack.graphql, wallet.address);
    const stepUp = await stack.graphql(
      `mutation($message: String!, $signature: String!) {
        signInWithEthereum(message: $message, signature: $signature) { ok error { code } accessToken challenge }
      }`,
      { message, signature: await wallet.signMessage(message) },
    );
    const challenged = stepUp.body.data!.signInWithEthereum as { challenge: string };
    expect(challenged).toMatchObject({
      ok: false,
      error: { code: 'SECOND_FACTOR_REQUIRED' },
      accessToken: null,
      challenge: expect.any(String),
    });

    const COMPLETE = `mutation($challenge: String!, $code: String!) {
      completeSignIn(challenge: $challenge, code: $code) { ok error { code message } accessToken user { handle } }
    }`;
    const completed = await stack.graphql(COMPLETE, {
      challenge: challenged.challenge,
      code: await generate({ secret, epoch: now() + 30 }),
    });
    const done = completed.body.data!.completeSignIn as { accessToken: string };
    expect(done).toMatchObject({ ok: true, user: { handle: 'grace' }, accessToken: expect.any(String) });
    const viewer = await stack.graphql('{ viewer { handle totpEnabled } }', undefined, {
      authorization: `Bearer ${done.accessToken}`,
    });
    expect(viewer.body.data!.viewer).toEqual({ handle: 'grace', totpEnabled: true });

    const replay = await stack.graphql(COMPLETE, {
      challenge: challenged.challenge,
      code: await generate({ secret, epoch: now() }),
    });
    expect(replay.body.data!.completeSignIn).toMatchObject({
      ok: false,
      error: { code: 'INVALID_CHALLENGE' },
    });
  });
});
