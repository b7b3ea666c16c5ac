'use strict';
/*
 * bootstrap.js - the Node.js runtime of fc-tools: runs a Lambda-style
 * handler inside the guest, one invocation at a time.
 *
 * The PID-1 agent starts it as `/usr/bin/node /opt/fc/bootstrap.js` with
 *   fd 3      frames from the agent (H hello, I invoke)
 *   fd 4      frames to the agent (R ready, F fatal, O result, E error)
 *   fd 1, 2   pipes the agent relays to the user as the function's logs
 *   cwd       the function's code (LAMBDA_TASK_ROOT)
 * A frame is a type byte, a u32 big-endian length and that many bytes of
 * payload, at most FC_FRAME_MAX (8 MiB); see HACKING.md.
 *
 * Environment read
 *   _HANDLER                          "path/to/module.export" (required)
 *   LAMBDA_TASK_ROOT                  where the module path starts (default: cwd)
 *   AWS_LAMBDA_FUNCTION_NAME          context.functionName
 *   AWS_LAMBDA_FUNCTION_VERSION       context.functionVersion (default "$LATEST")
 *   AWS_LAMBDA_FUNCTION_MEMORY_SIZE   context.memoryLimitInMB (a string, as Lambda)
 *   AWS_LAMBDA_LOG_GROUP_NAME         context.logGroupName (default /aws/lambda/NAME)
 *   AWS_LAMBDA_LOG_STREAM_NAME        context.logStreamName (default: made up per VM,
 *                                     Lambda's "YYYY/MM/DD/[VERSION]<32 hex>" form)
 *   AWS_REGION, AWS_DEFAULT_REGION    region in context.invokedFunctionArn
 *                                     ("arn:aws:lambda:REGION:000000000000:function:NAME")
 *   AWS_LAMBDA_LOG_LEVEL              TRACE..FATAL: console calls below it are dropped
 *   FC_TIMEOUT_MS                     deadline when an I frame has neither
 *                                     deadline_ms nor timeout_ms (default 3000)
 *
 * Start-up: resolve _HANDLER the way Lambda does (an extension-less file,
 * then .js unless the nearest package.json says "type": "module", then .js
 * as ESM, .mjs, .cjs, then require.resolve from LAMBDA_TASK_ROOT), load it,
 * send R {"protocol":1,"runtime":"nodejs","version":...}. On failure send F
 * and exit 129: Runtime.MalformedHandlerName, Runtime.ImportModuleError
 * (CommonJS "Cannot find module"), Runtime.UserCodeSyntaxError,
 * Runtime.HandlerNotFound, or, when the module's own code throws, that
 * error's name (an ES module's missing import is a plain "Error", as in
 * Lambda).
 *
 * Invocation: the handler is called as handler(event, context, callback).
 * The first of callback(), context.done/succeed/fail() and the settling of a
 * returned promise decides the outcome; later calls are ignored. A return
 * value that is not a promise is ignored, and a synchronous throw goes to
 * callback(err), so a non-async handler throwing null or undefined counts
 * as no error; both as in Lambda.
 *   - result: O with JSON.stringify(result); undefined gives null.
 *   - a result JSON cannot encode (cycle, BigInt): E {"errorType":
 *     "Runtime.JSONStringifyError","errorMessage":"Unable to stringify
 *     response body"}, the name and message of Lambda's current runtime
 *     client (its older 3.x, behind nodejs20.x, says errorType "Error" with
 *     the same message). The runtime stays usable.
 *   - a result or error over 6291556 bytes of JSON: E Function.ResponseSizeTooLarge.
 *   - an Error: E {"errorType":err.name,"errorMessage":err.message,
 *     "trace":err.stack split into lines}.
 *   - anything else thrown or rejected: errorType is its typeof and
 *     errorMessage its toString(), trace [] ("boom" -> string/boom,
 *     42 -> number/42, {} -> object/[object Object]). A rejection or
 *     fail() with null or undefined reports string/"handled"; a value
 *     whose toString() throws reports errorType "handled". These are
 *     Lambda's shapes (aws-lambda-nodejs-runtime-interface-client,
 *     Errors.js toRapidResponse and CallbackContext.js fail).
 *   Every E for a handler error is also logged, as Lambda does, as
 *   `ERROR Invoke Error \t{...}`.
 *
 * callbackWaitsForEmptyEventLoop (default true): callback(null, result)
 * then answers only once the event loop has nothing left to run, which is
 * Lambda's rule, and is exact here: fd 3 is read through an unref'd handle
 * while an invocation is open, so 'beforeExit' fires when the user's timers,
 * sockets and promises are all done. If the loop empties before any answer,
 * a non-async handler answers null and an async one fails with
 * Runtime.NodeJsExit (Lambda's two defaults). Between invocations the fd 3
 * handle is ref'd, which is what keeps the process waiting for the next frame.
 *
 * Crashes: an uncaught exception or an unhandled rejection is logged
 * ("Uncaught Exception" / "Unhandled Promise Rejection"), reported as E if
 * an invocation is open and unanswered (errorType: the error's name, or
 * Runtime.UnhandledPromiseRejection with the reason as message), or as F
 * during start-up; then the runtime exits 129 (exception) or 128
 * (rejection), even when idle, so the agent sees it gone. process.exit(n)
 * in user code simply exits; the agent reports Runtime.ExitError.
 *
 * Logs: console.log/info/debug/trace/warn/error/fatal write one record,
 * `<ISO time>\t<request id>\t<LEVEL>\t<util.format of the arguments>\n`,
 * synchronously to fd 1 (all levels, as Lambda does, so that their order
 * holds), before any frame that follows them. The request id is "undefined"
 * until the first invocation and then the latest one's (Lambda keeps it
 * after an answer too). Newlines inside a message are kept (Lambda's
 * stdout mode turns them into \r). console.trace logs its message without
 * a stack, as Lambda's does.
 *
 * Randomness: a VM restored twice from one snapshot would otherwise repeat
 * V8's Math.random state, node's cache of randomUUID entropy, randomInt's
 * cache and OpenSSL's user-space DRBG, all copied by the snapshot.
 * Math.random is therefore a xoshiro128** generator, and randomBytes,
 * randomFill(Sync), getRandomValues (module and webcrypto), randomUUID and
 * randomInt XOR OpenSSL's bytes with an AES-256-CTR stream (or draw from
 * them); both are keyed from the H frame's entropy and seed, so each
 * restore differs. Before any H they are keyed from OpenSSL at start-up.
 *
 * Frames from the agent: H reseeds (no reply); I is run, or queued if one
 * is open. An I payload that is not JSON with an "id" string is answered
 * with E Runtime.InvalidInvoke. A frame over 8 MiB or of a non-letter type
 * is a broken agent: a message on stderr and exit 1, as when fd 3 or 4 is
 * not a pipe. End of fd 3: exit 0, even mid-invocation.
 *
 * Not done: response streaming (awslambda.streamifyResponse), the JSON log
 * format (AWS_LAMBDA_LOG_FORMAT), clientContext and identity (always
 * undefined), X-Ray. Keys that OpenSSL generates itself (generateKeyPair,
 * TLS handshakes) still come from its DRBG as copied by the snapshot.
 */

