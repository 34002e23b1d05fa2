/* SPDX-License-Identifier: MIT */
/* tests/install/consumer.c - a program built against an installed chan.
 * It uses pub/sub too, so that every link (shared, static) needs liburcu-bp
 * and the package must name it. */
#include <chan/chan.h>

int main(void)
{
	chan_t *c = chan_new(sizeof(int), 1);
	int v = 42, w = 0, x = 0;

	if (!c || chan_send(c, &v) != 0 || chan_recv(c, &w) != 0)
		return 1;
	chan_release(c);

	chan_pubsub_t *ps = chan_pubsub_new(&(chan_pubsub_opts_t){.elem_size = sizeof(int)});
	chan_pubsub_sub_t *s = chan_pubsub_subscribe(ps, &(chan_pubsub_sub_opts_t){.capacity = 1});

	if (!s || chan_pubsub_publish(ps, &v, chan_ctx_background()) != 1 ||
	    chan_recv(chan_pubsub_chan(s), &x) != 0)
		return 1;
	chan_pubsub_unsubscribe(s);
	chan_pubsub_destroy(ps);
	return w == 42 && x == 42 ? 0 : 1;
}
