/** The JSON the native load client (bench/native) prints on stdout. */
export interface LoadRound {
  inflight: number;
  window_s: number;
  broadcasts: number;
  broadcasts_completed_in_window: number;
  deliveries: number;
  deliveries_per_s: number;
  broadcasts_per_s: number;
  latency_us: { p50: number; p90: number; p99: number; max: number; mean: number };
  missing: number;
  incomplete_broadcasts: number;
  client_cpu_s: number;
}

export interface LoadReport {
  protocol: "phoenix" | "engineio";
  sockets: number;
  topics_per_socket: number;
  topic_space: number;
  processes: number;
  sources: number;
  body_size: number;
  connect: { connected: number; failed: number; seconds: number; per_s: number };
  join: { joined_sockets: number; subscriptions: number; errors: number; seconds: number; subscriptions_per_s: number };
  rounds: LoadRound[];
  closed_by_server: number;
  unknown_deliveries: number;
  protocol_errors: number;
  /** ok replies to heartbeats the client received */
  heartbeat_replies: number;
  client_cpu_s: number;
}
