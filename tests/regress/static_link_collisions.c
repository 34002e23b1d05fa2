/* SPDX-License-Identifier: MIT */
/*
 * tests/regress/static_link_collisions.c - issue 10, defect 4.
 *
 * libchan.a used to define ring_init, ring_len, list_init, list_len,
 * list_push_burst and other unprefixed globals, so a program with functions
 * of those names did not link statically ("multiple definition"). This
 * program defines its own and links libchan.a: building it is the test, and
 * running it checks that each side calls its own functions. (scripts/
 * check_symbols.sh checks the whole symbol table.)
 */
#include <stdio.h>
#include <string.h>

#include <chan/chan.h>

/* A user's own ring and list helpers, with the names chan used to export. */
int ring_init(int *r);
int ring_len(const int *r);
int ring_close(int *r);
int list_init(int *l);
int list_len(const int *l);
int list_push_burst(int *l, int n);

int ring_init(int *r)
{
	*r = 7;
	return 0;
}

int ring_len(const int *r)
{
	return *r;
}

int ring_close(int *r)
{
	*r = -1;
	return 0;
}

int list_init(int *l)
{
	*l = 0;
	return 0;
}

int list_len(const int *l)
{
	return *l;
}

int list_push_burst(int *l, int n)
{
	*l += n;
	return n;
}

int main(void)
{
	/* The kinds whose code lived behind the colliding names: a ring and
	 * the unbounded block list. */
	chan_t *ring = chan_new(sizeof(long), 4);
	chan_t *list = chan_new_opts(&(chan_opts_t){ .elem_size = sizeof(long),
						     .capacity = CHAN_UNBOUNDED });
	int mine_r, mine_l;
	long v = 41, got = 0;

	if (!ring || !list)
		return 1;
	ring_init(&mine_r);
	list_init(&mine_l);
	list_push_burst(&mine_l, 3);
	for (long i = 0; i < 100; i++)
		if (chan_send(list, &i) != 0)
			return 1;
	if (chan_send(ring, &v) != 0 || chan_recv(ring, &got) != 0 || got != 41)
		return 1;
	if (chan_len(list) != 100 || chan_len(ring) != 0)
		return 1;
	if (ring_len(&mine_r) != 7 || list_len(&mine_l) != 3 || ring_close(&mine_r) != 0)
		return 1;
	chan_close(ring);
	chan_close(list);
	chan_release(ring);
	chan_release(list);
	puts("static link: ok");
	return 0;
}
