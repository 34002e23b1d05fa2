/* SPDX-License-Identifier: MIT */
/* tests/install/consumer.c - a program built against an installed chan. */
#include <chan/chan.h>

int main(void)
{
	chan_t *c = chan_new(sizeof(int), 1);
	int v = 42, w = 0;

	if (!c || chan_send(c, &v) != 0 || chan_recv(c, &w) != 0)
		return 1;
	chan_release(c);
	return w == 42 ? 0 : 1;
}
