'use strict';
/*
 * driver.js - play the agent's part for runtime/bootstrap.js on the host.
 *
 * usage: node driver.js [options] FIXTURE [STEP...]
 *
 * Starts `node runtime/bootstrap.js` with fd 3 and 4 as pipes, cwd and
 * LAMBDA_TASK_ROOT = FIXTURE, a fixed Lambda-like environment, waits for its
 * first frame (R or F), then runs the steps in order:
 *   H:JSON          send an H frame (no answer expected)
 *   I:JSON          send an I frame, wait for its O, E or F (or the exit)
 *   sleep:MS        wait
 *   I@FILE:ID       send an I frame whose event is FILE's bytes, verbatim
 *   Ipad:N:ID       send an I frame of exactly N bytes whose event is a
 *                   string of "x" (for the frame size limit)
 *   raw:TYPE:LEN    send only a frame header claiming LEN bytes
 * It then closes fd 3 and prints, in this order: each frame that came back
 * as "TYPE PAYLOAD" (in arrival order), the runtime's stdout lines as
 * "out: ..." and stderr lines as "err: ...", and "exit N" (or "signal S").
 *
 * Options:
 *   --env K=V        set (or with K= and nothing else, unset) a variable
 *   --full-trace     print whole traces (default: first line only)
 *   --log-summary    print a count of stdout lines, bytes and malformed
 *                    records instead of the lines
 *   --together       write all H/I frames in one write, then wait for answers
 *   --split N        like --together, but in writes of N bytes
 *   --stall-logs MS  read nothing from stdout for MS ms, then say whether an
 *                    answer frame came while it was stalled
 *   --timeout S      give up after S seconds (default 30): prints "timeout"
 * Timestamps at the start of log lines print as TIME.
 */

const { spawn } = require('child_process');
const path = require('path');

const BOOTSTRAP = path.resolve(__dirname, '../../runtime/bootstrap.js');
const ANSWERS = new Set(['O', 'E', 'F']);

function usage(msg) {
	process.stderr.write(`driver: ${msg}\nusage: node driver.js [options] FIXTURE [STEP...]\n`);
	process.exit(2);
}

function parseArgs(argv) {
	const o = { env: {}, fullTrace: false, summary: false, together: false, split: 0, stall: 0,
		timeout: 30, steps: [] };
	let i = 0;
	for (; i < argv.length && argv[i].startsWith('--'); i++) {
		const a = argv[i];
		if (a === '--env') {
			const kv = argv[++i] || usage('--env needs K=V');
			const eq = kv.indexOf('=');
			if (eq < 1)
				usage(`--env ${kv}: not K=V`);
			o.env[kv.slice(0, eq)] = kv.slice(eq + 1);
		} else if (a === '--full-trace') {
			o.fullTrace = true;
		} else if (a === '--log-summary') {
			o.summary = true;
		} else if (a === '--together') {
			o.together = true;
		} else if (a === '--split') {
			o.split = Number(argv[++i]);
			if (!(o.split > 0))
				usage('--split needs a positive number');
		} else if (a === '--stall-logs') {
			o.stall = Number(argv[++i]);
		} else if (a === '--timeout') {
			o.timeout = Number(argv[++i]);
		} else {
			usage(`unknown option ${a}`);
		}
	}
	if (i >= argv.length)
		usage('no fixture');
	o.fixture = path.resolve(argv[i++]);
	o.steps = argv.slice(i).map(parseStep);
	return o;
}

function parseStep(s) {
	let m;
	if ((m = /^([HI]):(.*)$/s.exec(s)))
		return { kind: 'frame', type: m[1], body: Buffer.from(m[2], 'utf8') };
	if ((m = /^I@(.+):([\w-]+)$/s.exec(s))) {
		const event = require('fs').readFileSync(m[1]);
		return { kind: 'frame', type: 'I', body: Buffer.concat([
			Buffer.from(`{"id":"${m[2]}","timeout_ms":3000,"event":`), event, Buffer.from('}')]) };
	}
	if ((m = /^Ipad:(\d+):([\w-]+)$/.exec(s))) {
		const head = `{"id":"${m[2]}","timeout_ms":3000,"event":"`;
		const n = Number(m[1]) - head.length - 2;
		if (n < 0)
			usage(`${s}: too small`);
		return { kind: 'frame', type: 'I', body: Buffer.from(head + 'x'.repeat(n) + '"}', 'utf8') };
	}
	if ((m = /^sleep:(\d+)$/.exec(s)))
		return { kind: 'sleep', ms: Number(m[1]) };
	if ((m = /^raw:([\x21-\x7e]):(\d+)$/.exec(s)))
		return { kind: 'raw', type: m[1], len: Number(m[2]) };
	usage(`bad step ${s}`);
}

function encode(type, body) {
	const hdr = Buffer.alloc(5);
	hdr.write(type, 0, 'latin1');
	hdr.writeUInt32BE(body.length, 1);
	return Buffer.concat([hdr, body]);
}

