/* SPDX-License-Identifier: MIT */
/*
 * net/frame_pvt.h - the wire format of chan/net.h (private): a 32-byte
 * header in network byte order, then the payload.
 *
 *	off  size  field
 *	  0     4  magic "CHNT" (0x43484e54)
 *	  4     1  protocol version (CHAN_NET_VERSION)
 *	  5     1  type: HELLO, DATA, ACK, EOS, REFUSE
 *	  6     2  REFUSE: the reason; HELLO, DATA, EOS: flags (F_ENCODED)
 *	  8     4  element size
 *	 12     4  payload length (bytes after the header; DATA only)
 *	 16     8  id: the sender's (HELLO, DATA, EOS), the receiver's (ACK, REFUSE)
 *	 24     8  sequence: DATA the first value's, EOS the one after the last
 *	           value, ACK the one after the last value acknowledged
 *
 * Parsing reads only within the length it is given, and checks, in order:
 * room for magic and version, the magic, the version (so that a later
 * version may change the rest), room for the header, the type, and that
 * the payload length is what follows the header.
 */
#ifndef CHAN_NET_FRAME_PVT_H
#define CHAN_NET_FRAME_PVT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CHAN__NET_MAGIC UINT32_C(0x43484e54)
#define CHAN__NET_HDR	32

enum chan__net_type {
	CHAN__NET_HELLO = 1,
	CHAN__NET_DATA = 2,
	CHAN__NET_ACK = 3,
	CHAN__NET_EOS = 4,
	CHAN__NET_REFUSE = 5,
};

/* REFUSE reasons. */
enum chan__net_reason {
	CHAN__NET_R_NONE = 0,
	CHAN__NET_R_VERSION = 1,   /* another protocol version */
	CHAN__NET_R_ELEM_SIZE = 2, /* another element size */
	CHAN__NET_R_MALFORMED = 3, /* the frame did not parse */
	CHAN__NET_R_ENCODING = 4,  /* one side encodes its values, the other not */
};

/* Flags of HELLO, DATA and EOS (in the reason field). F_ENCODED: the
 * sender has an encode(); a DATA payload is, per value, a 4-byte length in
 * network byte order and that many bytes (chan__net_next_value()). */
#define CHAN__NET_F_ENCODED 1u

struct chan__net_hdr {
	uint8_t version, type;
	uint16_t reason;
	uint32_t elem_size, payload_len;
	uint64_t id, seq;
};

/* Outcome of chan__net_hdr_get(). */
enum chan__net_parse {
	CHAN__NET_OK = 0,
	CHAN__NET_BAD_MAGIC,   /* not ours (or too short to tell): never answered */
	CHAN__NET_BAD_VERSION, /* ours, another version: *h holds version only */
	CHAN__NET_MALFORMED,   /* ours, but truncated, trailing bytes or unknown type */
};

/* chan__net_hdr_put() - write @h (with the magic) into @out. */
void chan__net_hdr_put(unsigned char out[CHAN__NET_HDR], const struct chan__net_hdr *h);

/*
 * chan__net_hdr_get() - parse the @len bytes at @buf into *@h.
 * Return: CHAN__NET_OK, or the first check that failed, with *@why a
 * static string that says which ("truncated header", ...).
 */
enum chan__net_parse chan__net_hdr_get(const void *buf, size_t len, struct chan__net_hdr *h,
				       const char **why);

/*
 * chan__net_next_value() - the next encoded value of a DATA payload: at
 * *@off of the @len bytes at @p, a 4-byte length and that many bytes. Set
 * *@val and *@vlen to the bytes, advance *@off past them and return true;
 * false if what is left at *@off is not one whole value (never reads past
 * @len).
 */
bool chan__net_next_value(const unsigned char *p, size_t len, size_t *off,
			  const unsigned char **val, size_t *vlen);

/* chan__net_put_len() - write an encoded value's 4-byte length at @out. */
void chan__net_put_len(unsigned char out[4], uint32_t len);

/* chan__net_type_name() - "HELLO", ..., or "?" (for logs). */
const char *chan__net_type_name(unsigned type);

#endif /* CHAN_NET_FRAME_PVT_H */
