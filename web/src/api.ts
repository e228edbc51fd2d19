/**
 * The gallery's only way to the server: GraphQL over fetch, and uploads as GraphQL multipart
 * requests over XMLHttpRequest (fetch cannot report upload progress).
 */
import { suggestionsFrom, type CategoryCount, type LabelCount, type SearchState, type Suggestion } from './search-terms.js';

/** Where an image is in its life. */
export type ImageStatus = 'PENDING' | 'PROCESSING' | 'DONE' | 'FAILED';

/** An image as the grid shows it. */
export interface ImageCard {
  id: string;
  filename: string;
  url: string;
  thumbnailUrl: string | null;
  status: ImageStatus;
  width: number;
  height: number;
}

/** One object found in an image. */
export interface SegmentView {
  id: string;
  label: string;
  score: number;
  area: number;
  maskUrl: string;
  bbox: { x: number; y: number; width: number; height: number };
}

/** An image with everything the detail view shows. */
export interface ImageDetail extends ImageCard {
  error: string | null;
  segments: SegmentView[];
}

/** One page of search results. */
export interface ImagePage {
  images: ImageCard[];
  totalCount: number;
  endCursor: string | null;
  hasNextPage: boolean;
}

/** A stored cut-out. */
export interface Cutout {
  url: string;
  width: number;
  height: number;
  bytes: number;
}

/** An error the server reported, with its `extensions.code` (e.g. BAD_USER_INPUT). */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

const CARD_FIELDS = 'id filename url thumbnailUrl status width height';

/** The API key for mutations when the server has SEGCAT_API_KEY; kept for this browser tab only. */
let apiKey: string | undefined;

/**
 * Sets the key sent as `Authorization: Bearer` from now on, and trades it for the server's session
 * cookie: pictures are loaded by <img> tags, which cannot send the header (SEGCAT_READ_KEY).
 */
export async function setApiKey(key: string): Promise<void> {
  apiKey = key.trim();
  sessionStorage.setItem('segcat.apiKey', apiKey);
  const response = await fetch('/session', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ key: apiKey }),
  });
  if (!response.ok) throw new ApiError('the server did not accept that key', 'UNAUTHENTICATED');
}

function headers(): Record<string, string> {
  apiKey ??= sessionStorage.getItem('segcat.apiKey') ?? '';
  // Apollo's CSRF prevention lets multipart and other "simple" requests through only with this.
  const base: Record<string, string> = { 'Apollo-Require-Preflight': 'true' };
  if (apiKey !== '') base.Authorization = `Bearer ${apiKey}`;
  return base;
}

/** Reads a GraphQL response body: its data, or the first error as an ApiError. */
export function readGraphQLResponse<T>(status: number, body: string): T {
  let parsed: { data?: T | null; errors?: { message: string; extensions?: { code?: string } }[] };
  try {
    parsed = JSON.parse(body);
  } catch {
    const code = status === 413 ? 'PAYLOAD_TOO_LARGE' : 'NETWORK_ERROR';
    throw new ApiError(status === 413 ? 'the file is too large for this server' : `the server answered ${status}`, code);
  }
  const error = parsed.errors?.[0];
  if (error) throw new ApiError(error.message, error.extensions?.code ?? 'INTERNAL_SERVER_ERROR');
  if (parsed.data === undefined || parsed.data === null) throw new ApiError(`the server answered ${status} without data`, 'NETWORK_ERROR');
  return parsed.data;
}

/** Runs one GraphQL operation. */
export async function graphql<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
  let response: Response;
  try {
    response = await fetch('graphql', {
      method: 'POST',
      headers: { ...headers(), 'Content-Type': 'application/json' },
      body: JSON.stringify({ query, variables }),
    });
  } catch {
    throw new ApiError('the server cannot be reached; check your connection and try again', 'NETWORK_ERROR');
  }
  return readGraphQLResponse<T>(response.status, await response.text());
}

