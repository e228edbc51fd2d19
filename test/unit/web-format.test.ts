import { ApiError, multipartFields, readGraphQLResponse } from '../../web/src/api.js';
import { cutoutFileName, describeQueueState, formatBytes, isSettled, uploadPercent } from '../../web/src/format.js';

describe('gallery upload queue text', () => {
  it('shows upload progress and flags duplicates and failures with their reason', () => {
    expect(uploadPercent({ kind: 'uploading', loaded: 512, total: 2048 })).toBe(25);
    expect(uploadPercent({ kind: 'uploading', loaded: 5, total: 0 })).toBeUndefined();
    expect(describeQueueState({ kind: 'queued', status: 'PENDING', duplicate: false })).toBe('Queued for segmentation');
    expect(describeQueueState({ kind: 'done', duplicate: true, segmentCount: 1 })).toBe('Done: 1 object found (duplicate: already in the catalogue)');
    expect(describeQueueState({ kind: 'failed', duplicate: false, reason: 'model crashed' })).toBe('Failed: model crashed');
    expect(isSettled({ kind: 'queued', status: 'PROCESSING', duplicate: false })).toBe(false);
    expect(isSettled({ kind: 'rejected', reason: 'not an image' })).toBe(true);
  });

  it('formats sizes and cut-out file names for people', () => {
    expect(formatBytes(999)).toBe('999 B');
    expect(formatBytes(1_400_000)).toBe('1.4 MB');
    expect(cutoutFileName('my dog.photo.jpg', 'dining table', 0.871)).toBe('my_dog_photo-dining_table-87.png');
  });
});

describe('gallery GraphQL client', () => {
  it('maps the upload variable to the multipart file part', () => {
    const { operations, map } = multipartFields('mutation($file: Upload!) { x }');
    expect(JSON.parse(operations)).toEqual({ query: 'mutation($file: Upload!) { x }', variables: { file: null } });
    expect(JSON.parse(map)).toEqual({ 0: ['variables.file'] });
  });

  it('turns GraphQL errors and non-JSON answers into errors with a code', () => {
    expect(readGraphQLResponse(200, '{"data":{"ok":true}}')).toEqual({ ok: true });
    const rejected = () => readGraphQLResponse(200, '{"errors":[{"message":"not an image","extensions":{"code":"BAD_USER_INPUT"}}]}');
    expect(rejected).toThrow(ApiError);
    expect(() => rejected()).toThrow(expect.objectContaining({ message: 'not an image', code: 'BAD_USER_INPUT' }));
    expect(() => readGraphQLResponse(413, '<html>too large</html>')).toThrow(/too large/);
  });
});