const crypto = require('crypto');
const fs = require('fs');
const net = require('net');
const path = require('path');
const url = require('url');
const util = require('util');

const FD_IN = 3;
const FD_OUT = 4;
const FRAME_HDR = 5;
const FRAME_MAX = 8 * 1024 * 1024;
const RESPONSE_MAX = 6291556;
const EXIT_EXCEPTION = 129;
const EXIT_REJECTION = 128;
const EXIT_PROTOCOL = 1;

/* ---- synchronous output ---- */

/*
 * Integers beyond 2^53 in an event: JSON.parse alone would round them, and
 * an echo handler would hand back different digits. With V8's
 * json-parse-with-source the reviver sees each number's text; such an
 * integer becomes a Number object (arithmetic still works, lossily, and
 * typeof says "object") that remembers its digits, and the answer's
 * JSON.stringify writes those digits back exactly. Without the flag (older
 * Node) numbers are rounded as in Lambda.
 */
try {
	require('v8').setFlagsFromString('--harmony-json-parse-with-source');
} catch (e) { /* rounding as in Lambda */ }
const bigDigits = new WeakMap();
const BIG_TOKEN = `\uE000fc${crypto.randomBytes(6).toString('hex')}:`;

function parsePayload(text) {
	if (!/\d{16}/.test(text))
		return JSON.parse(text);
	try {
		return parseKeepingDigits(text);
	} catch (e) {
		if (!(e instanceof RangeError))
			throw e;
		return JSON.parse(text);	/* too deep for the reviver */
	}
}

function parseKeepingDigits(text) {
	return JSON.parse(text, (k, v, ctx) => {
		if (typeof v !== 'number' || Number.isSafeInteger(v) || !ctx ||
		    !/^-?\d+$/.test(ctx.source))
			return v;
		const n = new Number(v);
		bigDigits.set(n, ctx.source);
		return n;
	});
}

