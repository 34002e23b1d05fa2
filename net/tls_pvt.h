/* SPDX-License-Identifier: MIT */
/*
 * net/tls_pvt.h - listening or dialing a URL, with TLS for tls+tcp://
 * (private to libchan_net; the options are chan_net_opts_t's tls_*).
 */
#ifndef CHAN_NET_TLS_PVT_H
#define CHAN_NET_TLS_PVT_H

#include <stdbool.h>

#include <nng/nng.h>

#include <chan/net.h>

/*
 * chan__net_tls_check() - whether @o's tls_* options fit @url and the role
 * (@listen): a tls+ URL needs tls_cert to listen and tls_ca to dial; any
 * other URL takes none of them. Return 0 or -EINVAL.
 */
int chan__net_tls_check(const char *url, bool listen, const chan_net_opts_t *o);

/*
 * chan__net_start() - listen on (@listen) or dial @url with @s, the dial in
 * the background (reconnecting); for a tls+ URL with a TLS configuration
 * built from @o. Return 0 or an NNG error (nothing left listening or
 * dialing; the socket stays open).
 */
int chan__net_start(nng_socket s, bool listen, const char *url, const chan_net_opts_t *o);

#endif /* CHAN_NET_TLS_PVT_H */
