/**
 * GraphQL multipart requests (https://github.com/jaydenseric/graphql-multipart-request-spec):
 * `operations`, then `map`, then the files. Files are spooled into DATA_DIR's tmp/ (not the
 * system temp folder, so start-up clean-up finds what a crash leaves), each byte is charged to the
 * server-wide upload budget, and the request is refused before its first byte is read when the
 * caller may not write.
 */
import type { IncomingMessage } from 'node:http';
import { Transform, type TransformCallback } from 'node:stream';
import busboy from 'busboy';
import type { Request, RequestHandler, Response } from 'express';
import { WriteStream } from 'fs-capacitor';
import { RequestRefusedError } from '../graphql/errors.js';
import { PendingUpload } from '../graphql/upload.js';
import type { UploadBudget } from './upload-budget.js';

/** How multipart requests are received. */
export interface MultipartOptions {
  /** Directory the files are spooled into while the request is handled. */
  spoolDir: string;
  /** Bytes after which one file is cut off (the ingest service reports the limit itself). */
  maxFileBytes: number;
  /** Most files in one request. */
  maxFiles: number;
  /** Largest `operations` or `map` field. */
  maxFieldBytes: number;
  /** Bytes of uploads all requests may hold at once. */
  budget: UploadBudget;
  /** Whether the request may run mutations (uploads are always mutations). */
  canWrite: (request: Request) => boolean;
  /** Hears the bytes of each file as they arrive (metrics). */
  onFileBytes?: (bytes: number) => void;
}

const SPEC = 'see https://github.com/jaydenseric/graphql-multipart-request-spec';
/** Seconds a client told "busy" should wait before trying again. */
const RETRY_AFTER_SECONDS = 5;

/** Express middleware: turns a multipart request into `request.body` with pending uploads in its variables. */
export function multipartUploads(options: MultipartOptions): RequestHandler {
  return (request, response, next) => {
    if (!request.is('multipart/form-data')) return next();
    const refuse = (error: RequestRefusedError) => {
      // The body is never read: close the connection rather than drain megabytes nobody wants.
      response.set('Connection', 'close');
      if (error.status === 503) response.set('Retry-After', String(RETRY_AFTER_SECONDS));
      next(error);
    };
    if (!options.canWrite(request)) {
      return refuse(new RequestRefusedError(401, 'UNAUTHENTICATED', 'uploads need an API key: send `Authorization: Bearer <SEGCAT_API_KEY>`'));
    }
    const declared = Number(request.get('content-length'));
    const reservation = options.budget.open();
    response.once('close', () => reservation.close());
    if (Number.isFinite(declared) && declared > 0 && !reservation.take(declared)) return refuse(busy());
    deferSendUntilReceived(request, response);
    receive(request, response, options, reservation.take).then(
      (body) => {
        request.body = body;
        next();
      },
      (error: RequestRefusedError) => (error.status === 503 ? refuse(error) : next(error)),
    );
  };
}

function busy(): RequestRefusedError {
  return new RequestRefusedError(
    503,
    'INTERNAL_SERVER_ERROR',
    `the server is receiving as many uploads as it can hold (MAX_CONCURRENT_UPLOAD_BYTES); try again in ${RETRY_AFTER_SECONDS} seconds`,
  );
}