function stringifyResult(result) {
	const digits = [];
	const text = JSON.stringify(result, function (k, v) {
		if (v instanceof Number && bigDigits.has(v)) {
			digits.push(bigDigits.get(v));
			return BIG_TOKEN + (digits.length - 1) + '\uE000';
		}
		return v;
	});
	if (!digits.length || text === undefined)
		return text;
	const re = new RegExp(`"${BIG_TOKEN}(\\d+)\uE000"`, 'g');
	return text.replace(re, (m, i) => digits[i]);
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

/* Write all of buf to fd, waiting out EAGAIN (a non-blocking pipe that is full). */
function writeAll(fd, buf) {
	let off = 0;
	while (off < buf.length) {
		try {
			off += fs.writeSync(fd, buf, off, buf.length - off);
		} catch (e) {
			if (e.code === 'EAGAIN')
				Atomics.wait(sleepCell, 0, 0, 1);
			else if (e.code !== 'EINTR')
				throw e;
		}
	}
}

function complain(msg) {
	try {
		writeAll(2, Buffer.from(`bootstrap: ${msg}\n`));
	} catch (_) {
		/* nobody is listening */
	}
}

function sendFrame(type, body) {
	const payload = Buffer.from(body, 'utf8');
	const hdr = Buffer.alloc(FRAME_HDR);
	hdr.write(type, 0, 'latin1');
	hdr.writeUInt32BE(payload.length, 1);
	try {
		writeAll(FD_OUT, hdr);
		writeAll(FD_OUT, payload);
	} catch (e) {
		complain(`fd ${FD_OUT}: ${e.message}; the agent is gone`);
		process.exit(EXIT_PROTOCOL);
	}
}

/* ---- frames in ---- */

/* Incremental decoder: push() chunks as they come, get whole frames back. */
class FrameReader {
	constructor(max) {
		this.max = max;
		this.chunks = [];
		this.have = 0;
		this.type = null;
		this.need = 0;
	}

	/* Returns [{type, payload}]; throws on a frame no agent would send. */
	push(chunk) {
		const out = [];
		this.chunks.push(chunk);
		this.have += chunk.length;
		for (;;) {
			if (this.type === null) {
				if (this.have < FRAME_HDR)
					break;
				const hdr = this.take(FRAME_HDR);
				const type = String.fromCharCode(hdr[0]);
				const len = hdr.readUInt32BE(1);
				if (!/^[A-Za-z]$/.test(type))
					throw new Error(`frame type 0x${hdr[0].toString(16)} is not a letter`);
				if (len > this.max)
					throw new Error(`'${type}' frame of ${len} bytes is over the ${this.max}-byte limit`);
				this.type = type;
				this.need = len;
			}
			if (this.have < this.need)
				break;
			out.push({ type: this.type, payload: this.take(this.need) });
			this.type = null;
		}
		return out;
	}

	/* Remove n buffered bytes from the front (n <= this.have). */
	take(n) {
		const first = this.chunks[0];
		this.have -= n;
		if (n === 0)
			return Buffer.alloc(0);
		if (first.length >= n) {
			if (first.length === n)
				this.chunks.shift();
			else
				this.chunks[0] = first.subarray(n);
			return first.subarray(0, n);
		}
		const buf = Buffer.allocUnsafe(n);
		let off = 0;
		while (off < n) {
			const c = this.chunks[0];
			const k = Math.min(c.length, n - off);
			c.copy(buf, off, 0, k);
			if (k === c.length)
				this.chunks.shift();
			else
				this.chunks[0] = c.subarray(k);
			off += k;
		}
		return buf;
	}
}

/* ---- error shapes ---- */

function errorClass(name) {
	const C = class extends Error {};
	Object.defineProperty(C.prototype, 'name', { value: name, writable: true, configurable: true });
	return C;
}

const MalformedHandlerName = errorClass('Runtime.MalformedHandlerName');
const HandlerNotFound = errorClass('Runtime.HandlerNotFound');
const ImportModuleError = errorClass('Runtime.ImportModuleError');
const UserCodeSyntaxError = errorClass('Runtime.UserCodeSyntaxError');
const UnhandledPromiseRejection = errorClass('Runtime.UnhandledPromiseRejection');
const JSONStringifyError = errorClass('Runtime.JSONStringifyError');
const NodeJsExit = errorClass('Runtime.NodeJsExit');

const NODEJS_EXIT_MSG = 'The Lambda runtime client detected an unexpected Node.js exit code. ' +
	'This is most commonly caused by a Promise that was never settled. ' +
	'For more information, see https://nodejs.org/docs/latest/api/process.html#exit-codes';
const HANDLED_MSG = 'callback called with Error argument, but there was a problem ' +
	'while retrieving one or more of its message, name, and stack';

function isErrorLike(v) {
	if (util.types.isNativeError(v))
		return true;
	return v !== null && typeof v === 'object' && typeof v.name === 'string' &&
		typeof v.message === 'string' && typeof v.stack === 'string' &&
		v.name !== '' && v.message !== '' && v.stack !== '';
}

/* What the agent gets for a thrown value: Lambda's {errorType, errorMessage, trace}. */
function errorShape(err) {
	try {
		if (isErrorLike(err)) {
			let type = err.name;
			if (typeof type !== 'string')
				type = (err.constructor && err.constructor.name) || 'Error';
			return {
				errorType: type,
				errorMessage: err.message,
				trace: typeof err.stack === 'string' ? err.stack.split('\n') : [],
			};
		}
		const msg = err.toString();
		return { errorType: typeof err, errorMessage: typeof msg === 'string' ? msg : String(msg), trace: [] };
	} catch (_) {
		return { errorType: 'handled', errorMessage: HANDLED_MSG, trace: [] };
	}
}

function asError(err) {
	if (err instanceof Error)
		return err;
	try {
		return new Error(err);
	} catch (_) {
		return new Error(HANDLED_MSG);
	}
}

/* The text after "Invoke Error" in the log: a tab and the error as JSON, enumerable fields too. */
function errorForLog(err) {
	const expand = (_k, v) => {
		if (!(v instanceof Error))
			return v;
		const o = Object.assign({ errorType: v.name, errorMessage: v.message, code: v.code }, v);
		if (typeof v.stack === 'string')
			o.stack = v.stack.split('\n');
		return o;
	};
	const e = asError(err);
	try {
		return '\t' + JSON.stringify(e, expand);
	} catch (_) {
		return '\t' + JSON.stringify(errorShape(e));
	}
}

/* ---- logs ---- */

const LEVELS = { TRACE: 1, DEBUG: 2, INFO: 3, WARN: 4, ERROR: 5, FATAL: 6 };
let requestId; /* undefined until the first invocation, as in Lambda */
/* Where Lambda's runtime leaves the current request id for libraries. */
const REQUEST_ID = Symbol.for('aws.lambda.runtime.requestId');

function writeLog(level, text) {
	const line = `${new Date().toISOString()}\t${requestId}\t${level}\t${text}\n`;
	try {
		writeAll(1, Buffer.from(line, 'utf8'));
	} catch (_) {
		/* the agent stopped reading logs: drop them, the frames will tell */
	}
}

function logError(label, err) {
	writeLog('ERROR', util.format(label, errorForLog(err)));
}

function patchConsole() {
	const min = LEVELS[String(process.env.AWS_LAMBDA_LOG_LEVEL || '').toUpperCase()] || LEVELS.TRACE;
	const make = (level) => (LEVELS[level] < min && level !== 'FATAL')
		? function () {}
		: function (msg, ...params) { writeLog(level, util.format(msg, ...params)); };
	console.trace = make('TRACE');
	console.debug = make('DEBUG');
	console.info = make('INFO');
	console.log = console.info;
	console.warn = make('WARN');
	console.error = make('ERROR');
	console.fatal = make('FATAL');
}

/* ---- randomness that differs between clones of one snapshot ---- */

function sha256(...parts) {
	const h = crypto.createHash('sha256');
	for (const p of parts)
		h.update(p);
	return h.digest();
}

/* xoshiro128**: 128 bits of state, 32-bit outputs; two make a double. */
const prng = { s: new Uint32Array(4) };

function prngSeed(bytes) {
	for (let i = 0; i < 4; i++)
		prng.s[i] = bytes.readUInt32LE(4 * i);
	if ((prng.s[0] | prng.s[1] | prng.s[2] | prng.s[3]) === 0)
		prng.s[0] = 1;
}

function prngNext() {
	const s = prng.s;
	const x = Math.imul(s[1], 5);
	const out = Math.imul((x << 7) | (x >>> 25), 9) >>> 0;
	const t = s[1] << 9;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = (s[3] << 11) | (s[3] >>> 21);
	return out;
}

function random() {
	return ((prngNext() >>> 5) * 67108864 + (prngNext() >>> 6)) / 9007199254740992;
}

/* The per-VM stream that OpenSSL's output is XORed with. */
const mixer = { stream: null };

function mixerSeed(key) {
	mixer.stream = crypto.createCipheriv('aes-256-ctr', sha256('fc mix key', key),
		sha256('fc mix iv', key).subarray(0, 16));
}

/* XOR the bytes of an ArrayBuffer or view (from byte off, len bytes) with the stream. */
function mix(buf, off, len) {
	const base = buf.buffer ? new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength) : new Uint8Array(buf);
	const start = off || 0;
	const n = len === undefined ? base.length - start : len;
	if (n <= 0)
		return;
	const ks = mixer.stream.update(Buffer.alloc(n));
	for (let i = 0; i < n; i++)
		base[start + i] ^= ks[i];
}

