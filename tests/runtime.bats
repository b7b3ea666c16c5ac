#!/usr/bin/env bats
# runtime/bootstrap.js, driven on the host by tests/runtime/driver.js, which
# plays the agent: fd 3 and 4 as pipes, fixtures under tests/runtime/fixtures.
# Driver output: the frames that came back ("TYPE PAYLOAD", traces cut to
# their first line), then the logs ("out: ..." with TIME for the timestamp,
# "err: ..."), then "exit N".

T=$'\t'
R='R {"protocol":1,"runtime":"nodejs","version":"'"$(node -p process.version)"'"}'

setup() {
	F="$BATS_TEST_DIRNAME/runtime/fixtures"
}

drv() {
	node "$BATS_TEST_DIRNAME/runtime/driver.js" "$@"
}

# The output must be exactly these lines.
expect() {
	diff -u <(printf '%s\n' "$@") <(printf '%s\n' "$output")
}

inv() {	# inv ID EVENT_JSON: an I step
	printf 'I:{"id":"%s","timeout_ms":3000,"event":%s}' "$1" "$2"
}

hello() {	# hello ENTROPY_CHAR SEED: an H step
	printf 'H:{"time_ns":1700000000000000000,"entropy":"%s","seed":"%s"}' "$(printf "$1%.0s" {1..64})" "$2"
}

# ---- handler styles and results ----

@test "async handler: two invocations on one runtime" {
	run drv "$F/basic" "$(inv r1 '{"name":"ann"}')" "$(inv r2 '{"name":"bob"}')"
	expect "$R" 'O {"hello":"ann"}' 'O {"hello":"bob"}' 'exit 0'
}

@test "non-async handler returning a promise" {
	run drv --env _HANDLER=index.promise "$F/basic" "$(inv r1 '{"n":7}')"
	expect "$R" 'O {"via":"promise","n":7}' 'exit 0'
}

@test "callback handler" {
	run drv --env _HANDLER=index.callback "$F/basic" "$(inv r1 '{"n":8}')"
	expect "$R" 'O {"via":"callback","n":8}' 'exit 0'
}

@test "undefined result is null" {
	run drv --env _HANDLER=index.undef "$F/basic" "$(inv r1 '{}')"
	expect "$R" 'O null' 'exit 0'
}

@test "context fields" {
	deadline=$(( $(date +%s%N) + 3000000000 ))
	run drv --env _HANDLER=index.context "$F/basic" \
		"I:{\"id\":\"req-1\",\"timeout_ms\":3000,\"deadline_ns\":$deadline,\"event\":{\"min\":1000,\"max\":3000}}"
	expect "$R" \
		'O {"awsRequestId":"req-1","functionName":"basic","functionVersion":"$LATEST","memoryLimitInMB":"128","invokedFunctionArn":"arn:aws:lambda:us-east-1:000000000000:function:basic","logGroupName":"/aws/lambda/basic","logStreamName":"2024/01/01/[$LATEST]00112233445566778899aabbccddeeff","callbackWaitsForEmptyEventLoop":true,"remainingOk":true,"methods":["function","function","function","function"],"keys":["callbackWaitsForEmptyEventLoop","succeed","fail","done","functionVersion","functionName","memoryLimitInMB","logGroupName","logStreamName","clientContext","identity","invokedFunctionArn","awsRequestId","getRemainingTimeInMillis"]}' \
		'exit 0'
}

@test "context defaults: remaining time from timeout_ms, made-up log stream" {
	run drv --env _HANDLER=index.context --env AWS_LAMBDA_LOG_STREAM_NAME= --env AWS_REGION= \
		--env AWS_LAMBDA_LOG_GROUP_NAME= "$F/basic" "$(inv r1 '{"min":1000,"max":3000}')"
	[ "$status" -eq 0 ]
	[[ "${lines[1]}" == *'"invokedFunctionArn":"arn:aws:lambda:us-east-1:000000000000:function:basic","logGroupName":"/aws/lambda/basic","logStreamName":"'[0-9][0-9][0-9][0-9]/[0-9][0-9]/[0-9][0-9]/'[$LATEST]'* ]]
	[[ "${lines[1]}" == *'"remainingOk":true'* ]]
}

