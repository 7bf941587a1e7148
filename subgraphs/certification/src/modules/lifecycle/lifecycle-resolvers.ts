import { asResult, type GraphQLResolverMap } from '@symbeon/kernel';
import type { CertificationContext } from '../../context.js';
import type { CertificateRow } from '../issuance/issuance-storage.js';

type Context = CertificationContext;

export const lifecycleResolvers: GraphQLResolverMap<Context> = {
  Mutation: {
    revokeCertificate: (_: unknown, args: { id: string; reason: string }, context: Context) =>
      asResult(async () => ({
        certificate: await context.lifecycle.revoke(context.principal, args.id, args.reason),
      })),
    renewCertificate: (_: unknown, args: { id: string }, context: Context) =>
      asResult(async () => ({ certificate: await context.lifecycle.renew(context.principal, args.id) })),
  },
  Certificate: {
    verificationUrl: (row: CertificateRow, _: unknown, context: Context) =>
      context.lifecycle.verificationUrl(row.id),
    verificationQrCodeSvg: (row: CertificateRow, _: unknown, context: Context) =>
      context.lifecycle.verificationQrCodeSvg(row.id),
  },
};