/* Byte range that randomFill(Sync)(buf, offset, size) wrote; offset and size count elements. */
function fillRange(buf, offset, size) {
	const es = buf.BYTES_PER_ELEMENT || 1;
	const off = (offset === undefined ? 0 : offset) * es;
	const len = size === undefined ? buf.byteLength - off : size * es;
	return [off, len];
}

/* Key Math.random and the crypto stream from the H frame (or any key material). */
function reseed(entropy, seed) {
	prngSeed(sha256('fc math', entropy, '/', seed));
	mixerSeed(sha256('fc crypto', entropy, '/', seed));
}

function patchMath() {
	Object.defineProperty(Math, 'random', {
		value: random, writable: true, enumerable: false, configurable: true,
	});
}

const RAND_MAX = 0xFFFFFFFFFFFF;

function patchCrypto(C) {
	const orig = {
		randomBytes: C.randomBytes,
		randomFillSync: C.randomFillSync,
		randomFill: C.randomFill,
		randomUUID: C.randomUUID,
		randomInt: C.randomInt,
	};
	const define = (obj, name, fn) => Object.defineProperty(obj, name, {
		value: fn, writable: true, enumerable: true, configurable: true,
	});

	define(C, 'randomBytes', function randomBytes(size, cb) {
		if (typeof cb === 'function') {
			return orig.randomBytes.call(C, size, (err, buf) => {
				if (!err)
					mix(buf);
				cb(err, buf);
			});
		}
		const buf = orig.randomBytes.call(C, size, cb);
		mix(buf);
		return buf;
	});
	define(C, 'randomFillSync', function randomFillSync(buf, offset, size) {
		const ret = orig.randomFillSync.call(C, buf, offset, size);
		mix(buf, ...fillRange(buf, offset, size));
		return ret;
	});
	define(C, 'randomFill', function randomFill(buf, ...rest) {
		const cb = rest[rest.length - 1];
		if (typeof cb !== 'function')
			return orig.randomFill.call(C, buf, ...rest);
		const [off, len] = fillRange(buf, rest.length > 1 ? rest[0] : undefined,
			rest.length > 2 ? rest[1] : undefined);
		return orig.randomFill.call(C, buf, ...rest.slice(0, -1), (err, b) => {
			if (!err)
				mix(buf, off, len);
			cb(err, b);
		});
	});
	const uuid = function randomUUID(options) {
		const hex = orig.randomUUID.call(C, options).replace(/-/g, '');
		const b = Buffer.from(hex, 'hex');
		mix(b);
		b[6] = (b[6] & 0x0f) | 0x40;
		b[8] = (b[8] & 0x3f) | 0x80;
		const h = b.toString('hex');
		return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
	};
	define(C, 'randomUUID', uuid);
	define(C, 'randomInt', function randomInt(min, max, cb) {
		let lo = min, hi = max, done = cb;
		if (max === undefined || typeof max === 'function') {
			done = max;
			hi = min;
			lo = 0;
		}
		if ((done !== undefined && typeof done !== 'function') || !Number.isSafeInteger(lo) ||
		    !Number.isSafeInteger(hi) || hi <= lo || hi - lo > RAND_MAX)
			return orig.randomInt.apply(C, arguments); /* throws node's own error */
		const range = hi - lo;
		const limit = RAND_MAX - (RAND_MAX % range);
		let x;
		do
			x = C.randomBytes(6).readUIntBE(0, 6);
		while (x >= limit);
		if (done === undefined)
			return lo + (x % range);
		process.nextTick(done, undefined, lo + (x % range));
	});
	for (const alias of ['rng', 'prng', 'pseudoRandomBytes']) {
		if (Object.getOwnPropertyDescriptor(C, alias))
			define(C, alias, C.randomBytes);
	}

	/* crypto.getRandomValues() and globalThis.crypto go through this instance. */
	const W = C.webcrypto;
	if (W) {
		const grv = Object.getPrototypeOf(W).getRandomValues;
		define(W, 'getRandomValues', function getRandomValues(array) {
			const ret = grv.call(W, array);
			mix(array);
			return ret;
		});
		define(W, 'randomUUID', function randomUUID() {
			return uuid();
		});
	}
	require('module').syncBuiltinESMExports();
}

