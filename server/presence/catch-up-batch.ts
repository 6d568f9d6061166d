import type { UwsCapabilities } from "../native-uws.js";
import { PART_BYTES } from "./state-parts.js";

/**
 * A batch of one part with its frame header and a member's head: within uWS's 16 KiB cork
 * buffer, so it goes from there straight to the kernel (the default batch).
 */
export const CORK_FIT_BATCH_BYTES = PART_BYTES + 1024;

/**
 * The bytes a member's catch-up is written in at once, given `presenceCatchUpBatchBytes`. A batch
 * bigger than the cork buffer is formatted in the socket's own send buffer; a uWS build that keeps
 * that buffer's size for the socket's life would hold a batch per member, so there the batch stays
 * within the cork buffer (`capped`). Only a build that releases it takes a bigger batch.
 */
export function catchUpBatchBytes(wanted: number, uws: Pick<UwsCapabilities, "releasesSendBuffer">): { bytes: number; capped: boolean } {
  if (wanted <= CORK_FIT_BATCH_BYTES || uws.releasesSendBuffer) return { bytes: wanted, capped: false };
  return { bytes: CORK_FIT_BATCH_BYTES, capped: true };
}