@test "result with a cycle or a BigInt: Runtime.JSONStringifyError, runtime still usable" {
	run drv --env _HANDLER=index.result "$F/basic" \
		"$(inv r1 '{"kind":"cycle"}')" "$(inv r2 '{"kind":"bigint"}')" "$(inv r3 '{"kind":"fine"}')"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "$R" ]
	[ "${lines[1]}" = 'E {"errorType":"Runtime.JSONStringifyError","errorMessage":"Unable to stringify response body","trace":["Runtime.JSONStringifyError: Unable to stringify response body"]}' ]
	[ "${lines[2]}" = "${lines[1]}" ]
	[ "${lines[3]}" = 'O {"ok":"fine"}' ]
	[[ "${lines[4]}" == "out: TIME${T}r1${T}ERROR${T}Invoke Error ${T}"'{"errorType":"Runtime.JSONStringifyError","errorMessage":"Unable to stringify response body","cause":{"errorType":"TypeError","errorMessage":"Converting circular structure to JSON'* ]]
	[[ "${lines[5]}" == "out: TIME${T}r2${T}ERROR${T}Invoke Error ${T}"*'"cause":{"errorType":"TypeError","errorMessage":"Do not know how to serialize a BigInt"'* ]]
	[ "${lines[6]}" = 'exit 0' ]
}

@test "callback with a cycle: the same error" {
	run drv --env _HANDLER=index.resultCallback "$F/basic" "$(inv r1 '{}')" "$(inv r2 '{}')"
	[ "${lines[1]}" = 'E {"errorType":"Runtime.JSONStringifyError","errorMessage":"Unable to stringify response body","trace":["Runtime.JSONStringifyError: Unable to stringify response body"]}' ]
	[ "${lines[2]}" = "${lines[1]}" ]
	[ "${lines[-1]}" = 'exit 0' ]
}

@test "a function as result is null, as JSON.stringify makes it undefined" {
	run drv --env _HANDLER=index.result "$F/basic" "$(inv r1 '{"kind":"function"}')"
	expect "$R" 'O null' 'exit 0'
}