/** A page of images matching a search, newest first when it names no class. */
export async function searchImages(search: SearchState, after: string | null, first = 24): Promise<ImagePage> {
  const filter = search.labels.length > 0 ? { labels: search.labels, match: search.match, minScore: search.minScore } : null;
  const data = await graphql<{ images: { edges: { node: ImageCard }[]; totalCount: number; pageInfo: { endCursor: string | null; hasNextPage: boolean } } }>(
    `query Gallery($filter: ImageFilter, $first: Int, $after: String) {
      images(filter: $filter, first: $first, after: $after) {
        totalCount pageInfo { endCursor hasNextPage } edges { node { ${CARD_FIELDS} } }
      }
    }`,
    { filter, first, after },
  );
  const { edges, totalCount, pageInfo } = data.images;
  return { images: edges.map((edge) => edge.node), totalCount, ...pageInfo };
}

/** Classes and categories with their image counts at a minimum score, most frequent first. */
export async function fetchSuggestions(minScore: number): Promise<Suggestion[]> {
  const data = await graphql<{ labels: LabelCount[]; categories: CategoryCount[] }>(
    `query Facets($minScore: Float) {
      labels(minScore: $minScore) { label imageCount segmentCount }
      categories(minScore: $minScore) { category imageCount }
    }`,
    { minScore },
  );
  return suggestionsFrom(data.labels, data.categories);
}

/** The class or category a typed word names, as the server reads it: "birds" is bird, "sofa" couch. */
export async function nameOfWord(word: string): Promise<string> {
  const data = await graphql<{ labelTerms: { name: string }[] }>('query Word($terms: [String!]!) { labelTerms(terms: $terms) { name } }', {
    terms: [word],
  });
  return data.labelTerms[0]?.name ?? word;
}

/** One image with its segments, best score first; null when it was deleted. */
export async function fetchImage(id: string): Promise<ImageDetail | null> {
  const data = await graphql<{ image: ImageDetail | null }>(
    `query Detail($id: ID!) {
      image(id: $id) { ${CARD_FIELDS} error segments { id label score area maskUrl bbox { x y width height } } }
    }`,
    { id },
  );
  return data.image;
}

/** Cuts one segment out as a transparent PNG (the server stores it once and reuses it). */
export async function cutOut(segmentId: string): Promise<Cutout> {
  const data = await graphql<{ extractSegment: { extraction: Cutout } }>(
    `mutation CutOut($segmentId: ID!) {
      extractSegment(input: { segmentId: $segmentId, background: TRANSPARENT, format: PNG }) { extraction { url width height bytes } }
    }`,
    { segmentId },
  );
  return data.extractSegment.extraction;
}

/** What the server said about an uploaded file. */
export interface UploadResult {
  image: ImageDetail;
  duplicate: boolean;
}

const UPLOAD = `mutation Upload($file: Upload!) {
  uploadImage(input: { file: $file, wait: false }) { duplicate image { ${CARD_FIELDS} error segments { id label score area maskUrl bbox { x y width height } } } }
}`;

/** The `operations` and `map` fields of a GraphQL multipart request sending one file as `$file`. */
export function multipartFields(query: string): { operations: string; map: string } {
  return {
    operations: JSON.stringify({ query, variables: { file: null } }),
    map: JSON.stringify({ 0: ['variables.file'] }),
  };
}

/**
 * Uploads one file without waiting for segmentation; `onProgress` sees the bytes sent. One request
 * per file, so that each file has its own progress and its own error.
 */
export function uploadImage(file: File, onProgress: (loaded: number, total: number) => void): Promise<UploadResult> {
  const { operations, map } = multipartFields(UPLOAD);
  const body = new FormData();
  body.append('operations', operations);
  body.append('map', map);
  body.append('0', file, file.name);
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open('POST', 'graphql');
    for (const [name, value] of Object.entries(headers())) request.setRequestHeader(name, value);
    request.upload.onprogress = (event) => onProgress(event.loaded, event.lengthComputable ? event.total : file.size);
    request.onerror = () => reject(new ApiError('the upload was interrupted; check your connection', 'NETWORK_ERROR'));
    request.onload = () => {
      try {
        resolve(readGraphQLResponse<{ uploadImage: UploadResult }>(request.status, request.responseText).uploadImage);
      } catch (error) {
        reject(error);
      }
    };
    request.send(body);
  });
}
