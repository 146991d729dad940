/**
 * What a piece of work is for: "high" when a process waits on it (a read, a TOC, the prefetch), "low"
 * for background work (the background fetch). Low-priority work yields to high everywhere it queues.
 */
export type Priority = "high" | "low";
