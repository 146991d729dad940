// The credential socket's gRPC service, wire-compatible with stargz-store's and its helper's
// (stargz-snapshotter store/pb/control.proto): service `Controller` (no proto package), method
// `AddCredential(AddCredentialRequest{bytes data = 1}) returns (AddCredentialResponse{})`, so the
// method path is /Controller/AddCredential. Both messages are encoded here by hand: a single bytes
// field does not need a protobuf library (the codec follows the protobuf wire format: unknown fields
// skipped, the last occurrence of a field wins). The only module that loads @grpc/grpc-js: the store
// imports it at the first connection to its socket, the helper command when it runs.
import * as grpc from "@grpc/grpc-js";
import type { Duplex } from "node:stream";

export const ADD_CREDENTIAL_PATH = "/Controller/AddCredential";

/** A malformed protobuf message. */
export class WireError extends Error {}

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) { out.push((n & 0x7f) | 0x80); n = Math.floor(n / 128); }
  out.push(n);
  return out;
}

/** AddCredentialRequest{data}: field 1, wire type 2 (length-delimited); omitted when empty (proto3). */
export function encodeRequest(data: Uint8Array): Buffer {
  if (data.length === 0) return Buffer.alloc(0);
  const head = Buffer.from([0x0a, ...varint(data.length)]);
  return Buffer.concat([head, data]);
}

/** Walks the fields of a message; `onField(number, wireType, value)` gets length-delimited values as bytes. */
function readFields(buf: Uint8Array, onField: (field: number, wireType: number, value: Uint8Array | undefined) => void): void {
  let at = 0;
  const readVarint = (): number => {
    let n = 0;
    for (let shift = 0; ; shift += 7) {
      if (at >= buf.length) throw new WireError("truncated varint");
      if (shift > 63) throw new WireError("varint longer than 10 bytes");
      const b = buf[at++];
      if (shift < 53) n += (b & 0x7f) * 2 ** shift; // beyond 2^53 only lengths would matter, and those are checked
      if (!(b & 0x80)) return n;
    }
  };
  while (at < buf.length) {
    const key = readVarint();
    const field = Math.floor(key / 8);
    const wireType = key & 7;
    if (field === 0) throw new WireError("field number 0");
    switch (wireType) {
      case 0: readVarint(); onField(field, wireType, undefined); break;
      case 1: at += 8; break;
      case 5: at += 4; break;
      case 2: {
        const len = readVarint();
        if (len > buf.length - at) throw new WireError("length-delimited field runs past the end");
        onField(field, wireType, buf.subarray(at, at + len));
        at += len;
        break;
      }
      default: throw new WireError(`unsupported wire type ${wireType}`);
    }
    if (at > buf.length) throw new WireError("fixed-width field runs past the end");
  }
}

/** AddCredentialRequest → its `data` (empty when absent). */
export function decodeRequest(buf: Uint8Array): Uint8Array {
  let data: Uint8Array = new Uint8Array(0);
  readFields(buf, (field, wireType, value) => {
    if (field !== 1) return;
    if (wireType !== 2) throw new WireError("field 1 (data) is not length-delimited");
    data = value!;
  });
  return Buffer.from(data); // a copy: the caller may keep it after grpc-js reuses its buffer
}

/** AddCredentialResponse has no fields; anything in it is skipped (and checked to be well-formed). */
export function decodeResponse(buf: Uint8Array): Record<string, never> {
  readFields(buf, () => {});
  return {};
}

const encodeResponse = (): Buffer => Buffer.alloc(0);

const controllerService: grpc.ServiceDefinition = {
  AddCredential: {
    path: ADD_CREDENTIAL_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: encodeRequest,
    requestDeserialize: decodeRequest,
    responseSerialize: encodeResponse,
    responseDeserialize: decodeResponse,
  },
};

export interface CredentialServer {
  /** Serves one accepted connection (from the socket's own listener). */
  inject(connection: Duplex): void;
  /** Ends every connection. */
  close(): void;
}

/**
 * The Controller service on connections handed to it. `onData` gets each request's `data`; what it
 * throws is answered INVALID_ARGUMENT with its message (which must not quote the data).
 */
export function credentialServer(onData: (data: Uint8Array) => void): CredentialServer {
  const server = new grpc.Server();
  server.addService(controllerService, {
    AddCredential(call: grpc.ServerUnaryCall<Uint8Array, Record<string, never>>, callback: grpc.sendUnaryData<Record<string, never>>) {
      try {
        onData(call.request);
        callback(null, {});
      } catch (err) {
        callback({ code: grpc.status.INVALID_ARGUMENT, details: (err as Error).message });
      }
    },
  });
  const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  return {
    inject: (c) => injector.injectConnection(c),
    close: () => { injector.destroy(); server.forceShutdown(); },
  };
}

/** What a failed call was: the store could not be reached, or it answered with an error. */
export class SendError extends Error {
  constructor(message: string, readonly unreachable: boolean) {
    super(message);
    this.name = "SendError";
  }
}

/** Sends one AddCredential request to the store listening on the unix socket `addr` (an absolute path). */
export async function sendCredentials(addr: string, data: Uint8Array, timeoutMs = 10_000): Promise<void> {
  const client = new grpc.Client(`unix:${addr}`, grpc.credentials.createInsecure());
  try {
    await new Promise<void>((resolve, reject) => {
      client.makeUnaryRequest(ADD_CREDENTIAL_PATH, encodeRequest, decodeResponse, data, { deadline: Date.now() + timeoutMs }, (err) => {
        if (!err) return resolve();
        const unreachable = err.code === grpc.status.UNAVAILABLE || err.code === grpc.status.DEADLINE_EXCEEDED;
        reject(new SendError(err.details || err.message, unreachable));
      });
    });
  } finally {
    client.close();
  }
}
