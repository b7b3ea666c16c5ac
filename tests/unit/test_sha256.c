/* test_sha256.c - SHA-256 against the FIPS 180-4 examples (lib/sha256.c) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "sha256.h"
#include "tap.h"
#include "util.h"

static void digest(const void *p, size_t n, char out[65])
{
	unsigned char sum[32];
	struct sha256 s;

	sha256_init(&s);
	sha256_update(&s, p, n);
	sha256_final(&s, sum);
	hex(out, sum, sizeof(sum));
}

static void test_vectors(void)
{
	static const char *const v[][2] = {
		{ "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
		{ "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
		{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
		{ "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
		  "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
		  "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1" },
	};
	char out[65];
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(*v); i++) {
		digest(v[i][0], strlen(v[i][0]), out);
		is_str(out, v[i][1], "digest of a %zu-byte message",
		       strlen(v[i][0]));
	}
}

static void test_million(void)
{
	char *a = malloc(1000000), out[65];
	unsigned char sum[32];
	struct sha256 s;
	size_t i;

	memset(a, 'a', 1000000);
	digest(a, 1000000, out);
	is_str(out, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
	       "a million 'a' in one update");

	sha256_init(&s);
	for (i = 0; i < 1000000; i += 997)
		sha256_update(&s, a + i, i + 997 > 1000000 ? 1000000 - i : 997);
	sha256_final(&s, sum);
	hex(out, sum, sizeof(sum));
	is_str(out, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
	       "a million 'a' in odd-sized pieces");
	free(a);
}

/* Lengths around the padding boundary (references from another SHA-256). */
static void test_padding(void)
{
	static const struct {
		size_t n;
		const char *hex;
	} v[] = {
		{ 55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318" },
		{ 56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a" },
		{ 63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34" },
		{ 64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb" },
		{ 65, "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0" },
		{ 119, "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb" },
		{ 120, "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c" },
	};
	char a[128], out[65];
	size_t i;

	memset(a, 'a', sizeof(a));
	for (i = 0; i < sizeof(v) / sizeof(*v); i++) {
		digest(a, v[i].n, out);
		is_str(out, v[i].hex, "%zu 'a's", v[i].n);
	}
}

/* Feeding byte by byte must match one update, for every length to 200. */
static void test_incremental(void)
{
	unsigned char msg[200], one[32], many[32];
	struct sha256 s;
	size_t n, i;
	int same = 1;

	for (i = 0; i < sizeof(msg); i++)
		msg[i] = (unsigned char)(i * 7 + 3);
	for (n = 0; n <= sizeof(msg); n++) {
		sha256_init(&s);
		sha256_update(&s, msg, n);
		sha256_final(&s, one);
		sha256_init(&s);
		for (i = 0; i < n; i++)
			sha256_update(&s, msg + i, 1);
		sha256_final(&s, many);
		same &= memcmp(one, many, 32) == 0;
	}
	ok(same, "byte-at-a-time equals one update for lengths 0..200");
}

static void test_file(void)
{
	char path[] = "/tmp/fc-sha-XXXXXX", out[65];
	struct fc_err e = { 0 };
	int fd = mkstemp(path);

	ok(fd >= 0 && write(fd, "abc", 3) == 3, "made a file");
	close(fd);
	is_int(sha256_file(path, out, &e), 0, "sha256_file reads it");
	is_str(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
	       "sha256_file digest");
	unlink(path);
	is_int(sha256_file(path, out, &e), -1, "missing file fails");
	is_int(e.code, FC_EINPUT, "missing file is bad input");
	ok(strstr(e.msg, path) && strstr(e.msg, "No such file"),
	   "message names the file: %s", e.msg);
}

int main(void)
{
	test_vectors();
	test_million();
	test_padding();
	test_incremental();
	test_file();
	return done_testing();
}
