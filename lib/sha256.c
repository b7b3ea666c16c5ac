/* sha256.c - SHA-256 as FIPS 180-4 specifies it, and a file digest helper */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "sha256.h"
#include "util.h"

/* Section 4.2.2: fractional bits of the cube roots of the first 64 primes. */
static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
	0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
	0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
	0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
	0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
	0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
	0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
	0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t ror(uint32_t x, int n)
{
	return x >> n | x << (32 - n);
}

/* The functions of section 4.1.2, named as there. */
static uint32_t ch(uint32_t x, uint32_t y, uint32_t z)
{
	return (x & y) ^ (~x & z);
}

static uint32_t maj(uint32_t x, uint32_t y, uint32_t z)
{
	return (x & y) ^ (x & z) ^ (y & z);
}

static uint32_t big_sigma0(uint32_t x)
{
	return ror(x, 2) ^ ror(x, 13) ^ ror(x, 22);
}

static uint32_t big_sigma1(uint32_t x)
{
	return ror(x, 6) ^ ror(x, 11) ^ ror(x, 25);
}

static uint32_t small_sigma0(uint32_t x)
{
	return ror(x, 7) ^ ror(x, 18) ^ x >> 3;
}

static uint32_t small_sigma1(uint32_t x)
{
	return ror(x, 17) ^ ror(x, 19) ^ x >> 10;
}

static uint32_t load_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/* Section 6.2.2: one 512-bit block into the hash state. */
static void compress(uint32_t h[8], const unsigned char *blk)
{
	uint32_t w[64], v[8], t1, t2;
	int i;

	for (i = 0; i < 16; i++)
		w[i] = load_be32(blk + 4 * i);
	for (; i < 64; i++)
		w[i] = small_sigma1(w[i - 2]) + w[i - 7] +
		       small_sigma0(w[i - 15]) + w[i - 16];

	/* v[0..7] are a..h: round i finds a at v[-i & 7], b one after, ... */
	memcpy(v, h, sizeof(v));
	for (i = 0; i < 64; i++) {
		uint32_t *a = &v[-i & 7], *d = &v[(3 - i) & 7];
		uint32_t *e = &v[(4 - i) & 7], *hh = &v[(7 - i) & 7];

		t1 = *hh + big_sigma1(*e) +
		     ch(*e, v[(5 - i) & 7], v[(6 - i) & 7]) + K[i] + w[i];
		t2 = big_sigma0(*a) + maj(*a, v[(1 - i) & 7], v[(2 - i) & 7]);
		*d += t1;
		*hh = t1 + t2;	/* the new a, one slot before the old */
	}
	for (i = 0; i < 8; i++)
		h[i] += v[i];
}

void sha256_init(struct sha256 *s)
{
	/* Section 5.3.3: square roots of the first 8 primes. */
	static const uint32_t iv[8] = {
		0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
		0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
	};

	memcpy(s->h, iv, sizeof(iv));
	s->n = 0;
	s->used = 0;
}

void sha256_update(struct sha256 *s, const void *p, size_t n)
{
	const unsigned char *in = p;
	size_t k;

	s->n += n;
	while (n > 0) {
		if (s->used == 0 && n >= 64) {
			compress(s->h, in);
			in += 64;
			n -= 64;
			continue;
		}
		k = 64 - s->used < n ? 64 - s->used : n;
		memcpy(s->blk + s->used, in, k);
		s->used += k;
		in += k;
		n -= k;
		if (s->used == 64) {
			compress(s->h, s->blk);
			s->used = 0;
		}
	}
}

/* Section 5.1.1: a 1 bit, zeros, and the length in bits. */
void sha256_final(struct sha256 *s, unsigned char out[32])
{
	uint64_t bits = s->n * 8;
	int i;

	s->blk[s->used++] = 0x80;
	if (s->used > 56) {
		memset(s->blk + s->used, 0, 64 - s->used);
		compress(s->h, s->blk);
		s->used = 0;
	}
	memset(s->blk + s->used, 0, 56 - s->used);
	for (i = 0; i < 8; i++)
		s->blk[56 + i] = (unsigned char)(bits >> (56 - 8 * i));
	compress(s->h, s->blk);
	for (i = 0; i < 8; i++) {
		out[4 * i] = (unsigned char)(s->h[i] >> 24);
		out[4 * i + 1] = (unsigned char)(s->h[i] >> 16);
		out[4 * i + 2] = (unsigned char)(s->h[i] >> 8);
		out[4 * i + 3] = (unsigned char)s->h[i];
	}
	memset(s, 0, sizeof(*s));
}

int sha256_file(const char *path, char out[65], struct fc_err *e)
{
	unsigned char buf[65536], sum[32];
	struct sha256 s;
	ssize_t r;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return fc_errnof(e, io_code(errno), "%s", path);
	sha256_init(&s);
	while ((r = read(fd, buf, sizeof(buf))) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			fc_errnof(e, io_code(errno), "%s", path);
			close(fd);
			return -1;
		}
		sha256_update(&s, buf, (size_t)r);
	}
	close(fd);
	sha256_final(&s, sum);
	hex(out, sum, sizeof(sum));
	return 0;
}
