'use strict';
/*
 * unit.js - tests of bootstrap.js's parts that a whole run cannot reach:
 * the frame decoder under every split, and the crypto mixing when the
 * underlying generator is cloned (simulated by one that returns zeros).
 * Prints TAP; exits 1 on a failure.
 */
const assert = require('assert');
const bs = require('../../runtime/bootstrap.js');

let n = 0;
let failed = 0;
function test(name, fn) {
	n++;
	try {
		fn();
		console.log(`ok ${n} - ${name}`);
	} catch (e) {
		failed++;
		console.log(`not ok ${n} - ${name}`);
		console.log(`# ${String(e.stack).split('\n').join('\n# ')}`);
	}
}

function encode(type, body) {
	const hdr = Buffer.alloc(5);
	hdr.write(type, 0, 'latin1');
	hdr.writeUInt32BE(body.length, 1);
	return Buffer.concat([hdr, body]);
}

/* A deterministic generator for the test's own choices. */
let state = 12345;
function rnd(k) {
	state = (Math.imul(state, 1103515245) + 12345) >>> 0;
	return state % k;
}

const frames = [
	{ type: 'H', payload: Buffer.from('{"entropy":"aa","seed":"bb"}') },
	{ type: 'I', payload: Buffer.alloc(0) },
	{ type: 'I', payload: Buffer.from('x') },
	{ type: 'I', payload: Buffer.alloc(200000, 0x41) },
	{ type: 'z', payload: Buffer.from('{"last":true}') },
];
const wire = Buffer.concat(frames.map((f) => encode(f.type, f.payload)));

function decodeIn(pieces) {
	const r = new bs.FrameReader(bs.FRAME_MAX);
	const out = [];
	for (const p of pieces)
		out.push(...r.push(p));
	return out;
}

function sameFrames(got) {
	assert.strictEqual(got.length, frames.length);
	got.forEach((f, i) => {
		assert.strictEqual(f.type, frames[i].type);
		assert.ok(f.payload.equals(frames[i].payload), `payload ${i}`);
	});
}

test('frames written all at once decode', () => sameFrames(decodeIn([wire])));

test('frames written a byte at a time decode', () => {
	const pieces = [];
	for (let i = 0; i < wire.length; i += i < 1000 ? 1 : 4096)
		pieces.push(wire.subarray(i, Math.min(wire.length, i + (i < 1000 ? 1 : 4096))));
	sameFrames(decodeIn(pieces));
});

test('frames split at 300 random places decode', () => {
	for (let t = 0; t < 300; t++) {
		const cuts = [0, rnd(wire.length), rnd(40), rnd(wire.length), wire.length].sort((a, b) => a - b);
		const pieces = [];
		for (let i = 1; i < cuts.length; i++)
			pieces.push(wire.subarray(cuts[i - 1], cuts[i]));
		sameFrames(decodeIn(pieces));
	}
});

test('a frame of exactly 8 MiB is accepted', () => {
	const big = Buffer.alloc(bs.FRAME_MAX, 0x20);
	const got = decodeIn([encode('I', big).subarray(0, 1000), encode('I', big).subarray(1000)]);
	assert.strictEqual(got.length, 1);
	assert.strictEqual(got[0].payload.length, bs.FRAME_MAX);
});

test('a header claiming 8 MiB + 1 is refused at once', () => {
	const hdr = Buffer.alloc(5);
	hdr.write('I', 0, 'latin1');
	hdr.writeUInt32BE(bs.FRAME_MAX + 1, 1);
	assert.throws(() => decodeIn([hdr]), /'I' frame of 8388609 bytes is over the 8388608-byte limit/);
});

test('a type byte that is not a letter is refused', () => {
	assert.throws(() => decodeIn([encode('1', Buffer.from('x'))]), /frame type 0x31 is not a letter/);
});

