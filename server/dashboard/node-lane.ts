import type { Fabric } from "../fabric/fabric.js";
import type { NodeSnapshot } from "./node-snapshot.js";

/**
 * The dashboard's lane to the other nodes: a question to every node, each answering for itself as
 * a whole (all its threads): its snapshot, or one topic's subscribers on it.
 */
export const NODE_LANE = "node";
export type NodeQuestion = { kind: "snapshot" } | { kind: "topic"; topic: string };
export type NodeAnswer = { kind: "snapshot"; snapshot: NodeSnapshot } | { kind: "topic"; node: string; subscribers: number };

/** The lane a node gathers one topic's subscribers on, from its other threads (each answers with its count). */
export const SUBSCRIBERS_LANE = "subscribers";

/** Asks every other node; the answers that came within `timeoutMs` and look like answers. */
export async function askNodes(fabric: Pick<Fabric, "ask">, question: NodeQuestion, timeoutMs: number): Promise<NodeAnswer[]> {
  const answers = await fabric.ask(NODE_LANE, "nodes", question, timeoutMs);
  return answers.flatMap((answer) => {
    try {
      return [parseNodeAnswer(answer)];
    } catch {
      return []; // another node's answer that is not one: left out, as a node that did not answer
    }
  });
}

/** How this thread answers other nodes' questions (a question that is not one is not answered). */
export function serveNodes(fabric: Pick<Fabric, "serve">, responder: (question: NodeQuestion) => Promise<NodeAnswer>): void {
  fabric.serve(NODE_LANE, (question) => responder(parseNodeQuestion(question)));
}

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
