/**
 * The forwarding code against a real HTTP server that speaks the worker's sync API (`POST /predict`,
 * `POST /stream`), on 127.0.0.1 port 0.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Readable } from "node:stream";
import { isLaunchError } from "@launch/protocol";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { WorkerLoan } from "../orchestration/port.js";
import { ClientClosedError, type ForwardRequest, forwardPredict, forwardStream } from "./worker-forward.js";
import { WorkerPools } from "./worker-pools.js";

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

interface FakeWorker {
  url: string;
  /** Bodies of the requests received, in order. */
  bodies: string[];
  /** Resolves when a response is closed before it finished (the gateway stopped the request). */
  cutOff: Promise<void>;
  close(): Promise<void>;
}

const servers: Server[] = [];

/** A real HTTP server standing in for a worker's HTTP port; `handler` answers each request. */
async function startWorker(handler: Handler): Promise<FakeWorker> {
  const bodies: string[] = [];
  let markCutOff: () => void = () => {};
  const cutOff = new Promise<void>((resolve) => {
    markCutOff = resolve;
  });
  const server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => {
      body += chunk;
    });
    req.on("end", () => {
      bodies.push(body);
      res.once("close", () => {
        if (!res.writableFinished) markCutOff();
      });
      handler(req, res, body);
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    bodies,
    cutOff,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A port nothing listens on (a server is opened, then closed). */
async function deadUrl(): Promise<string> {
  const worker = await startWorker(() => {});
  await worker.close();
  return worker.url;
}

const SUCCESS = '{"status":"SUCCESS","result":{"result":7},"traceback":null,"status_code":200}';

function json(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

let pools: WorkerPools;
let loans: { url: string; released: number }[];

/** Lends the given URLs in turn (the last one again when they run out), counting releases. */
function lender(...urls: string[]): ForwardRequest["acquire"] {
  return async () => {
    const url = urls[Math.min(loans.length, urls.length - 1)]!;
    const record = { url, released: 0 };
    loans.push(record);
    const loan: WorkerLoan = { workerId: `w${loans.length}`, url, release: () => record.released++ };
    return loan;
  };
}

function request(
  acquire: ForwardRequest["acquire"],
  overrides: Partial<ForwardRequest> = {},
): ForwardRequest {
  return {
    endpointId: "end_test",
    acquire,
    pools,
    body: JSON.stringify({ args: { x: 2, y: "hello" } }),
    timeoutMs: 10_000,
    retries: 2,
    ...overrides,
  };
}

async function errorOf(promise: Promise<unknown>): Promise<Error & { code?: string; status?: number }> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof Error)) throw new Error("expected the call to fail");
  return error;
}

/** Reads a stream chunk by chunk as text. */
function reader(stream: Readable): { next(): Promise<string | undefined> } {
  const iterator = stream[Symbol.asyncIterator]();
  return {
    async next() {
      const { value, done } = await iterator.next();
      return done ? undefined : Buffer.from(value as Buffer).toString("utf8");
    },
  };
}

beforeEach(() => {
  pools = new WorkerPools();
  loans = [];
});