/* ---- loading the handler ---- */

/* Does the nearest package.json above dir say "type": "module"? (Lambda's walk) */
function isModuleDir(dir) {
	for (;;) {
		if (dir.endsWith('/node_modules'))
			return false;
		const pj = path.join(dir, 'package.json');
		if (fs.existsSync(pj)) {
			try {
				return JSON.parse(fs.readFileSync(pj, 'utf8')).type === 'module';
			} catch (e) {
				console.warn(`${pj} cannot be read, it will be ignored for ES module detection purposes.`, e);
				return false;
			}
		}
		const up = path.dirname(dir);
		if (up === dir)
			return false;
		dir = up;
	}
}

async function loadModule(root, moduleDir, name) {
	const base = path.resolve(root, moduleDir, name);
	const esm = (f) => import(url.pathToFileURL(f).href);
	if (fs.existsSync(base))
		return require(base);
	const typeModule = isModuleDir(path.dirname(base));
	if (fs.existsSync(base + '.js'))
		return typeModule ? esm(base + '.js') : require(base + '.js');
	if (fs.existsSync(base + '.mjs'))
		return esm(base + '.mjs');
	if (fs.existsSync(base + '.cjs'))
		return require(base + '.cjs');
	return require(require.resolve(name, { paths: [root, path.resolve(root, moduleDir)] }));
}