/** Parses the request; resolves with `operations` once `map` has arrived, files still streaming. */
function receive(request: Request, response: Response, options: MultipartOptions, charge: (bytes: number) => boolean): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const parser = busboy({
      headers: request.headers,
      defParamCharset: 'utf8',
      limits: { fields: 2, fieldSize: options.maxFieldBytes, files: options.maxFiles, fileSize: options.maxFileBytes },
    });
    const files = new Map<string, PendingUpload>();
    const spooled: WriteStream[] = [];
    let operations: Record<string, unknown> | undefined;
    let failure: RequestRefusedError | undefined;

    const fail = (error: RequestRefusedError) => {
      if (failure) return;
      failure = error;
      for (const upload of files.values()) if (!upload.file) upload.reject(error);
      request.unpipe();
      parser.destroy();
      // Drain what the client still sends, so that it reads the answer instead of a reset.
      request.resume();
      reject(error);
    };
    const bad = (message: string) => fail(new RequestRefusedError(400, 'BAD_USER_INPUT', `${message} (${SPEC})`));

    parser.on('field', (name, value, { valueTruncated }) => {
      if (valueTruncated) return fail(new RequestRefusedError(413, 'PAYLOAD_TOO_LARGE', `the multipart field '${name}' is larger than ${options.maxFieldBytes} bytes`));
      const parsed = parseJson(value);
      if (name === 'operations') {
        if (typeof parsed !== 'object' || parsed === null) return bad("the 'operations' field must be a JSON object or array");
        operations = parsed as Record<string, unknown>;
      } else if (name === 'map') {
        if (!operations) return bad("the 'map' field must follow 'operations'");
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return bad("the 'map' field must be a JSON object");
        const entries = Object.entries(parsed as Record<string, unknown>);
        if (entries.length > options.maxFiles) return fail(tooManyFiles(options.maxFiles));
        for (const [field, paths] of entries) {
          const upload = new PendingUpload();
          files.set(field, upload);
          if (!Array.isArray(paths) || paths.some((target) => typeof target !== 'string' || !placeAt(operations!, target, upload))) {
            return bad(`the 'map' entry '${field}' must list paths of null variables, such as "variables.file"`);
          }
        }
        resolve(operations);
      }
    });

    parser.on('file', (field, stream, { filename, encoding, mimeType }) => {
      const upload = files.get(field);
      if (!upload) {
        stream.resume();
        if (!operations || files.size === 0) bad("files must follow the 'operations' and 'map' fields");
        return;
      }
      const capacitor = new WriteStream({ tmpdir: () => options.spoolDir });
      spooled.push(capacitor);
      let streamError: Error | undefined;
      const cut = (error: Error) => {
        streamError = error;
        stream.unpipe(capacitor);
        capacitor.destroy(error);
      };
      stream.on('limit', () => cut(new RequestRefusedError(413, 'PAYLOAD_TOO_LARGE', `the file '${filename}' is larger than ${options.maxFileBytes} bytes`)));
      stream.on('error', cut);
      if (options.onFileBytes) stream.on('data', (chunk: Buffer) => options.onFileBytes!(chunk.length));
      capacitor.on('error', (error) => {
        // A failed write (a full disk) does not end the spool by itself: its readers would wait
        // for bytes that never come. Ending it hands them the error.
        streamError ??= error;
        capacitor.destroy(error);
        stream.resume();
      });
      stream.pipe(capacitor);
      upload.resolve({
        filename: filename ?? 'upload',
        mimetype: mimeType,
        encoding,
        createReadStream: () => {
          if (streamError) throw streamError;
          if (failure) throw failure;
          return capacitor.createReadStream();
        },
      });
    });

    parser.on('filesLimit', () => fail(tooManyFiles(options.maxFiles)));
    parser.on('error', (error: Error) => bad(`the multipart body could not be read: ${error.message}`));
    parser.on('finish', () => {
      if (!operations) return bad("the 'operations' field is missing");
      if (files.size === 0 && !failure) return bad("the 'map' field is missing");
      const missing = new RequestRefusedError(400, 'BAD_USER_INPUT', 'a file named in the map is missing from the request');
      for (const upload of files.values()) if (!upload.file) upload.reject(missing);
    });

    response.once('close', () => {
      for (const capacitor of spooled) capacitor.release();
    });
    request.once('close', () => {
      if (!request.readableEnded) fail(new RequestRefusedError(499, 'BAD_USER_INPUT', 'the client disconnected before the request was complete'));
    });
    request.pipe(new Meter(charge, () => fail(busy()))).pipe(parser);
  });
}

function tooManyFiles(max: number): RequestRefusedError {
  return new RequestRefusedError(
    413,
    'PAYLOAD_TOO_LARGE',
    `a request may carry at most ${max} files (MAX_FILES_PER_REQUEST); send the others in another request`,
  );
}

/** Charges each chunk to the upload budget; calls `refused` (once) when the budget says no. */
class Meter extends Transform {
  private seen = 0;
  private stopped = false;

  constructor(
    private readonly charge: (bytes: number) => boolean,
    private readonly refused: () => void,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.seen += chunk.length;
    if (this.stopped) return callback();
    if (!this.charge(this.seen)) {
      this.stopped = true;
      this.refused();
      return callback();
    }
    callback(null, chunk);
  }
}

/**
 * Holds the answer until the whole request has arrived: a server that answers and closes while the
 * client is still sending makes most clients report a reset instead of the answer.
 */
function deferSendUntilReceived(request: IncomingMessage, response: Response): void {
  const send = response.send.bind(response);
  response.send = (body?: unknown) => {
    let sent = false;
    const finish = () => {
      if (sent) return;
      sent = true;
      response.send = send;
      send(body);
    };
    if (request.readableEnded || request.destroyed) finish();
    else {
      request.once('end', finish);
      request.once('close', finish);
    }
    return response;
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Puts `value` at a dotted path (`variables.files.0`) that holds null; false when it cannot. */
function placeAt(target: Record<string, unknown>, dotted: string, value: unknown): boolean {
  const keys = dotted.split('.');
  let node: unknown = target;
  for (const key of keys.slice(0, -1)) {
    if (!isContainer(node) || !Object.hasOwn(node, key)) return false;
    node = (node as Record<string, unknown>)[key];
  }
  const last = keys.at(-1)!;
  if (!isContainer(node) || !Object.hasOwn(node, last) || (node as Record<string, unknown>)[last] !== null) return false;
  (node as Record<string, unknown>)[last] = value;
  return true;
}

function isContainer(node: unknown): node is object {
  return typeof node === 'object' && node !== null;
}
