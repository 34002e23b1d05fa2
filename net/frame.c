/* SPDX-License-Identifier: MIT */
/*
 * net/frame.c - the frame header of chan/net.h: byte order and the checks
 * that make a frame from the network safe to read (frame_pvt.h has the
 * layout). No shared state.
 */
#include <string.h>

#include <chan/net.h>

#include "frame_pvt.h"

static void put16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

static void put32(unsigned char *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static void put64(unsigned char *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

static uint16_t get16(const unsigned char *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

static uint64_t get64(const unsigned char *p)
{
	return (uint64_t)get32(p) << 32 | get32(p + 4);
}

void chan__net_hdr_put(unsigned char out[CHAN__NET_HDR], const struct chan__net_hdr *h)
{
	put32(out, CHAN__NET_MAGIC);
	out[4] = h->version;
	out[5] = h->type;
	put16(out + 6, h->reason);
	put32(out + 8, h->elem_size);
	put32(out + 12, h->payload_len);
	put64(out + 16, h->id);
	put64(out + 24, h->seq);
}

enum chan__net_parse chan__net_hdr_get(const void *buf, size_t len, struct chan__net_hdr *h,
				       const char **why)
{
	const unsigned char *p = buf;

	memset(h, 0, sizeof(*h));
	if (len < 5) {
		*why = "truncated: shorter than magic and version";
		return CHAN__NET_BAD_MAGIC;
	}
	if (get32(p) != CHAN__NET_MAGIC) {
		*why = "bad magic";
		return CHAN__NET_BAD_MAGIC;
	}
	h->version = p[4];
	if (h->version != CHAN_NET_VERSION) {
		*why = "another protocol version";
		return CHAN__NET_BAD_VERSION;
	}
	if (len < CHAN__NET_HDR) {
		*why = "truncated header";
		return CHAN__NET_MALFORMED;
	}
	h->type = p[5];
	h->reason = get16(p + 6);
	h->elem_size = get32(p + 8);
	h->payload_len = get32(p + 12);
	h->id = get64(p + 16);
	h->seq = get64(p + 24);
	if (h->type < CHAN__NET_HELLO || h->type > CHAN__NET_REFUSE) {
		*why = "unknown frame type";
		return CHAN__NET_MALFORMED;
	}
	if ((size_t)h->payload_len > len - CHAN__NET_HDR) {
		*why = "truncated payload (shorter than its length field)";
		return CHAN__NET_MALFORMED;
	}
	if ((size_t)h->payload_len < len - CHAN__NET_HDR) {
		*why = "oversized: bytes beyond the payload length";
		return CHAN__NET_MALFORMED;
	}
	if (h->type != CHAN__NET_DATA && h->payload_len != 0) {
		*why = "payload on a frame type that has none";
		return CHAN__NET_MALFORMED;
	}
	*why = "ok";
	return CHAN__NET_OK;
}

bool chan__net_next_value(const unsigned char *p, size_t len, size_t *off,
			  const unsigned char **val, size_t *vlen)
{
	size_t o = *off, n;

	if (o > len || len - o < 4)
		return false;
	n = get32(p + o);
	if (len - o - 4 < n)
		return false;
	*val = p + o + 4;
	*vlen = n;
	*off = o + 4 + n;
	return true;
}

void chan__net_put_len(unsigned char out[4], uint32_t len)
{
	put32(out, len);
}

const char *chan__net_type_name(unsigned type)
{
	static const char *const names[] = {"?", "HELLO", "DATA", "ACK", "EOS", "REFUSE"};

	return type <= CHAN__NET_REFUSE ? names[type] : "?";
}