afterEach(async () => {
  await pools.close();
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

describe("forwardPredict", () => {
  it("posts the body to /predict and hands back the worker's answer byte for byte, then the loan", async () => {
    const worker = await startWorker((req, res) => {
      expect(req.url).toBe("/predict");
      expect(req.headers["content-type"]).toBe("application/json");
      json(res, 200, SUCCESS);
    });
    const answer = await forwardPredict(request(lender(worker.url)));
    expect(answer).toBe(SUCCESS);
    expect(worker.bodies).toEqual(['{"args":{"x":2,"y":"hello"}}']);
    expect(loans).toEqual([{ url: worker.url, released: 1 }]);
  });

  it("reuses one keep-alive pool per worker", async () => {
    const worker = await startWorker((_req, res) => json(res, 200, SUCCESS));
    await forwardPredict(request(lender(worker.url)));
    await forwardPredict(request(lender(worker.url)));
    expect(pools.size).toBe(1);
  });

  it("passes a model error through as the worker wrote it, without retrying", async () => {
    const failure =
      '{"status":"FAILURE","result":null,"traceback":"Error: boom\\n    at predict","status_code":500,"error":"boom"}';
    const worker = await startWorker((_req, res) => json(res, 200, failure));
    expect(await forwardPredict(request(lender(worker.url)))).toBe(failure);
    expect(loans).toHaveLength(1);
  });

  it("turns a worker's HTTP error into a FAILURE answer with its status and body", async () => {
    const worker = await startWorker((_req, res) => {
      res.writeHead(502, { "content-type": "text/plain" });
      res.end("upstream model crashed");
    });
    const answer = JSON.parse(await forwardPredict(request(lender(worker.url))));
    expect(answer).toEqual({
      status: "FAILURE",
      result: null,
      traceback: "upstream model crashed",
      status_code: 502,
    });
  });

  it("answers 400 Invalid request when the worker rejects the request", async () => {
    const worker = await startWorker((_req, res) =>
      json(res, 400, '{"detail":"the request body must be a JSON object"}'),
    );
    const error = await errorOf(forwardPredict(request(lender(worker.url))));
    expect(isLaunchError(error)).toBe(true);
    expect(error).toMatchObject({ code: "bad_request", status: 400 });
    expect(error.message).toBe("Invalid request: the request body must be a JSON object");
    expect(loans[0]?.released).toBe(1);
  });

  it("gives up at the deadline with a 504 naming timeout_seconds, and stops the worker's request", async () => {
    const worker = await startWorker(() => {
      // Never answers.
    });
    const error = await errorOf(forwardPredict(request(lender(worker.url), { timeoutMs: 100 })));
    expect(error).toMatchObject({ code: "timeout", status: 504 });
    expect(error.message).toContain("did not finish within timeout_seconds (0.1 s)");
    expect(error.message).toContain("end_test");
    await worker.cutOff;
    expect(loans[0]?.released).toBe(1);
  });

  it("retries on another worker when the connection is refused", async () => {
    const dead = await deadUrl();
    const worker = await startWorker((_req, res) => json(res, 200, SUCCESS));
    expect(await forwardPredict(request(lender(dead, worker.url)))).toBe(SUCCESS);
    expect(loans.map((l) => [l.url, l.released])).toEqual([
      [dead, 1],
      [worker.url, 1],
    ]);
  });

  it("retries on another worker when a worker refuses with 503 (draining)", async () => {
    const draining = await startWorker((_req, res) =>
      json(res, 503, '{"detail":"This worker is draining; send the request to another worker."}'),
    );
    const worker = await startWorker((_req, res) => json(res, 200, SUCCESS));
    expect(await forwardPredict(request(lender(draining.url, worker.url)))).toBe(SUCCESS);
    expect(loans).toHaveLength(2);
  });

  it("answers 503 once every try failed to connect, saying why", async () => {
    const dead = await deadUrl();
    const error = await errorOf(forwardPredict(request(lender(dead), { retries: 2 })));
    expect(error).toMatchObject({ code: "unavailable", status: 503 });
    expect(error.message).toMatch(
      /^Could not reach a worker of model endpoint end_test \(3 attempts\): .*ECONNREFUSED.*try again\.$/,
    );
    expect(loans.map((l) => l.released)).toEqual([1, 1, 1]);
  });

  it("tries once with num_retries 0", async () => {
    const dead = await deadUrl();
    const error = await errorOf(forwardPredict(request(lender(dead), { retries: 0 })));
    expect(error.message).toContain("(1 attempt)");
    expect(loans).toHaveLength(1);
  });

  it("passes the orchestrator's 503 through when no worker is ready", async () => {
    const { LaunchError } = await import("@launch/protocol");
    const none = async (): Promise<WorkerLoan> => {
      throw new LaunchError("unavailable", "Model endpoint end_test has no ready worker.");
    };
    const error = await errorOf(forwardPredict(request(none)));
    expect(error).toMatchObject({
      code: "unavailable",
      message: "Model endpoint end_test has no ready worker.",
    });
  });

  it("stops the worker's request when the client goes away", async () => {
    let received: () => void = () => {};
    const started = new Promise<void>((resolve) => {
      received = resolve;
    });
    const worker = await startWorker(() => received());
    const client = new AbortController();
    const forwarding = forwardPredict(request(lender(worker.url), { signal: client.signal }));
    await started;
    client.abort();
    expect(await errorOf(forwarding)).toBeInstanceOf(ClientClosedError);
    await worker.cutOff;
    expect(loans[0]?.released).toBe(1);
  });
});

describe("forwardPredict straight to a runnable image's model server", () => {
  /** Lends a worker whose model server is `modelUrl` (predict route `route`), counting releases. */
  function modelLender(
    workerUrl: string,
    modelUrls: string[],
    route = "/v1/predict",
  ): ForwardRequest["acquire"] {
    return async () => {
      const modelUrl = modelUrls[Math.min(loans.length, modelUrls.length - 1)]!;
      const record = { url: modelUrl, released: 0 };
      loans.push(record);
      return {
        workerId: `w${loans.length}`,
        url: workerUrl,
        modelUrl,
        modelPredictRoute: route,
        release: () => record.released++,
      };
    };
  }
  const modelBody = JSON.stringify({ x: 2, y: "hello" });

  it("posts the args alone to the predict route and answers the sync shape the worker would", async () => {
    const worker = await startWorker((_req, res) => json(res, 200, SUCCESS));
    const model = await startWorker((req, res) => {
      expect(req.url).toBe("/v1/predict");
      expect(req.headers["content-type"]).toBe("application/json");
      json(res, 201, '{ "sum" : 7, "list": [1.50, 2] }');
    });
    const answer = await forwardPredict(request(modelLender(worker.url, [model.url]), { modelBody }));
    expect(answer).toBe(
      '{"status":"SUCCESS","result":{"result":{"sum":7,"list":[1.5,2]}},"traceback":null,"status_code":201}',
    );
    expect(model.bodies).toEqual([modelBody]);
    expect(worker.bodies).toEqual([]);
    expect(loans).toEqual([{ url: model.url, released: 1 }]);
  });

  it("takes any status as the model's answer (a 503 too, without retrying); a reply that is not JSON fails", async () => {
    const worker = await startWorker((_req, res) => json(res, 200, SUCCESS));
    const busy = await startWorker((_req, res) => json(res, 503, '{"detail":"busy"}'));
    expect(
      JSON.parse(await forwardPredict(request(modelLender(worker.url, [busy.url]), { modelBody }))),
    ).toEqual({
      status: "SUCCESS",
      result: { result: { detail: "busy" } },
      traceback: null,
      status_code: 503,
    });
    expect(loans).toHaveLength(1);

    const html = await startWorker((_req, res) => {
      res.writeHead(502, { "content-type": "text/html" });
      res.end("<h1>Bad gateway</h1>");
    });
    const error =
      'The model server answered POST /v1/predict with 502 and a body that is not JSON: "<h1>Bad gateway</h1>".';
    expect(
      JSON.parse(await forwardPredict(request(modelLender(worker.url, [html.url]), { modelBody }))),
    ).toEqual({
      status: "FAILURE",
      result: null,
      traceback: error,
      status_code: 502,
      error,
    });
    expect(worker.bodies).toEqual([]);
  });

  it("retries a refused connection on another loan, then answers a FAILURE naming it", async () => {
    const worker = await startWorker((_req, res) => json(res, 200, SUCCESS));
    const dead = await deadUrl();
    const model = await startWorker((_req, res) => json(res, 200, "7"));
    const answer = await forwardPredict(request(modelLender(worker.url, [dead, model.url]), { modelBody }));
    expect(JSON.parse(answer).result).toEqual({ result: 7 });
    expect(loans.map((l) => [l.url, l.released])).toEqual([
      [dead, 1],
      [model.url, 1],
    ]);

    loans = [];
    const failed = JSON.parse(
      await forwardPredict(request(modelLender(worker.url, [dead]), { modelBody, retries: 1 })),
    );
    expect(failed).toMatchObject({ status: "FAILURE", result: null, status_code: null });
    expect(failed.error).toBe(
      `POST /v1/predict to the model server on port ${new URL(dead).port} failed: ECONNREFUSED (nothing listens on the port yet).`,
    );
    expect(loans.map((l) => l.released)).toEqual([1, 1]);
    expect(worker.bodies).toEqual([]);
  });

  it("sends requests without modelBody (url, return_pickled) to the worker", async () => {
    const worker = await startWorker((_req, res) => json(res, 200, SUCCESS));
    const model = await startWorker((_req, res) => json(res, 200, "7"));
    expect(await forwardPredict(request(modelLender(worker.url, [model.url])))).toBe(SUCCESS);
    expect(model.bodies).toEqual([]);
    expect(worker.bodies).toEqual(['{"args":{"x":2,"y":"hello"}}']);
  });

  it("gives up at the deadline and stops the model's request; stops it when the client goes away", async () => {
    const worker = await startWorker((_req, res) => json(res, 200, SUCCESS));
    const silent = await startWorker(() => {
      // Never answers.
    });
    const error = await errorOf(
      forwardPredict(request(modelLender(worker.url, [silent.url]), { modelBody, timeoutMs: 100 })),
    );
    expect(error).toMatchObject({ code: "timeout", status: 504 });
    await silent.cutOff;

    const other = await startWorker(() => {});
    const client = new AbortController();
    const forwarding = forwardPredict(
      request(modelLender(worker.url, [other.url]), { modelBody, signal: client.signal }),
    );
    while (other.bodies.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    client.abort();
    expect(await errorOf(forwarding)).toBeInstanceOf(ClientClosedError);
    await other.cutOff;
    expect(loans.map((l) => l.released)).toEqual([1, 1]);
  });

  it("streams through the worker even when the model could be called", async () => {
    const worker = await startWorker((_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.end("data: 1\n\n");
    });
    const model = await startWorker((_req, res) => json(res, 200, "7"));
    const stream = await forwardStream(request(modelLender(worker.url, [model.url]), { modelBody }));
    let text = "";
    for await (const chunk of stream) text += String(chunk);
    expect(text).toBe("data: 1\n\n");
    expect(model.bodies).toEqual([]);
  });
});

describe("forwardStream", () => {
  const event = (n: number) =>
    `data: {"status":"SUCCESS","result":{"result":${n}},"traceback":null,"status_code":200}\n\n`;

  it("passes events through as they come: the first arrives before the worker sends the second", async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const worker = await startWorker((req, res) => {
      expect(req.url).toBe("/stream");
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      res.write(event(1));
      // The second event waits until the test has received the first.
      void gate.then(() => res.end(event(2)));
    });
    const stream = await forwardStream(request(lender(worker.url)));
    const chunks = reader(stream);
    expect(await chunks.next()).toBe(event(1));
    release();
    let rest = "";
    for (let chunk = await chunks.next(); chunk !== undefined; chunk = await chunks.next()) rest += chunk;
    expect(rest).toBe(event(2));
    expect(loans).toEqual([{ url: worker.url, released: 1 }]);
  });

  it("stops the worker's stream and gives the worker back when the client goes away", async () => {
    const worker = await startWorker((_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(event(1));
    });
    const stream = await forwardStream(request(lender(worker.url)));
    expect(await reader(stream).next()).toBe(event(1));
    stream.destroy();
    await worker.cutOff;
    expect(loans[0]?.released).toBe(1);
  });

  it("gives the worker back when the stream is dropped before anything was read", async () => {
    const worker = await startWorker((_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(event(1));
    });
    const stream = await forwardStream(request(lender(worker.url)));
    stream.destroy();
    await worker.cutOff;
    expect(loans[0]?.released).toBe(1);
  });

  it("ends with a FAILURE event when the worker's stream breaks off between events", async () => {
    const worker = await startWorker((_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(event(1), () => setTimeout(() => res.socket?.destroy(), 10));
    });
    const stream = await forwardStream(request(lender(worker.url)));
    let text = "";
    for await (const chunk of stream) text += Buffer.from(chunk as Buffer).toString("utf8");
    const events = text.split("\n\n").filter(Boolean);
    expect(events[0]).toBe(event(1).trim());
    const last = JSON.parse(events[1]!.slice("data: ".length));
    expect(last).toMatchObject({ status: "FAILURE", result: null, status_code: null });
    expect(last.traceback).toMatch(/^The worker's stream broke off: /);
    expect(events).toHaveLength(2);
  });

  it("answers one FAILURE event when the worker answers an HTTP error, and 400 when it rejects", async () => {
    const crashed = await startWorker((_req, res) => {
      res.writeHead(500);
      res.end("model server crashed");
    });
    let text = "";
    for await (const chunk of await forwardStream(request(lender(crashed.url)))) {
      text += Buffer.from(chunk as Buffer).toString("utf8");
    }
    expect(text).toBe(
      'data: {"status":"FAILURE","result":null,"traceback":"model server crashed","status_code":500}\n\n',
    );
    const notStreaming = await startWorker((_req, res) =>
      json(res, 400, '{"detail":"This worker\'s bundle does not stream."}'),
    );
    const error = await errorOf(forwardStream(request(lender(notStreaming.url))));
    expect(error).toMatchObject({
      code: "bad_request",
      message: "Invalid request: This worker's bundle does not stream.",
    });
  });

  it("gives up with a 504 when the worker does not start streaming in time", async () => {
    const worker = await startWorker(() => {});
    const error = await errorOf(forwardStream(request(lender(worker.url), { timeoutMs: 100 })));
    expect(error).toMatchObject({ code: "timeout" });
    expect(error.message).toContain("did not start streaming within timeout_seconds");
    await worker.cutOff;
  });

  it("retries a refused connection, then answers 503", async () => {
    const dead = await deadUrl();
    const error = await errorOf(forwardStream(request(lender(dead), { retries: 1 })));
    expect(error).toMatchObject({ code: "unavailable" });
    expect(error.message).toContain("(2 attempts)");
    expect(loans.map((l) => l.released)).toEqual([1, 1]);
  });
});
