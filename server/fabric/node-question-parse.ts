import type { NodeAnswer, NodeQuestion } from "./fabric.js";

/** The longest topic a node question may name (longer ones are refused, not truncated). */
export const MAX_QUESTION_TOPIC = 1024;

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

/** Checks a question that came from another node through Redis; throws on anything else. */
export function parseNodeQuestion(value: unknown): NodeQuestion {
  if (!isObject(value)) throw new TypeError("a question must be a map");
  if (value.kind === "snapshot") return { kind: "snapshot" };
  if (value.kind === "topic" && typeof value.topic === "string" && value.topic.length <= MAX_QUESTION_TOPIC) return { kind: "topic", topic: value.topic };
  throw new TypeError("unknown question");
}

/**
 * Checks the outline of an answer from another node (its kind and the node it names). The
 * figures inside a snapshot are passed on to the page as they are: nodes of one cluster trust
 * each other, as they do for presence and broadcasts.
 */
export function parseNodeAnswer(value: unknown): NodeAnswer {
  if (!isObject(value)) throw new TypeError("an answer must be a map");
  if (value.kind === "snapshot" && isObject(value.snapshot) && typeof value.snapshot.node === "string") return value as NodeAnswer;
  if (value.kind === "topic" && typeof value.node === "string" && typeof value.subscribers === "number") return { kind: "topic", node: value.node, subscribers: value.subscribers };
  throw new TypeError("unknown answer");
}
