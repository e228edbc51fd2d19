import { loadConfig, ConfigError } from '../../src/config.js';

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig({});
    expect(config.port).toBe(4000);
    expect(config.maxUploadBytes).toBe(25 * 1024 * 1024);
    expect(config.maxImagePixels).toBe(50_000_000);
    expect(config.model).toBe('yolo11n-seg-uint8');
    expect(config.databaseUrl).toBeUndefined();
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('segments fast unless SEGCAT_QUALITY says accurate, and refuses other qualities', () => {
    expect(loadConfig({}).quality).toBe('fast');
    expect(loadConfig({ SEGCAT_QUALITY: 'accurate' }).quality).toBe('accurate');
    expect(() => loadConfig({ SEGCAT_QUALITY: 'best' })).toThrow(/SEGCAT_QUALITY: .*"fast"\|"accurate"/);
  });

  it('lists every bad key at once', () => {
    expect(() => loadConfig({ PORT: 'abc', MAX_UPLOAD_BYTES: '-1' })).toThrow(ConfigError);
    expect(() => loadConfig({ PORT: 'abc', MAX_UPLOAD_BYTES: '-1' })).toThrow(/PORT.*MAX_UPLOAD_BYTES/);
  });

  it('keeps UPLOAD_WAIT_MS below REQUEST_TIMEOUT_MS', () => {
    expect(loadConfig({}).uploadWaitMs).toBe(60_000);
    expect(loadConfig({ REQUEST_TIMEOUT_MS: '30000' }).uploadWaitMs).toBe(15_000);
    expect(loadConfig({ UPLOAD_WAIT_MS: '5000' }).uploadWaitMs).toBe(5000);
    expect(() => loadConfig({ UPLOAD_WAIT_MS: '120000' })).toThrow(/UPLOAD_WAIT_MS: must be below REQUEST_TIMEOUT_MS/);
  });

  it('keeps files under DATA_DIR unless STORAGE=s3 names a bucket, whose prefix ends in one slash', () => {
    expect(loadConfig({})).toMatchObject({ storage: 'fs', s3: undefined });
    expect(() => loadConfig({ STORAGE: 's3' })).toThrow(/S3_BUCKET: is needed with STORAGE=s3/);
    expect(() => loadConfig({ STORAGE: 'tape' })).toThrow(/STORAGE/);
    const config = loadConfig({
      STORAGE: 's3',
      S3_BUCKET: 'photos',
      S3_PREFIX: '/segcat/live/',
      S3_ENDPOINT: 'http://127.0.0.1:9000',
      S3_FORCE_PATH_STYLE: 'true',
      AWS_ACCESS_KEY_ID: 'key',
      AWS_SECRET_ACCESS_KEY: 'secret',
    });
    expect(config.s3).toEqual({
      endpoint: 'http://127.0.0.1:9000',
      bucket: 'photos',
      region: 'us-east-1',
      prefix: 'segcat/live/',
      forcePathStyle: true,
      credentials: { accessKeyId: 'key', secretAccessKey: 'secret' },
      presign: false,
      presignExpiresSeconds: 300,
      servedReads: 32,
    });
    expect(loadConfig({ S3_BUCKET: 'photos' }).s3).toMatchObject({ prefix: '', credentials: undefined, forcePathStyle: false });
    expect(() => loadConfig({ S3_BUCKET: 'photos', AWS_ACCESS_KEY_ID: 'key' })).toThrow(/AWS_SECRET_ACCESS_KEY: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY go together/);
    expect(() => loadConfig({ S3_PRESIGN_EXPIRES_SECONDS: '0', S3_ENDPOINT: 'not a url' })).toThrow(/S3_ENDPOINT.*S3_PRESIGN_EXPIRES_SECONDS|S3_PRESIGN_EXPIRES_SECONDS.*S3_ENDPOINT/);
  });

  it('treats empty strings as unset and trims PUBLIC_URL', () => {
    const config = loadConfig({ DATABASE_URL: '', PUBLIC_URL: 'https://photos.example.com/' });
    expect(config.databaseUrl).toBeUndefined();
    expect(config.publicUrl).toBe('https://photos.example.com');
  });
});