@test "events pass through unchanged (shared corpus)" {
	events="$BATS_TEST_DIRNAME/../../shared/corpus/events"
	[ -d "$events" ] || skip "no ../shared/corpus/events beside the clone"
	for f in "$events"/*.json; do
		drv --env _HANDLER=index.echo "$F/basic" "I@$f:e1" > "$BATS_TEST_TMPDIR/out"
		node "$BATS_TEST_DIRNAME/runtime/samejson.js" "$BATS_TEST_TMPDIR/out" "$f"
	done
}

# ---- errors ----

throws() {	# throws HANDLER: run every kind through it
	local steps=()
	for k in string number object array null undefined bigint symbol bare type custom subclass errorlike; do
		steps+=("$(inv "$k" "{\"kind\":\"$k\"}")")
	done
	run drv --env "_HANDLER=index.$1" "$F/throws" "${steps[@]}"
	output=$(grep -v '^out: ' <<< "$output")
}

HANDLED_MSG='callback called with Error argument, but there was a problem while retrieving one or more of its message, name, and stack'
ERR_TAIL=(
	'E {"errorType":"bigint","errorMessage":"7","trace":[]}'
	'E {"errorType":"symbol","errorMessage":"Symbol(s)","trace":[]}'
	'E {"errorType":"handled","errorMessage":"'"$HANDLED_MSG"'","trace":[]}'
	'E {"errorType":"TypeError","errorMessage":"bad type","trace":["TypeError: bad type"]}'
	'E {"errorType":"ValidationError","errorMessage":"field x","trace":["ValidationError: field x"]}'
	'E {"errorType":"Error","errorMessage":"plain subclass","trace":["Error: plain subclass"]}'
	'E {"errorType":"Fake","errorMessage":"not an Error","trace":["Fake: not an Error"]}'
	'exit 0'
)

@test "async handler throwing: Error shapes and Lambda's shapes for non-Errors" {
	throws handler
	expect "$R" \
		'E {"errorType":"string","errorMessage":"boom","trace":[]}' \
		'E {"errorType":"number","errorMessage":"42","trace":[]}' \
		'E {"errorType":"object","errorMessage":"[object Object]","trace":[]}' \
		'E {"errorType":"object","errorMessage":"1,2","trace":[]}' \
		'E {"errorType":"string","errorMessage":"handled","trace":[]}' \
		'E {"errorType":"string","errorMessage":"handled","trace":[]}' \
		"${ERR_TAIL[@]}"
}

@test "context.fail: the same shapes, fail() alone is string/handled" {
	throws fail
	expect "$R" \
		'E {"errorType":"string","errorMessage":"boom","trace":[]}' \
		'E {"errorType":"number","errorMessage":"42","trace":[]}' \
		'E {"errorType":"object","errorMessage":"[object Object]","trace":[]}' \
		'E {"errorType":"object","errorMessage":"1,2","trace":[]}' \
		'E {"errorType":"string","errorMessage":"handled","trace":[]}' \
		'E {"errorType":"string","errorMessage":"handled","trace":[]}' \
		"${ERR_TAIL[@]}"
	run drv --env _HANDLER=index.fail "$F/throws" "$(inv r1 '{"kind":"none"}')"
	[ "${lines[1]}" = 'E {"errorType":"string","errorMessage":"handled","trace":[]}' ]
}

@test "sync throw and callback(err): null and undefined mean no error, as in Lambda" {
	for h in sync callback; do
		throws "$h"
		expect "$R" \
			'E {"errorType":"string","errorMessage":"boom","trace":[]}' \
			'E {"errorType":"number","errorMessage":"42","trace":[]}' \
			'E {"errorType":"object","errorMessage":"[object Object]","trace":[]}' \
			'E {"errorType":"object","errorMessage":"1,2","trace":[]}' \
			'O null' \
			'O null' \
			"${ERR_TAIL[@]}"
	done
}

@test "an error is logged as Invoke Error with its stack" {
	run drv --full-trace "$F/throws" "$(inv r1 '{"kind":"type"}')"
	[[ "${lines[1]}" == 'E {"errorType":"TypeError","errorMessage":"bad type","trace":["TypeError: bad type","    at value ('*'/fixtures/throws/index.js:'* ]]
	[[ "${lines[2]}" == "out: TIME${T}r1${T}ERROR${T}Invoke Error ${T}"'{"errorType":"TypeError","errorMessage":"bad type","stack":["TypeError: bad type","    at value ('* ]]
	[ "${lines[3]}" = 'exit 0' ]
}

# ---- loading the handler ----

@test "handler not found" {
	run drv "$F/notfound" "$(inv r1 '{}')"
	[ "${lines[0]}" = 'F {"errorType":"Runtime.HandlerNotFound","errorMessage":"index.handler is undefined or not exported","trace":["Runtime.HandlerNotFound: index.handler is undefined or not exported"]}' ]
	[[ "${lines[1]}" == "out: TIME${T}undefined${T}ERROR${T}Uncaught Exception ${T}"'{"errorType":"Runtime.HandlerNotFound",'* ]]
	[ "${lines[2]}" = 'exit 129' ]
}

@test "handler that is not a function; nested export path" {
	run drv --env _HANDLER=index.notAFunction "$F/notfound"
	[ "${lines[0]}" = 'F {"errorType":"Runtime.HandlerNotFound","errorMessage":"index.notAFunction is not a function","trace":["Runtime.HandlerNotFound: index.notAFunction is not a function"]}' ]
	run drv --env _HANDLER=index.nested.deep.handler "$F/notfound" "$(inv r1 '{}')"
	expect "$R" 'O "nested handler"' 'exit 0'
}

@test "module missing: Runtime.ImportModuleError" {
	run drv --full-trace --env _HANDLER=nothere.handler "$F/notfound" "$(inv r1 '{}')"
	boot=$(cd "$BATS_TEST_DIRNAME/.." && pwd)/runtime/bootstrap.js
	[[ "${lines[0]}" == 'F {"errorType":"Runtime.ImportModuleError","errorMessage":"Error: Cannot find module '"'nothere'"'\nRequire stack:\n- '"$boot"'","trace":["Runtime.ImportModuleError: Error: Cannot find module '"'nothere'"'","Require stack:","- '"$boot"'",'* ]]
	[ "${lines[-1]}" = 'exit 129' ]
}

@test "syntax error: Runtime.UserCodeSyntaxError, trace shows where" {
	run drv --full-trace "$F/syntax" "$(inv r1 '{}')"
	[[ "${lines[0]}" == 'F {"errorType":"Runtime.UserCodeSyntaxError","errorMessage":"SyntaxError: Unexpected token '"';'"'","trace":["Runtime.UserCodeSyntaxError: SyntaxError: Unexpected token '"';'"'","'*'/fixtures/syntax/index.js:3",'* ]]
	[ "${lines[-1]}" = 'exit 129' ]
}

@test "module init throwing: the error's own name; logs before it kept" {
	run drv "$F/initthrow" "$(inv r1 '{}')"
	[ "${lines[0]}" = 'F {"errorType":"TypeError","errorMessage":"config is missing","trace":["TypeError: config is missing"]}' ]
	[ "${lines[1]}" = "out: TIME${T}undefined${T}INFO${T}initialising" ]
	[[ "${lines[2]}" == "out: TIME${T}undefined${T}ERROR${T}Uncaught Exception ${T}"'{"errorType":"TypeError","errorMessage":"config is missing","stack":['* ]]
	[ "${lines[3]}" = 'exit 129' ]
}

@test "unhandled rejection during init: F and exit 128" {
	run drv "$F/initreject" "$(inv r1 '{}')"
	[ "${lines[0]}" = 'F {"errorType":"Runtime.UnhandledPromiseRejection","errorMessage":"Error: init went wrong","trace":["Runtime.UnhandledPromiseRejection: Error: init went wrong"]}' ]
	[ "${lines[-1]}" = 'exit 128' ]
}

@test "malformed handler names" {
	run drv --env _HANDLER=index "$F/notfound"
	[ "${lines[0]}" = 'F {"errorType":"Runtime.MalformedHandlerName","errorMessage":"Bad handler","trace":["Runtime.MalformedHandlerName: Bad handler"]}' ]
	run drv --env _HANDLER=../up.handler "$F/notfound"
	[ "${lines[0]}" = 'F {"errorType":"Runtime.MalformedHandlerName","errorMessage":"'"'../up.handler'"' is not a valid handler name. Use absolute paths when specifying root directories in handler names.","trace":["Runtime.MalformedHandlerName: '"'../up.handler'"' is not a valid handler name. Use absolute paths when specifying root directories in handler names."]}' ]
	run drv --env _HANDLER= "$F/notfound"
	[ "${lines[0]}" = 'F {"errorType":"Runtime.MalformedHandlerName","errorMessage":"_HANDLER is not set","trace":["Runtime.MalformedHandlerName: _HANDLER is not set"]}' ]
	[ "${lines[-1]}" = 'exit 129' ]
}

@test "src/app.handler in a subfolder" {
	run drv --env _HANDLER=src/app.handler "$F/sub" "$(inv r1 '{"name":"sub"}')"
	expect "$R" 'O {"message":"hello, sub","dir":true}' 'exit 0'
}

@test "ES module handler (.mjs, top-level await, relative import)" {
	run drv "$F/esm" "$(inv r1 '{"word":"hey"}')"
	expect "$R" 'O {"esm":"HEY!","started":"top-level await works","sha":"2d711642","hasRequire":false}' 'exit 0'
}

@test "ES module handler as .js under package.json type module" {
	run drv "$F/esmpkg" "$(inv r1 '{}')"
	expect "$R" 'O {"type":"module","meta":"string"}' 'exit 0'
}

@test "ES module with a missing package: plain Error, as in Lambda" {
	run drv "$F/esmmissing" "$(inv r1 '{}')"
	[[ "${lines[0]}" == 'F {"errorType":"Error","errorMessage":"Cannot find package '"'no-such-package'"' imported from '*'/esmmissing/index.mjs","trace":["Error [ERR_MODULE_NOT_FOUND]: '* ]]
	[ "${lines[-1]}" = 'exit 129' ]
}

@test "CommonJS handler as .cjs" {
	run drv "$F/cjs" "$(inv r1 '{}')"
	expect "$R" 'O {"loaded":"cjs"}' 'exit 0'
}

@test "express-style app through a serverless adapter with a nested node_modules package" {
	run drv "$F/express" \
		"$(inv a '{"httpMethod":"GET","path":"/hello/world","queryStringParameters":{"b":"2","a":"x y"},"headers":{}}')" \
		"$(inv b '{"httpMethod":"POST","path":"/echo","headers":{"Content-Type":"application/json"},"body":"{\"k\":1}"}')" \
		"$(inv c '{"httpMethod":"GET","path":"/nope"}')" \
		"$(inv d '{"httpMethod":"GET","path":"/boom"}')"
	expect "$R" \
		'O {"statusCode":200,"headers":{"x-powered-by":"mini-express","content-type":"application/json"},"body":"{\"hello\":\"world\",\"query\":{\"a\":\"x y\",\"b\":\"2\"}}","isBase64Encoded":false}' \
		'O {"statusCode":201,"headers":{"x-powered-by":"mini-express","content-type":"application/json"},"body":"{\"got\":{\"k\":1},\"type\":\"application/json\"}","isBase64Encoded":false}' \
		'O {"statusCode":404,"headers":{"x-powered-by":"mini-express","content-type":"application/json"},"body":"{\"error\":\"Cannot GET /nope\"}","isBase64Encoded":false}' \
		'O {"statusCode":500,"headers":{"x-powered-by":"mini-express","content-type":"application/json"},"body":"{\"error\":\"route failed\"}","isBase64Encoded":false}' \
		'exit 0'
}

# ---- size limits ----

@test "result of exactly 6291556 bytes passes, one more is Function.ResponseSizeTooLarge" {
	run drv --env _HANDLER=index.big "$F/basic" \
		"$(inv a '{"size":6291556}')" "$(inv b '{"size":6291557}')" "$(inv c '{"size":7}')"
	expect "$R" \
		'O (6291556 bytes)' \
		'E {"errorType":"Function.ResponseSizeTooLarge","errorMessage":"Response payload size (6291557 bytes) exceeded maximum allowed payload size (6291556 bytes).","trace":[]}' \
		'O "xxxxx"' \
		'exit 0'
}

@test "an error too large to send is Function.ResponseSizeTooLarge too" {
	run drv --env _HANDLER=index.bigError "$F/basic" "$(inv a '{"size":7000000}')"
	# The size counts the stack trace too, whose line numbers vary.
	[[ "${lines[1]}" =~ ^'E {"errorType":"Function.ResponseSizeTooLarge","errorMessage":"Response payload size (140003'[0-9][0-9]' bytes) exceeded maximum allowed payload size (6291556 bytes).","trace":[]}'$ ]]
	[ "${lines[-1]}" = 'exit 0' ]
}

# ---- logs ----

@test "log format: levels, util.format, request id, undefined during init" {
	run drv "$F/logs" "$(inv r1 '{}')"
	expect "$R" 'O "logged"' \
		"out: TIME${T}undefined${T}INFO${T}init log" \
		"out: TIME${T}r1${T}INFO${T}hello world { a: 1 }" \
		"out: TIME${T}r1${T}INFO${T}info 2" \
		"out: TIME${T}r1${T}WARN${T}warn" \
		"out: TIME${T}r1${T}ERROR${T}error logged, not thrown" \
		"out: TIME${T}r1${T}DEBUG${T}debug" \
		"out: TIME${T}r1${T}TRACE${T}trace" \
		"out: TIME${T}r1${T}FATAL${T}fatal" \
		"out: TIME${T}r1${T}INFO${T}undefined" \
		"out: TIME${T}r1${T}INFO${T}two" \
		"out: lines" \
		'exit 0'
}

@test "log timestamps are ISO 8601 UTC with milliseconds" {
	# Without the driver, which masks them.
	out=$(cd "$F/logs" && LAMBDA_TASK_ROOT=. _HANDLER=index.handler node -e '
		const c = require("child_process").spawn(process.execPath, [process.argv[1]],
			{ stdio: ["ignore", "pipe", "inherit", "pipe", "pipe"] });
		c.stdout.on("data", (d) => process.stdout.write(d));
		c.stdio[4].on("data", () => c.stdio[3].end());' "$BATS_TEST_DIRNAME/../runtime/bootstrap.js")
	[[ "$out" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z${T}undefined${T}INFO${T}init\ log$ ]]
}

@test "AWS_LAMBDA_LOG_LEVEL drops the levels below it" {
	run drv --env AWS_LAMBDA_LOG_LEVEL=warn "$F/logs" "$(inv r1 '{}')"
	expect "$R" 'O "logged"' \
		"out: TIME${T}r1${T}WARN${T}warn" \
		"out: TIME${T}r1${T}ERROR${T}error logged, not thrown" \
		"out: TIME${T}r1${T}FATAL${T}fatal" \
		'exit 0'
}

@test "50 MB of console.log: nothing lost or torn, and the answer waits for the logs" {
	run drv --log-summary --stall-logs 1000 --env _HANDLER=index.biglog "$F/basic" \
		"$(inv a '{}')" "$(inv b '{"raw":true}')"
	expect "$R" 'O {"logged":2000}' 'O {"logged":2000}' \
		'stall: the answers waited for the logs' \
		'out: 4001 lines, 100132010 bytes, 1 malformed' \
		'exit 0'
}

# ---- callbackWaitsForEmptyEventLoop and other endings ----

@test "callbackWaitsForEmptyEventLoop: true waits for timers, false answers at once" {
	run drv --env _HANDLER=index.waits "$F/loop" "$(inv a '{}')" "$(inv b '{"nowait":true}')" sleep:1000
	expect "$R" 'O {"timerRan":true}' 'O {"timerRan":false}' \
		"out: TIME${T}a${T}INFO${T}timer ran" \
		"out: TIME${T}b${T}INFO${T}timer ran" \
		'exit 0'
}

@test "empty event loop without an answer: null for a plain handler, Runtime.NodeJsExit for async" {
	for h in syncForever syncReturn; do
		run drv --env "_HANDLER=index.$h" "$F/loop" "$(inv a '{}')" "$(inv b '{}')"
		expect "$R" 'O null' 'O null' 'exit 0'
	done
	run drv --env _HANDLER=index.asyncForever "$F/loop" "$(inv a '{}')" "$(inv b '{}')"
	E='E {"errorType":"Runtime.NodeJsExit","errorMessage":"The Lambda runtime client detected an unexpected Node.js exit code. This is most commonly caused by a Promise that was never settled. For more information, see https://nodejs.org/docs/latest/api/process.html#exit-codes","trace":["Runtime.NodeJsExit: The Lambda runtime client detected an unexpected Node.js exit code. This is most commonly caused by a Promise that was never settled. For more information, see https://nodejs.org/docs/latest/api/process.html#exit-codes"]}'
	[ "${lines[1]}" = "$E" ]
	[ "${lines[2]}" = "$E" ]
	[ "${lines[-1]}" = 'exit 0' ]
}

@test "the first of callback and promise wins" {
	run drv --env _HANDLER=index.callbackThenPromise "$F/loop" "$(inv a '{}')"
	expect "$R" 'O "from callback"' 'exit 0'
	run drv --env _HANDLER=index.promiseThenCallback "$F/loop" "$(inv a '{}')"
	expect "$R" 'O "from promise"' 'exit 0'
	run drv --env _HANDLER=index.asyncWithCallback "$F/loop" "$(inv a '{}')"
	expect "$R" 'O "from callback"' 'exit 0'
}

@test "callback(err) answers without waiting for the event loop" {
	run drv --env _HANDLER=index.callbackError "$F/loop" "$(inv a '{}')"
	[ "${lines[1]}" = 'E {"errorType":"Error","errorMessage":"no wait for errors","trace":["Error: no wait for errors"]}' ]
}

@test "legacy context.succeed, context.done" {
	run drv --env _HANDLER=index.succeed "$F/loop" "$(inv a '{}')"
	expect "$R" 'O {"via":"succeed"}' 'exit 0'
	run drv --env _HANDLER=index.done "$F/loop" "$(inv a '{}')"
	expect "$R" 'O {"via":"done"}' 'exit 0'
	run drv --env _HANDLER=index.doneError "$F/loop" "$(inv a '{}')"
	[ "${lines[1]}" = 'E {"errorType":"RangeError","errorMessage":"via done","trace":["RangeError: via done"]}' ]
}

# ---- crashes ----

@test "uncaught exception during an invocation: E with its name, then exit 129" {
	run drv "$F/crash" "$(inv a '{"kind":"exception"}')" "$(inv b '{}')"
	[ "${lines[1]}" = 'E {"errorType":"RangeError","errorMessage":"late throw","trace":["RangeError: late throw"]}' ]
	[[ "${lines[2]}" == "out: TIME${T}a${T}ERROR${T}Uncaught Exception ${T}"'{"errorType":"RangeError","errorMessage":"late throw","stack":['* ]]
	[ "${lines[3]}" = 'exit 129' ]
}

@test "unhandled rejection during an invocation: Runtime.UnhandledPromiseRejection, exit 128" {
	run drv "$F/crash" "$(inv a '{"kind":"rejection"}')" "$(inv b '{}')"
	[ "${lines[1]}" = 'E {"errorType":"Runtime.UnhandledPromiseRejection","errorMessage":"Error: nobody caught me","trace":["Runtime.UnhandledPromiseRejection: Error: nobody caught me"]}' ]
	[[ "${lines[2]}" == "out: TIME${T}a${T}ERROR${T}Unhandled Promise Rejection ${T}"'{"errorType":"Runtime.UnhandledPromiseRejection","errorMessage":"Error: nobody caught me","reason":{"errorType":"Error","errorMessage":"nobody caught me",'*'"promise":{}'* ]]
	[ "${lines[3]}" = 'exit 128' ]
}

@test "uncaught exception or rejection after the answer: no frame, exit while idle" {
	run drv "$F/crash" "$(inv a '{"kind":"after"}')" sleep:1000 "$(inv b '{}')"
	[ "${lines[1]}" = 'O "answered"' ]
	[[ "${lines[2]}" == "out: TIME${T}a${T}ERROR${T}Uncaught Exception ${T}"'{"errorType":"Error","errorMessage":"after the answer",'* ]]
	[ "${lines[3]}" = 'exit 129' ]
	run drv "$F/crash" "$(inv a '{"kind":"after-rejection"}')" sleep:1000 "$(inv b '{}')"
	[ "${lines[1]}" = 'O "answered"' ]
	[ "${lines[3]}" = 'exit 128' ]
}

@test "process.exit(3) in the handler: the runtime just exits" {
	run drv "$F/crash" "$(inv a '{"kind":"exit"}')" "$(inv b '{}')"
	expect "$R" 'exit 3'
}

# ---- frames ----

@test "several frames in one write, and frames split into 3-byte writes" {
	for mode in --together "--split 3"; do
		run drv $mode "$F/basic" "$(hello c 0000000000000000)" "$(inv a '{"name":"1"}')" \
			"$(inv b '{"name":"2"}')" "$(hello d 0000000000000001)" "$(inv c '{"name":"3"}')"
		expect "$R" 'O {"hello":"1"}' 'O {"hello":"2"}' 'O {"hello":"3"}' 'exit 0'
	done
}

@test "an I frame of exactly 8 MiB is taken" {
	run drv --env _HANDLER=index.length "$F/basic" Ipad:8388608:max
	expect "$R" 'O 8388567' 'exit 0'
}

@test "a frame over 8 MiB or of a bad type: message on stderr, exit 1" {
	run drv "$F/basic" raw:I:8388609
	expect "$R" "err: bootstrap: fd 3: 'I' frame of 8388609 bytes is over the 8388608-byte limit" 'exit 1'
	run drv "$F/basic" raw:1:3
	expect "$R" 'err: bootstrap: fd 3: frame type 0x31 is not a letter' 'exit 1'
}

@test "an I frame that is not JSON with an id: E, and the runtime goes on" {
	run drv "$F/basic" 'I:not json' 'I:{"event":{}}' "$(inv ok '{"name":"z"}')"
	expect "$R" \
		'E {"errorType":"Runtime.InvalidInvoke","errorMessage":"the invoke frame is not {\"id\":...,\"event\":...}: Unexpected token '"'o'"', \"not json\" is not valid JSON","trace":[]}' \
		'E {"errorType":"Runtime.InvalidInvoke","errorMessage":"the invoke frame is not {\"id\":...,\"event\":...}: no \"id\" string","trace":[]}' \
		'O {"hello":"z"}' \
		'exit 0'
}

@test "run without fd 3 and 4: a message, exit 1" {
	run node "$BATS_TEST_DIRNAME/../runtime/bootstrap.js" 3<&- 4>&-
	[ "$status" -eq 1 ]
	[ "$output" = 'bootstrap: fd 3 is not a pipe: the fc agent runs this with fd 3 and 4 as its frame pipes' ]
	run node "$BATS_TEST_DIRNAME/../runtime/bootstrap.js" 3</dev/null 4>/dev/null
	[ "$status" -eq 1 ]
}

# ---- randomness ----

@test "Math.random and crypto differ between runtimes given different H frames" {
	a1=$(drv "$F/random" "$(hello a 0123456789abcdef)" "$(inv r '{}')" | grep '^O ')
	a2=$(drv "$F/random" "$(hello a 0123456789abcdef)" "$(inv r '{}')" | grep '^O ')
	b=$(drv "$F/random" "$(hello b 0123456789abcdef)" "$(inv r '{}')" | grep '^O ')
	s=$(drv "$F/random" "$(hello a 0123456789abcdee)" "$(inv r '{}')" | grep '^O ')
	node -e '
		const [a1, a2, b, s] = process.argv.slice(1).map((l) => JSON.parse(l.slice(2)));
		const same = (x, y) => JSON.stringify(x) === JSON.stringify(y);
		const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
		const check = (ok, what) => { if (!ok) { console.error("failed:", what); process.exit(1); } };
		check(same(a1.math, a2.math), "same H, same Math.random");
		check(!same(a1.math, b.math) && !same(a1.math, s.math), "other entropy or seed, other Math.random");
		for (const k of ["uuid", "webUuid", "bytes", "fill", "getRandomValues", "int"])
			check(new Set([a1[k], a2[k], b[k], s[k]]).size === 4, k + " differs everywhere");
		check([a1, b].every((r) => uuid.test(r.uuid) && uuid.test(r.webUuid)), "v4 UUIDs");
		check(a1.math.every((x) => x >= 0 && x < 1), "range");
	' "$a1" "$a2" "$b" "$s"
}

@test "frame decoder and crypto mixing (unit)" {
	run node "$BATS_TEST_DIRNAME/runtime/unit.js"
	[ "$status" -eq 0 ]
	[ "${lines[-1]}" = '1..12' ]
	[[ "$output" != *'not ok'* ]]
}

@test "integers beyond 2^53 pass through an echo handler digit for digit" {
	# Node 20's V8 shows JSON.parse the numbers' text; older Node rounds.
	node -e 'require("v8").setFlagsFromString("--harmony-json-parse-with-source");
		JSON.parse("1", (k, v, c) => process.exit(c && c.source === "1" ? 0 : 1))' ||
		skip "this Node.js ($(node --version)) cannot keep big integers' digits"
	ev='{"big":12345678901234567890123,"neg":-98765432109876543210,"safe":9007199254740991,"f":1.5,"s":"12345678901234567890","a":[18446744073709551615]}'
	run drv --env _HANDLER=index.echo "$F/basic" "$(inv a "$ev")"
	[ "${lines[1]}" = "O $ev" ]
}

@test "process.stdout.write output is all out before the answer" {
	run drv --log-summary --stall-logs 1000 --env _HANDLER=index.rawWrite "$F/basic" \
		"$(inv a '{"kb":5120}')"
	expect "$R" 'O {"wrote":5120}' \
		'stall: the answers waited for the logs' \
		'out: 5120 lines, 5242880 bytes, 5120 malformed' \
		'exit 0'
}