async function loadHandler(root, full) {
	if (!full)
		throw new MalformedHandlerName('_HANDLER is not set');
	if (full.includes('..'))
		throw new MalformedHandlerName(`'${full}' is not a valid handler name. ` +
			'Use absolute paths when specifying root directories in handler names.');
	const file = path.basename(full);
	const moduleDir = full.slice(0, full.length - file.length);
	const m = /^([^.]*)\.(.*)$/.exec(file);
	if (!m)
		throw new MalformedHandlerName('Bad handler');

	let app;
	try {
		app = await loadModule(root, moduleDir, m[1]);
	} catch (e) {
		if (e instanceof SyntaxError) {
			const err = new UserCodeSyntaxError(String(e));
			err.stack = `${err.name}: ${err.message}\n${e.stack}`;
			throw err;
		}
		if (e !== null && e !== undefined && e.code === 'MODULE_NOT_FOUND')
			throw new ImportModuleError(String(e));
		throw e;
	}

	const fn = m[2].split('.').reduce((o, k) => o && o[k], app);
	if (!fn)
		throw new HandlerNotFound(`${full} is undefined or not exported`);
	if (typeof fn !== 'function')
		throw new HandlerNotFound(`${full} is not a function`);
	return fn;
}

/* ---- invocations ---- */

const rt = {
	phase: 'init',		/* init, then ready */
	handler: null,
	isAsync: false,
	current: null,		/* the open invocation */
	queue: [],		/* I payloads waiting for it */
	scheduled: false,
	input: null,		/* the fd 3 socket */
	logStream: null,
};

/* E or O payload for one answer, within the size limit. */
function answer(inv, type, body) {
	if (inv.answered)
		return;
	inv.answered = true;
	const n = Buffer.byteLength(body, 'utf8');
	if (n > RESPONSE_MAX) {
		type = 'E';
		body = JSON.stringify({
			errorType: 'Function.ResponseSizeTooLarge',
			errorMessage: `Response payload size (${n} bytes) exceeded maximum allowed payload size (${RESPONSE_MAX} bytes).`,
			trace: [],
		});
	}
	const finish = () => {
		sendFrame(type, body);
		if (rt.current === inv) {
			rt.current = null;
			if (rt.input)
				rt.input.ref();
			schedule();
		}
	};
	if (rt.exiting)
		finish();
	else
		flushStd(finish);
}

/*
 * console.* writes synchronously, but process.stdout.write() to a pipe
 * queues in Node when the pipe is full: wait until what the handler wrote
 * has reached the agent before the answer does, or it would be lost when
 * the VM is torn down. A write's callback runs once all before it is out.
 */
function flushStd(done) {
	const queued = [process.stdout, process.stderr].filter((st) => st.writableLength > 0);
	let n = queued.length;

	if (!n)
		return done();
	for (const st of queued)
		st.write('', () => { if (--n === 0) done(); });
}

function answerError(inv, err) {
	if (inv.answered)
		return;
	logError('Invoke Error', err);
	answer(inv, 'E', JSON.stringify(errorShape(err)));
}