/* A crypto module whose generator is "cloned": it always gives zeros. */
function clonedCrypto() {
	return {
		randomBytes(size, cb) {
			const b = Buffer.alloc(size);
			if (cb)
				return process.nextTick(cb, null, b);
			return b;
		},
		randomFillSync: (buf) => buf,
		randomFill(buf, ...rest) {
			process.nextTick(rest.pop(), null, buf);
		},
		randomUUID: () => '00000000-0000-4000-8000-000000000000',
		randomInt: () => {
			throw new RangeError('bad arguments');
		},
		webcrypto: Object.create({ getRandomValues: (a) => a }),
	};
}

const E1 = 'a'.repeat(64);
const E2 = 'b'.repeat(64);

function sample(C) {
	const u32 = new Uint32Array(2);
	C.webcrypto.getRandomValues(u32);
	return {
		bytes: C.randomBytes(16).toString('hex'),
		fill: C.randomFillSync(Buffer.alloc(8)).toString('hex'),
		uuid: C.randomUUID(),
		webUuid: C.webcrypto.randomUUID(),
		grv: Buffer.from(u32.buffer).toString('hex'),
		int: C.randomInt(1e9),
	};
}

const C = clonedCrypto();
bs.patchCrypto(C);

test('a cloned generator gives different bytes after different H frames', () => {
	bs.reseed(E1, '0000000000000001');
	const a = sample(C);
	bs.reseed(E2, '0000000000000001');
	const b = sample(C);
	bs.reseed(E1, '0000000000000002');
	const c = sample(C);
	for (const k of Object.keys(a)) {
		assert.notStrictEqual(a[k], b[k], k);
		assert.notStrictEqual(a[k], c[k], k);
	}
	assert.notStrictEqual(a.bytes, '0'.repeat(32));
	assert.match(a.uuid, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
	assert.match(a.webUuid, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
});

test('the same H frame on the same cloned state gives the same bytes', () => {
	bs.reseed(E1, '0000000000000001');
	const a = sample(C);
	bs.reseed(E1, '0000000000000001');
	assert.deepStrictEqual(sample(C), a);
});

test('randomFillSync mixes only the range it filled', () => {
	const u8 = new Uint8Array(8);
	C.randomFillSync(u8, 2, 3);
	assert.deepStrictEqual([...u8].map((x) => x !== 0), [false, false, true, true, true, false, false, false]);
	const u32 = new Uint32Array(4);
	C.randomFillSync(u32, 1, 2);
	assert.strictEqual(u32[0], 0);
	assert.strictEqual(u32[3], 0);
	assert.ok(u32[1] !== 0 && u32[2] !== 0);
});

test('randomBytes and randomFill with callbacks are mixed too', () => {
	let got = 0;
	C.randomBytes(8, (err, b) => {
		assert.ifError(err);
		assert.notStrictEqual(b.toString('hex'), '0'.repeat(16));
		got++;
	});
	const buf = Buffer.alloc(8);
	C.randomFill(buf, 4, (err) => {
		assert.ifError(err);
		assert.strictEqual(buf.subarray(0, 4).toString('hex'), '00000000');
		got++;
	});
	process.on('exit', () => assert.strictEqual(got, 2));
});

test('randomInt keeps its range and its errors', () => {
	for (let i = 0; i < 1000; i++) {
		const v = C.randomInt(-3, 4);
		assert.ok(Number.isInteger(v) && v >= -3 && v < 4, String(v));
	}
	assert.throws(() => C.randomInt(5, 5), /bad arguments/);
});

test('Math.random follows the H frame and stays in [0, 1)', () => {
	bs.reseed(E1, '0000000000000001');
	const a = [bs.random(), bs.random(), bs.random()];
	bs.reseed(E1, '0000000000000001');
	assert.deepStrictEqual([bs.random(), bs.random(), bs.random()], a);
	bs.reseed(E2, '0000000000000001');
	assert.notDeepStrictEqual([bs.random(), bs.random(), bs.random()], a);
	let sum = 0;
	const N = 200000;
	for (let i = 0; i < N; i++) {
		const x = bs.random();
		assert.ok(x >= 0 && x < 1);
		sum += x;
	}
	assert.ok(Math.abs(sum / N - 0.5) < 0.01, `mean ${sum / N}`);
});

process.on('exit', () => {
	console.log(`1..${n}`);
	if (failed)
		process.exitCode = 1;
});
