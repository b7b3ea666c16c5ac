/* sha256.h - SHA-256 for manifest checksums (OpenSSL's libcrypto) */
#ifndef FC_SHA256_H
#define FC_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct sha256 {
	void *ctx;		/* libcrypto's EVP_MD_CTX */
};

/* init, update any number of times, final (which wipes s; init to reuse). */
void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *p, size_t n);
/* -1 (and out zeroed) if libcrypto failed, e.g. out of memory. */
int sha256_final(struct sha256 *s, unsigned char out[32]);

struct fc_err;
/*
 * Lower-case hex digest of a file's contents into out[65]; errors as
 * util.h's io_code ("path: strerror").
 */
int sha256_file(const char *path, char out[65], struct fc_err *e);

#endif