function answerResult(inv, result) {
	if (inv.answered)
		return;
	let body;
	try {
		body = stringifyResult(result === undefined ? null : result);
	} catch (e) {
		const err = new JSONStringifyError('Unable to stringify response body');
		err.cause = e;
		answerError(inv, err);
		return;
	}
	answer(inv, 'O', body === undefined ? 'null' : body);
}

function logStreamName(version) {
	if (process.env.AWS_LAMBDA_LOG_STREAM_NAME)
		return process.env.AWS_LAMBDA_LOG_STREAM_NAME;
	if (!rt.logStream) {
		const d = new Date().toISOString();
		rt.logStream = `${d.slice(0, 4)}/${d.slice(5, 7)}/${d.slice(8, 10)}/[${version}]` +
			crypto.randomBytes(16).toString('hex');
	}
	return rt.logStream;
}

function makeContext(inv) {
	const env = process.env;
	const name = env.AWS_LAMBDA_FUNCTION_NAME;
	const version = env.AWS_LAMBDA_FUNCTION_VERSION || '$LATEST';
	const region = env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1';
	const done = (err, result) => {
		if (inv.finished)
			return;
		inv.finished = true;
		if (err !== undefined && err !== null)
			answerError(inv, err);
		else
			answerResult(inv, result);
	};
	return {
		get callbackWaitsForEmptyEventLoop() {
			return inv.waits;
		},
		set callbackWaitsForEmptyEventLoop(v) {
			inv.waits = v;
		},
		succeed: (result) => done(null, result),
		fail: (err) => done(err === undefined || err === null ? 'handled' : err),
		done,
		functionVersion: version,
		functionName: name,
		memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
		logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME || `/aws/lambda/${name}`,
		logStreamName: logStreamName(version),
		clientContext: undefined,
		identity: undefined,
		invokedFunctionArn: `arn:aws:lambda:${region}:000000000000:function:${name}`,
		awsRequestId: inv.id,
		getRemainingTimeInMillis: () => Math.max(0, Math.floor(inv.deadlineMs - Date.now())),
	};
}

function deadlineOf(req) {
	if (typeof req.deadline_ms === 'number')
		return req.deadline_ms;
	if (typeof req.deadline_ns === 'number')
		return req.deadline_ns / 1e6;
	const ms = typeof req.timeout_ms === 'number' ? req.timeout_ms : Number(process.env.FC_TIMEOUT_MS) || 3000;
	return Date.now() + ms;
}

function invoke(payload) {
	let req;
	try {
		req = parsePayload(payload.toString('utf8'));
		if (req === null || typeof req !== 'object' || typeof req.id !== 'string')
			throw new Error('no "id" string');
	} catch (e) {
		sendFrame('E', JSON.stringify({
			errorType: 'Runtime.InvalidInvoke',
			errorMessage: `the invoke frame is not {"id":...,"event":...}: ${e.message}`,
			trace: [],
		}));
		schedule();
		return;
	}

	const inv = { id: req.id, deadlineMs: deadlineOf(req), waits: true,
		finished: false, answered: false, onDrain: null };
	rt.current = inv;
	requestId = inv.id;
	global[REQUEST_ID] = inv.id;
	rt.input.unref();
	inv.onDrain = rt.isAsync
		? () => answerError(inv, new NodeJsExit(NODEJS_EXIT_MSG))
		: () => answerResult(inv, null);

	const callback = (err, result) => {
		if (inv.finished)
			return;
		inv.finished = true;
		if (err !== undefined && err !== null)
			answerError(inv, err);
		else if (!inv.waits)
			answerResult(inv, result);
		else
			inv.onDrain = () => setImmediate(() => answerResult(inv, result));
	};
	const context = makeContext(inv);

	let ret;
	try {
		const handler = req.warmup === true ? warmUp : rt.handler;
		ret = handler(req.event, context, callback);
	} catch (e) {
		callback(e);
		return;
	}
	if (ret && typeof ret.then === 'function') {
		try {
			ret.then(context.succeed, context.fail);
		} catch (e) {
			context.fail(e);
		}
	}
}

/*
 * fc-snap sends a few invocations marked "warmup" before it snapshots: they
 * take this runtime's whole path (frames, JSON, context, logging, answer)
 * but never the user's handler, so that the snapshot holds compiled code.
 * Under emulation this makes the first call after a restore ~5x cheaper.
 */
async function warmUp(event, context) {
	console.log('warm-up', context.getRemainingTimeInMillis() > 0);
	return { warmup: true, event, random: Math.random() };
}

