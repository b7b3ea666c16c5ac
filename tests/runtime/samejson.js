'use strict';
// usage: node samejson.js DRIVER_OUTPUT EVENT_FILE
// Prints "same" when the driver's O frame parses equal to the event file.
const fs = require('fs');
const util = require('util');

const [outFile, eventFile] = process.argv.slice(2);
const line = fs.readFileSync(outFile, 'utf8').split('\n').find((l) => l.startsWith('O '));
if (!line) {
	console.log('no O frame');
	process.exit(1);
}
const same = util.isDeepStrictEqual(JSON.parse(line.slice(2)), JSON.parse(fs.readFileSync(eventFile, 'utf8')));
console.log(same ? 'same' : 'different');
process.exit(same ? 0 : 1);
