/* SPDX-License-Identifier: MIT */
/*
 * net/hmac_pvt.h - SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104), for
 * the shared-secret authentication of frames (chan_net_opts_t.secret).
 * Private to libchan_net; no state beyond the caller's.
 */
#ifndef CHAN_NET_HMAC_PVT_H
#define CHAN_NET_HMAC_PVT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CHAN__NET_MAC	32 /* bytes of an HMAC-SHA256 tag */
#define CHAN__NET_BLOCK 64 /* SHA-256's block */

struct chan__sha256 {
	uint32_t h[8];
	uint64_t len; /* bytes hashed so far */
	unsigned char buf[CHAN__NET_BLOCK];
	size_t fill;
};

void chan__sha256_init(struct chan__sha256 *c);
void chan__sha256_update(struct chan__sha256 *c, const void *p, size_t n);
void chan__sha256_final(struct chan__sha256 *c, unsigned char out[CHAN__NET_MAC]);

/* An HMAC key made ready: the secret, hashed if longer than a block, padded. */
struct chan__hmac_key {
	unsigned char k[CHAN__NET_BLOCK];
};

void chan__hmac_key(struct chan__hmac_key *k, const void *secret, size_t len);

/* chan__hmac() - the HMAC-SHA256 of the @n bytes at @p under @k into @out. */
void chan__hmac(const struct chan__hmac_key *k, const void *p, size_t n,
		unsigned char out[CHAN__NET_MAC]);

/* chan__mac_equal() - whether two tags are equal, in time independent of
 * where they differ. */
bool chan__mac_equal(const unsigned char a[CHAN__NET_MAC], const unsigned char b[CHAN__NET_MAC]);

#endif /* CHAN_NET_HMAC_PVT_H */
