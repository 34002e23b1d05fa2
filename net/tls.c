/* SPDX-License-Identifier: MIT */
/*
 * net/tls.c - listen or dial, with NNG's TLS (mbedTLS) for tls+tcp://.
 *
 * The policy (chan/net.h, chan_net_opts_t): a dialer always verifies the
 * listener (tls_ca required, its certificate must chain to it and carry
 * tls_server_name, by default the URL's host); a listener verifies dialers
 * only when it has a tls_ca (mutual TLS). A peer that fails the handshake
 * never becomes a pipe: NNG drops the connection before a frame is read.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>

#include "tls_pvt.h"

static bool is_tls(const char *url)
{
	return strncmp(url, "tls+", 4) == 0;
}

int chan__net_tls_check(const char *url, bool listen, const chan_net_opts_t *o)
{
	if (!is_tls(url))
		return o->tls_cert || o->tls_ca || o->tls_server_name ? -EINVAL : 0;
	if (listen)
		return o->tls_cert && !o->tls_server_name ? 0 : -EINVAL;
	return o->tls_ca ? 0 : -EINVAL;
}

/* A TLS configuration for @listen's side of @url from @o; 0 or NNG's error. */
static int tls_config(nng_tls_config **cfg, bool listen, const char *url,
		      const chan_net_opts_t *o)
{
	int rv = nng_tls_config_alloc(cfg, listen ? NNG_TLS_MODE_SERVER : NNG_TLS_MODE_CLIENT);

	if (rv != 0)
		return rv;
	if (o->tls_cert)
		rv = nng_tls_config_cert_key_file(*cfg, o->tls_cert, NULL);
	if (rv == 0 && o->tls_ca)
		rv = nng_tls_config_ca_file(*cfg, o->tls_ca);
	if (rv == 0)
		rv = nng_tls_config_auth_mode(*cfg, o->tls_ca ? NNG_TLS_AUTH_MODE_REQUIRED
							      : NNG_TLS_AUTH_MODE_NONE);
	if (rv == 0 && !listen) {
		nng_url *u = NULL;

		if (o->tls_server_name) {
			rv = nng_tls_config_server_name(*cfg, o->tls_server_name);
		} else if ((rv = nng_url_parse(&u, url)) == 0) {
			rv = nng_tls_config_server_name(*cfg, u->u_hostname);
			nng_url_free(u);
		}
	}
	if (rv != 0)
		nng_tls_config_free(*cfg);
	return rv;
}

int chan__net_start(nng_socket s, bool listen, const char *url, const chan_net_opts_t *o)
{
	nng_tls_config *cfg;
	int rv;

	if (!is_tls(url))
		return listen ? nng_listen(s, url, NULL, 0)
			      : nng_dial(s, url, NULL, NNG_FLAG_NONBLOCK);
	rv = tls_config(&cfg, listen, url, o);
	if (rv != 0)
		return rv;
	if (listen) {
		nng_listener l = NNG_LISTENER_INITIALIZER;

		rv = nng_listener_create(&l, s, url);
		if (rv == 0 && (rv = nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG, cfg)) == 0)
			rv = nng_listener_start(l, 0);
		if (rv != 0 && nng_listener_id(l) > 0)
			nng_listener_close(l);
	} else {
		nng_dialer d = NNG_DIALER_INITIALIZER;

		rv = nng_dialer_create(&d, s, url);
		if (rv == 0 && (rv = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, cfg)) == 0)
			rv = nng_dialer_start(d, NNG_FLAG_NONBLOCK);
		if (rv != 0 && nng_dialer_id(d) > 0)
			nng_dialer_close(d);
	}
	nng_tls_config_free(cfg); /* the listener or dialer holds its own */
	return rv;
}