function schedule() {
	if (rt.scheduled)
		return;
	rt.scheduled = true;
	setImmediate(() => {
		rt.scheduled = false;
		if (!rt.current && rt.queue.length)
			invoke(rt.queue.shift());
	});
}

function onHello(payload) {
	let h;
	try {
		h = JSON.parse(payload.toString('utf8'));
	} catch (e) {
		complain(`H frame is not JSON: ${e.message}`);
		return;
	}
	if (typeof h.entropy !== 'string' || typeof h.seed !== 'string')
		complain('H frame has no "entropy" and "seed" strings');
	reseed(String(h.entropy), String(h.seed));
	rt.logStream = null;
}

function onFrame(f) {
	if (f.type === 'H')
		onHello(f.payload);
	else if (f.type === 'I') {
		rt.queue.push(f.payload);
		schedule();
	} else
		complain(`ignoring a '${f.type}' frame from the agent`);
}

function startInput() {
	const reader = new FrameReader(FRAME_MAX);
	const s = new net.Socket({ fd: FD_IN, readable: true, writable: false });
	rt.input = s;
	s.on('data', (chunk) => {
		let frames;
		try {
			frames = reader.push(chunk);
		} catch (e) {
			complain(`fd ${FD_IN}: ${e.message}`);
			process.exit(EXIT_PROTOCOL);
		}
		for (const f of frames)
			onFrame(f);
	});
	s.on('end', () => process.exit(0));
	s.on('error', (e) => {
		complain(`fd ${FD_IN}: ${e.message}`);
		process.exit(EXIT_PROTOCOL);
	});
}

/* ---- crashes and the empty event loop ---- */

function crash(label, err, code) {
	logError(label, err);
	const inv = rt.current;
	rt.exiting = true;	/* answer now: there is no later */
	if (rt.phase === 'init')
		sendFrame('F', JSON.stringify(errorShape(err)));
	else if (inv && !inv.answered)
		answer(inv, 'E', JSON.stringify(errorShape(err)));
	process.exit(code);
}

function onRejection(reason, promise) {
	let msg;
	try {
		msg = reason === undefined ? '' : String(reason);
	} catch (_) {
		msg = HANDLED_MSG;
	}
	const err = new UnhandledPromiseRejection(msg);
	err.reason = reason;
	err.promise = promise;
	crash('Unhandled Promise Rejection', err, EXIT_REJECTION);
}

function onEmptyLoop() {
	if (rt.phase === 'init') {
		crash('Uncaught Exception', new NodeJsExit(NODEJS_EXIT_MSG), EXIT_EXCEPTION);
		return;
	}
	const inv = rt.current;
	if (inv && !inv.answered && inv.onDrain) {
		const act = inv.onDrain;
		inv.onDrain = null;
		act();
	} else if (!inv && rt.input) {
		rt.input.ref();
	}
}

/* ---- main ---- */

/*
 * Without the agent's fds, node's own epoll and eventfd descriptors take
 * numbers 3 and 4: insist on a pipe or a socket.
 */
function checkFds() {
	for (const fd of [FD_IN, FD_OUT]) {
		let st = null;
		try {
			st = fs.fstatSync(fd);
		} catch (_) {
			/* not open */
		}
		if (!st || !(st.isFIFO() || st.isSocket())) {
			complain(`fd ${fd} is not a pipe: the fc agent runs this with fd 3 and 4 as its frame pipes`);
			process.exit(EXIT_PROTOCOL);
		}
	}
}

async function main() {
	checkFds();
	reseed(crypto.randomBytes(32).toString('hex'), 'boot');
	patchMath();
	patchCrypto(crypto);
	patchConsole();
	process.on('uncaughtException', (err) => crash('Uncaught Exception', err, EXIT_EXCEPTION));
	process.on('unhandledRejection', onRejection);
	process.on('beforeExit', onEmptyLoop);

	const root = process.env.LAMBDA_TASK_ROOT || process.cwd();
	try {
		rt.handler = await loadHandler(root, process.env._HANDLER);
	} catch (e) {
		crash('Uncaught Exception', e, EXIT_EXCEPTION);
		return;
	}
	rt.isAsync = rt.handler.constructor && rt.handler.constructor.name === 'AsyncFunction';

	/* Let rejections left by the module's initialisation surface first. */
	setImmediate(() => {
		rt.phase = 'ready';
		sendFrame('R', JSON.stringify({ protocol: 1, runtime: 'nodejs', version: process.version }));
		startInput();
	});
}

if (require.main === module)
	main();
else
	module.exports = { FrameReader, FRAME_MAX, reseed, random, patchCrypto };
