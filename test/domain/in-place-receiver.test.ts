/**
 * A chunk written in place lets go of each buffer it read once its bytes are written, while the
 * chunk is still arriving: memory for one request does not grow with the chunk, and dead socket
 * buffers die young instead of waiting for a full collection at the request's end. (It once
 * kept every buffer of a chunk reachable until the chunk was done: 8 MiB chunks cost twice the
 * CPU per GiB, most of it in the garbage collector; see docs/benchmarks.md, issue 27.)
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { test } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';
import type { AttachmentRecord } from '../../src/domain/attachments/ports.js';
import { InPlaceReceiver } from '../../src/domain/attachments/in-place-receiver.js';
import { UploadState } from '../../src/domain/attachments/upload-state.js';
import { LocalDiskStore } from '../../src/storage/local-disk-store.js';
import { InProcessPrefixHasher } from '../../src/storage/prefix-hashers.js';

const PIECE = 64 * 1024;
const PIECES = 64;
/** Pieces read before the check; those well before it must be gone by then. */
const CHECK_AT = 48;
const LONG_WRITTEN = 24;

v8.setFlagsFromString('--expose-gc');
const collect = vm.runInNewContext('gc') as () => void;

/** A full collection in a turn of its own (a WeakRef's target lives to the end of the turn that made it). */
async function collectGarbage(): Promise<void> {
  await nextTurn();
  collect();
  await nextTurn();
  collect();
}

/** An upload of `size` bytes on a local store in `root`, with `recorded` already in place, and a receiver for a chunk at 0. */
async function openReceiver(root: string, size: number, recorded: Array<[number, number]>, bytes?: Buffer) {
  const store = await LocalDiskStore.open({ root, durable: false });
  const key = await store.createUpload(size);
  if (bytes && recorded.length > 0) {
    const upload = await store.openUpload(key);
    for (const [start, end] of recorded) await upload.write(bytes.subarray(start, end), start);
    await upload.close();
  }
  const record: AttachmentRecord = {
    id: 1,
    userId: 1,
    filename: 'a.bin',
    contentType: null,
    size,
    ranges: recorded,
    receivedBytes: recorded.reduce((sum, [start, end]) => sum + end - start, 0),
    state: 'uploading',
    sha1: null,
    usedBy: null,
    storageKey: key,
    createdAt: 0,
    updatedAt: 0,
    expiresAt: null,
    contentVersion: 0,
  };
  const state = new UploadState(record, new InProcessPrefixHasher(), async () => null);
  return { store, key, receiver: new InPlaceReceiver(state, await store.openUpload(key), store, 0) };
}

test('buffers of a chunk still arriving are collectable once written', async () => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'trickle-receiver-'));
  try {
    const size = PIECE * PIECES;
    const { store, key, receiver } = await openReceiver(root, size, []);

    const expected = randomBytes(size);
    const read: Array<WeakRef<Buffer>> = [];
    let alive: number | null = null;
    async function* arriving(): AsyncGenerator<Buffer> {
      for (let i = 0; i < PIECES; i += 1) {
        if (i === CHECK_AT) {
          await collectGarbage();
          alive = read.slice(0, LONG_WRITTEN).filter((ref) => ref.deref() !== undefined).length;
        }
        // A fresh buffer per read, as a socket gives them.
        const piece = Buffer.from(expected.subarray(i * PIECE, (i + 1) * PIECE));
        read.push(new WeakRef(piece));
        yield piece;
        await nextTurn();
      }
    }

    const result = await receiver.consume(arriving(), { declaredLength: size, hashChunk: false, signal: undefined, unknownSizeLimit: size });
    await receiver.close();
    assert.equal(result.sourceError, null);
    assert.equal(result.written, size);
    assert.ok((await readFile(store.localPath(key))).equals(expected), 'the chunk is in place');
    assert.equal(alive, 0, `${alive} of the first ${LONG_WRITTEN} buffers, written long before, were still reachable while the chunk arrived`);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('each piece is released once written, after it was hashed, whether it lands on new or recorded bytes', async () => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'trickle-receiver-'));
  try {
    const size = PIECE * 8;
    const expected = randomBytes(size);
    // Pieces 2 and 3 are recorded already (the same bytes): they are compared, not written.
    const { store, key, receiver } = await openReceiver(root, size, [[2 * PIECE, 4 * PIECE]], expected);
    const given: Buffer[] = [];
    const released: Buffer[] = [];
    async function* arriving(): AsyncGenerator<Buffer> {
      for (let i = 0; i < 8; i += 1) {
        const piece = Buffer.from(expected.subarray(i * PIECE, (i + 1) * PIECE));
        given.push(piece);
        yield piece;
      }
    }
    // Released as a transport would: the piece's memory is gone (detached) afterwards.
    const releasePiece = (piece: Buffer) => {
      released.push(piece);
      (piece.buffer as ArrayBuffer).transfer(0);
    };

    const result = await receiver.consume(arriving(), { declaredLength: size, hashChunk: true, signal: undefined, unknownSizeLimit: size, releasePiece });
    await receiver.close();
    assert.equal(result.sourceError, null);
    assert.equal(result.written, size);
    assert.equal(result.digest, createHash('sha1').update(expected).digest('hex'), 'hashed before being released');
    assert.ok((await readFile(store.localPath(key))).equals(expected), 'every byte is in place');
    // By identity: once released, every piece is an equal empty buffer.
    assert.equal(released.length, given.length, 'as many releases as pieces');
    assert.ok(given.every((piece) => released.includes(piece)), 'each piece released once');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
