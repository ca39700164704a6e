/**
 * Server-sent events (`text/event-stream`) read incrementally: bytes are decoded and split into events
 * as they arrive, so a streaming task's events reach the caller one by one, never after the whole body.
 * The parser itself is protocol's, shared with the worker.
 */
import { EventStreamParser, type ServerSentEvent } from "@launch/protocol";

export { EventStreamParser, type ServerSentEvent };

/**
 * The events of a response body, yielded as soon as each is complete. Breaking out of the loop cancels
 * the body (closing the connection).
 *
 * @example for await (const event of readEventStream(response.body!)) console.log(JSON.parse(event.data));
 */
export async function* readEventStream(body: ReadableStream<Uint8Array>): AsyncGenerator<ServerSentEvent> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const parser = new EventStreamParser();
  let done = false;
  try {
    for (;;) {
      const chunk = await reader.read();
      if (chunk.done) break;
      yield* parser.push(decoder.decode(chunk.value, { stream: true }));
    }
    done = true;
    yield* parser.push(decoder.decode());
    yield* parser.end();
  } finally {
    if (!done) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}
