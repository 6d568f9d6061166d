/** A baseline server started in-process (by the benchmark's server entry point or by tests). */
export interface BaselineServer {
  readonly port: number;
  close(): Promise<void>;
}
