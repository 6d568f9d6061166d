import { describe, expect, it } from "vitest";

import { catchUpBatchBytes, CORK_FIT_BATCH_BYTES } from "../../server/presence/catch-up-batch.js";

describe("presence catch-up batches", () => {
  it("stay within the cork buffer on a uWS build that keeps a socket's send buffer at its largest", () => {
    expect(catchUpBatchBytes(4 * CORK_FIT_BATCH_BYTES, { releasesSendBuffer: false })).toEqual({ bytes: CORK_FIT_BATCH_BYTES, capped: true });
    expect(catchUpBatchBytes(4096, { releasesSendBuffer: false })).toEqual({ bytes: 4096, capped: false });
  });

  it("take the size asked for on a build that releases the send buffer", () => {
    expect(catchUpBatchBytes(4 * CORK_FIT_BATCH_BYTES, { releasesSendBuffer: true })).toEqual({ bytes: 4 * CORK_FIT_BATCH_BYTES, capped: false });
  });
});
