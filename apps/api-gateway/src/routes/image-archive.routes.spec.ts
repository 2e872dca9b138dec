import { jsonLines } from './image-archive.routes';

/** dockerd's load output: one message per write it makes (checked against Docker 20.10.24). */
describe('docker load messages', () => {
  it('one message per tag line, the tag move notice as its own', () => {
    expect(jsonLines(['The image a:1 already exists, renaming the old one with ID sha256:x to empty string', 'Loaded image: a:1'])).toEqual([
      '{"stream":"The image a:1 already exists, renaming the old one with ID sha256:x to empty string\\n"}',
      '{"stream":"Loaded image: a:1\\n"}',
    ]);
  });

  it('the id lines of an untagged load in one message', () => {
    expect(jsonLines(['Loaded image ID: sha256:a', 'Loaded image ID: sha256:b'])).toEqual(['{"stream":"Loaded image ID: sha256:a\\nLoaded image ID: sha256:b\\n"}']);
  });

  it('nothing loaded is an empty message', () => {
    expect(jsonLines([])).toEqual(['{}']);
  });
});
