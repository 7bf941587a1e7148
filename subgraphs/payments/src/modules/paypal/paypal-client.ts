/** PayPal's sandbox; production is https://api-m.paypal.com (PAYPAL_API_URL). */
export const PAYPAL_SANDBOX_URL = 'https://api-m.sandbox.paypal.com';

export interface PayPalSettings {
  clientId: string | undefined;
  clientSecret: string | undefined;
  apiUrl?: string | undefined;
  timeoutMs?: number;
}

export interface PayPalMoney {
  currency_code: string;
  value: string;
}

export interface PayPalLink {
  href: string;
  rel: string;
  method?: string;
}

export interface PayPalCapture {
  id: string;
  status: string;
  amount?: PayPalMoney;
  custom_id?: string;
  status_details?: { reason?: string };
  supplementary_data?: { related_ids?: { order_id?: string } };
  create_time?: string;
  update_time?: string;
  links?: PayPalLink[];
}

export interface PayPalOrder {
  id: string;
  status: string;
  links?: PayPalLink[];
  purchase_units?: Array<{
    reference_id?: string;
    custom_id?: string;
    amount?: PayPalMoney;
    payments?: { captures?: PayPalCapture[] };
  }>;
}

export interface PayPalRefund {
  id: string;
  status: string;
  amount?: PayPalMoney;
  note_to_payer?: string;
  links?: PayPalLink[];
}

/** A refusal or failure answered by PayPal: `issue` is the first detail's code (ORDER_NOT_APPROVED...). */
export class PayPalApiError extends Error {
  constructor(
    readonly status: number,
    readonly errorName: string | undefined,
    readonly issue: string | undefined,
    readonly debugId: string | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'PayPalApiError';
  }
}

/** The headers PayPal signs a webhook delivery with (lower-case, as Node gives them). */
export interface PayPalTransmission {
  authAlgo: string;
  certUrl: string;
  transmissionId: string;
  transmissionSig: string;
  transmissionTime: string;
}

/**
 * PayPal's REST API over fetch: an OAuth2 client-credentials token, cached until shortly before it expires
 * (one request in flight refreshes it for everyone), and the Orders v2 / Payments v2 / webhook verification
 * calls the payments module uses. Undefined when the credentials are unset.
 */
export function createPayPalClient(settings: PayPalSettings, fetchImpl: typeof fetch = fetch) {
  const { clientId, clientSecret } = settings;
  if (!clientId || !clientSecret) return undefined;
  const base = (settings.apiUrl ?? PAYPAL_SANDBOX_URL).replace(/\/+$/, '');
  const timeoutMs = settings.timeoutMs ?? 20_000;
  let cached: { value: string; expiresAt: number } | undefined;
  let refreshing: Promise<string> | undefined;

  async function fetchToken(): Promise<string> {
    const response = await fetchImpl(`${base}/v1/oauth2/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
      },
      body: 'grant_type=client_credentials',
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = (await response.json().catch(() => ({}))) as {
      access_token?: string;
      expires_in?: number;
      error_description?: string;
    };
    if (!response.ok || !body.access_token)
      throw new PayPalApiError(
        response.status,
        'AUTHENTICATION_FAILURE',
        undefined,
        undefined,
        `PayPal refused the client credentials (${response.status}${body.error_description ? `: ${body.error_description}` : ''})`,
      );
    // A minute's margin so that a token never expires between the check and PayPal reading it.
    const lifetime = Math.max(0, (body.expires_in ?? 0) - 60) * 1000;
    cached = { value: body.access_token, expiresAt: Date.now() + lifetime };
    return body.access_token;
  }

  async function token(): Promise<string> {
    if (cached && cached.expiresAt > Date.now()) return cached.value;
    refreshing ??= fetchToken().finally(() => {
      refreshing = undefined;
    });
    return refreshing;
  }

  async function call<T>(
    method: 'GET' | 'POST',
    path: string,
    options: { body?: string; requestId?: string; prefer?: string } = {},
    retried = false,
  ): Promise<T> {
    const bearer = await token();
    const response = await fetchImpl(`${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${bearer}`,
        accept: 'application/json',
        ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(options.requestId ? { 'paypal-request-id': options.requestId } : {}),
        ...(options.prefer ? { prefer: options.prefer } : {}),
      },
      ...(options.body !== undefined ? { body: options.body } : {}),
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (response.status === 401 && !retried) {
      // Revoked or expired early: one fresh token, once.
      cached = undefined;
      return call<T>(method, path, options, true);
    }
    const text = await response.text();
    let body: Record<string, unknown> = {};
    try {
      body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      if (response.ok) throw new Error(`PayPal ${method} ${path} answered ${response.status} with no JSON`);
    }
    if (!response.ok) {
      const details = body.details as Array<{ issue?: string; description?: string }> | undefined;
      const issue = details?.[0]?.issue;
      throw new PayPalApiError(
        response.status,
        body.name as string | undefined,
        issue,
        (body.debug_id as string | undefined) ?? response.headers.get('paypal-debug-id') ?? undefined,
        `PayPal ${method} ${path.replace(/\/[A-Z0-9]{10,}/g, '/…')} answered ${response.status} ${typeof body.name === 'string' ? body.name : ''}${issue ? ` ${issue}` : ''}`,
      );
    }
    return body as T;
  }

  return {
    createOrder: (order: Record<string, unknown>, requestId: string) =>
      call<PayPalOrder>('POST', '/v2/checkout/orders', { body: JSON.stringify(order), requestId }),
    getOrder: (id: string) => call<PayPalOrder>('GET', `/v2/checkout/orders/${encodeURIComponent(id)}`),
    captureOrder: (id: string, requestId: string) =>
      call<PayPalOrder>('POST', `/v2/checkout/orders/${encodeURIComponent(id)}/capture`, {
        body: '{}',
        requestId,
        prefer: 'return=representation',
      }),
    getCapture: (id: string) => call<PayPalCapture>('GET', `/v2/payments/captures/${encodeURIComponent(id)}`),
    refundCapture: (id: string, refund: Record<string, unknown>, requestId: string) =>
      call<PayPalRefund>('POST', `/v2/payments/captures/${encodeURIComponent(id)}/refund`, {
        body: JSON.stringify(refund),
        requestId,
        prefer: 'return=representation',
      }),
    getRefund: (id: string) => call<PayPalRefund>('GET', `/v2/payments/refunds/${encodeURIComponent(id)}`),
    /**
     * PayPal's own check of a webhook delivery. The event goes in as the exact bytes received (the signature
     * covers their CRC32), spliced into the request rather than parsed and re-serialised.
     */
    async verifyWebhookSignature(
      transmission: PayPalTransmission,
      webhookId: string,
      rawEvent: string,
    ): Promise<boolean> {
      const head = JSON.stringify({
        auth_algo: transmission.authAlgo,
        cert_url: transmission.certUrl,
        transmission_id: transmission.transmissionId,
        transmission_sig: transmission.transmissionSig,
        transmission_time: transmission.transmissionTime,
        webhook_id: webhookId,
      });
      const body = `${head.slice(0, -1)},"webhook_event":${rawEvent}}`;
      const answer = await call<{ verification_status?: string }>(
        'POST',
        '/v1/notifications/verify-webhook-signature',
        { body },
      );
      return answer.verification_status === 'SUCCESS';
    },
  };
}

export type PayPalClient = NonNullable<ReturnType<typeof createPayPalClient>>;

/** The buyer's approval page of a PayPal order. */
export const approveLink = (order: PayPalOrder) =>
  order.links?.find((link) => link.rel === 'approve' || link.rel === 'payer-action')?.href;
