import { randomUUID } from 'node:crypto';
import {
  contentTypeOf,
  cutoutPath,
  derivedDirs,
  exportPath,
  isRecorded,
  maskFileRoot,
  maskPath,
  originalPath,
  overlayPath,
  ownerOf,
  thumbnailPath,
} from '../../src/storage/layout.js';

const sha256 = 'ab'.repeat(32);
const imageId = randomUUID();
const segmentId = randomUUID();

it('names every stored file after the row that owns it, and reads the owner back', () => {
  expect(originalPath(sha256, 'image/jpeg')).toBe(`originals/ab/${sha256}.jpg`);
  expect(originalPath(sha256, 'image/tiff')).toBe(`originals/ab/${sha256}.tiff`);
  expect(ownerOf(originalPath(sha256, 'image/png'))).toEqual({ root: 'originals', key: sha256 });
  expect(ownerOf(thumbnailPath(sha256))).toEqual({ root: 'thumbnails', key: sha256 });
  expect(maskPath(imageId, 'yolo11n-seg-uint8', 'mdog.background.png')).toBe(`masks/${imageId}/yolo11n-seg-uint8/mdog.background.png`);
  expect(ownerOf(maskPath(imageId, 'yolo11n-seg-uint8', 'mdog.background.png'))).toEqual({ root: 'masks', key: imageId });
  expect(ownerOf(cutoutPath(segmentId, 'WHITE', 'WEBP'))).toEqual({ root: 'cutouts', key: segmentId });
  expect(ownerOf(overlayPath(imageId, '1700000000000'))).toEqual({ root: 'overlays', key: imageId });
  expect(derivedDirs(imageId, [segmentId])).toEqual([`masks/${imageId}`, `overlays/${imageId}`, `cutouts/${segmentId}`]);
});

it('keeps COCO exports as their own records, which no row points to', () => {
  const exportId = randomUUID();
  expect(exportPath(exportId)).toBe(`exports/${exportId}.json`);
  const owner = ownerOf(exportPath(exportId));
  expect(owner).toEqual({ root: 'exports', key: exportId });
  expect(isRecorded(owner!)).toBe(false);
  expect(isRecorded(ownerOf(maskPath(imageId, 'yolo11n-seg-uint8', 'mdog.background.png'))!)).toBe(true);
  expect(contentTypeOf(exportPath(exportId))).toBe('application/json');
  for (const file of [`exports/${exportId}.json.1234.0.tmp`, 'exports/not-an-id.json', `exports/${exportId}/x.json`]) expect(ownerOf(file)).toBeUndefined();
});

it('knows no owner for paths outside the layout', () => {
  for (const file of ['originals/ab/orphan.png', `originals/cd/${sha256}.jpg`, `masks/not-an-id/m.png`, `masks/${imageId}`, 'tmp/x.upload']) {
    expect(ownerOf(file)).toBeUndefined();
  }
});

it('serves stored files only as the image types it wrote', () => {
  expect(contentTypeOf(thumbnailPath(sha256))).toBe('image/webp');
  expect(contentTypeOf(overlayPath(imageId, '1'))).toBe('image/jpeg');
  expect(contentTypeOf(`originals/ab/${sha256}.tiff`)).toBe('image/tiff');
  for (const file of ['masks/x/m.svg', 'originals/ab/x.jpeg', 'originals/ab/x.bin', 'masks/x/noextension']) expect(contentTypeOf(file)).toBeUndefined();
});

it('makes a safe mask root of any uploaded file name', () => {
  expect(maskFileRoot('dog.jpg')).toBe('dog');
  expect(maskFileRoot('my holiday (1).JPG')).toBe('my_holiday_1');
  expect(maskFileRoot('../../etc/passwd')).toBe('passwd');
  expect(maskFileRoot('日本.png')).toBe('image');
  expect(maskFileRoot(`${'x'.repeat(100)}.png`)).toHaveLength(64);
});
