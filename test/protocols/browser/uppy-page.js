// Bundled by esbuild for the browser test: Uppy with @uppy/tus, no UI, driven from the test.
// Plain JavaScript: it runs in the browser, and Uppy's DOM types stay out of the server's type check.
/* global window, atob, Blob */
import Uppy from '@uppy/core';
import Tus from '@uppy/tus';

window.uploadWithUppy = async (endpoint, token, base64, name) => {
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  const uppy = new Uppy({ autoProceed: false }).use(Tus, {
    endpoint,
    headers: { Authorization: `Bearer ${token}` },
    chunkSize: 256 * 1024,
    retryDelays: [0, 500],
  });
  const progress = [];
  uppy.on('upload-progress', (_file, p) => progress.push(p.bytesUploaded));
  uppy.addFile({ name, type: 'audio/wav', data: new Blob([bytes], { type: 'audio/wav' }) });
  const result = await uppy.upload();
  if (!result || result.failed?.length) throw new Error(`upload failed: ${String(result?.failed?.[0]?.error)}`);
  return { uploadURL: result.successful?.[0]?.uploadURL, progress };
};