function environment(o) {
	const name = path.basename(o.fixture);
	const env = {
		PATH: process.env.PATH || '/usr/bin:/bin',
		TZ: 'UTC',
		LANG: 'C.UTF-8',
		_HANDLER: 'index.handler',
		LAMBDA_TASK_ROOT: o.fixture,
		AWS_LAMBDA_FUNCTION_NAME: name,
		AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
		AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '128',
		AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${name}`,
		AWS_LAMBDA_LOG_STREAM_NAME: '2024/01/01/[$LATEST]00112233445566778899aabbccddeeff',
		AWS_REGION: 'us-east-1',
	};
	for (const [k, v] of Object.entries(o.env)) {
		if (v === '')
			delete env[k];
		else
			env[k] = v;
	}
	return env;
}

/* Frames from fd 4, decoded incrementally. */
function frameStream(stream, onFrame) {
	let chunks = [];
	let have = 0;
	let need = 5;
	stream.on('data', (chunk) => {
		chunks.push(chunk);
		have += chunk.length;
		while (have >= need) {
			let buf = Buffer.concat(chunks, have);
			const len = buf.readUInt32BE(1);
			need = 5 + len;
			if (have < need) {
				chunks = [buf];
				break;
			}
			onFrame(String.fromCharCode(buf[0]), buf.subarray(5, need));
			buf = buf.subarray(need);
			chunks = [buf];
			have = buf.length;
			need = 5;
		}
	});
}

function show(type, payload, o) {
	let text = payload.toString('utf8');
	if (payload.length > 4096)
		return `${type} (${payload.length} bytes)`;
	if ((type === 'E' || type === 'F') && !o.fullTrace) {
		try {
			const e = JSON.parse(text);
			if (Array.isArray(e.trace))
				e.trace = e.trace.slice(0, 1);
			text = JSON.stringify(e);
		} catch (_) {
			/* print as it came */
		}
	}
	return `${type} ${text}`;
}

const TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\t/;

function printLogs(prefix, data, o) {
	let text = data.toString('utf8');
	if (text === '')
		return;
	if (text.endsWith('\n'))
		text = text.slice(0, -1);
	const lines = text.split('\n');
	if (o.summary && prefix === 'out') {
		const record = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\t[^\t]+\t(TRACE|DEBUG|INFO|WARN|ERROR|FATAL)\t/;
		const bad = lines.filter((l) => !record.test(l)).length;
		process.stdout.write(`out: ${lines.length} lines, ${data.length} bytes, ${bad} malformed\n`);
		return;
	}
	for (const l of lines)
		process.stdout.write(`${prefix}: ${l.replace(TIME, 'TIME\t')}\n`);
}

function main() {
	const o = parseArgs(process.argv.slice(2));
	const child = spawn(process.execPath, [BOOTSTRAP], {
		cwd: o.fixture,
		env: environment(o),
		stdio: ['pipe', 'pipe', 'pipe', 'pipe', 'pipe'],
	});
	const toRuntime = child.stdio[3];
	const out = [];
	const err = [];
	let exited = null;
	let waiter = null;		/* resolves on the next frame or the exit */
	const frames = [];

	toRuntime.on('error', () => {});	/* EPIPE once it is gone */
	child.stdin.end();
	child.stdout.on('data', (d) => out.push(d));
	let stalled = false;
	let overtook = false;
	if (o.stall) {
		stalled = true;
		child.stdout.pause();
		setTimeout(() => {
			stalled = false;
			child.stdout.resume();
		}, o.stall);
	}
	child.stderr.on('data', (d) => err.push(d));
	frameStream(child.stdio[4], (type, payload) => {
		frames.push(type);
		if (stalled && ANSWERS.has(type))
			overtook = true;
		process.stdout.write(show(type, payload, o) + '\n');
		if (waiter)
			waiter();
	});
	const closed = Promise.all([child.stdout, child.stderr, child.stdio[4]].map(
		(s) => new Promise((r) => s.on('close', r))));
	const exit = new Promise((r) => child.on('exit', (code, sig) => {
		exited = sig ? `signal ${sig}` : `exit ${code}`;
		r();
		if (waiter)
			waiter();
	}));

	/* Wait until `count` frames of `kinds` have come (or the runtime is gone). */
	const waitFor = (kinds, count) => new Promise((resolve) => {
		const check = () => {
			if (exited || frames.filter((t) => kinds.has(t)).length >= count) {
				waiter = null;
				resolve();
			}
		};
		waiter = check;
		check();
	});
	const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
	const send = (buf) => new Promise((r) => {
		if (exited)
			return r();
		toRuntime.write(buf, () => r());
	});

	const timer = setTimeout(async () => {
		process.stdout.write('timeout\n');
		child.kill('SIGKILL');
	}, o.timeout * 1000);

	(async () => {
		await waitFor(new Set(['R', 'F']), 1);
		let answers = frames.filter((t) => ANSWERS.has(t)).length;
		if (o.together || o.split) {
			const wire = Buffer.concat(o.steps.filter((s) => s.kind === 'frame').map((s) => encode(s.type, s.body)));
			const step = o.split || wire.length;
			for (let off = 0; off < wire.length; off += step) {
				await send(wire.subarray(off, off + step));
				if (o.split)
					await sleep(2);
			}
			answers += o.steps.filter((s) => s.kind === 'frame' && s.type === 'I').length;
			await waitFor(ANSWERS, answers);
		} else {
			for (const s of o.steps) {
				if (exited)
					break;
				if (s.kind === 'sleep') {
					await sleep(s.ms);
				} else if (s.kind === 'raw') {
					const hdr = Buffer.alloc(5);
					hdr.write(s.type, 0, 'latin1');
					hdr.writeUInt32BE(s.len, 1);
					await send(hdr);
				} else {
					await send(encode(s.type, s.body));
					if (s.type === 'I')
						await waitFor(ANSWERS, ++answers);
				}
			}
		}
		toRuntime.end();
		await exit;
		await closed;
		clearTimeout(timer);
		if (o.stall)
			process.stdout.write(overtook ? 'stall: an answer overtook the logs\n' : 'stall: the answers waited for the logs\n');
		printLogs('out', Buffer.concat(out), o);
		printLogs('err', Buffer.concat(err), o);
		process.stdout.write(exited + '\n');
	})();
}

main();
