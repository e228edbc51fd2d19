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

  it('treats empty strings as unset and trims PUBLIC_URL', () => {
    const config = loadConfig({ DATABASE_URL: '', PUBLIC_URL: 'https://photos.example.com/' });
    expect(config.databaseUrl).toBeUndefined();
    expect(config.publicUrl).toBe('https://photos.example.com');
  });
});
