/* SPDX-License-Identifier: MIT */
/*
 * examples/error_handler.c - errors as values through a channel (the
 * Result{Value, Err} idiom of "Concurrency in Go"), and "stop after three
 * errors":
 *
 *	type Result struct {
 *		Value int
 *		Err   error
 *	}
 *
 *	func parseAll(done <-chan struct{}, inputs ...string) <-chan Result {
 *		results := make(chan Result)
 *		go func() {
 *			defer close(results)
 *			for _, in := range inputs {
 *				v, err := strconv.Atoi(in)
 *				select {
 *				case <-done:
 *					return
 *				case results <- Result{Value: v, Err: err}:
 *				}
 *			}
 *		}()
 *		return results
 *	}
 *
 *	func main() {
 *		done := make(chan struct{})
 *		defer close(done)
 *		errCount := 0
 *		for r := range parseAll(done, "1", "a", "2", "b", "c", "3", "d") {
 *			if r.Err != nil {
 *				fmt.Printf("error: %v\n", r.Err)
 *				errCount++
 *				if errCount >= 3 {
 *					fmt.Println("Too many errors, breaking!")
 *					break
 *				}
 *				continue
 *			}
 *			fmt.Printf("Response: %v\n", r.Value)
 *		}
 *	}
 *
 * The map callback never fails the group: a parse error is data for the
 * consumer, who decides when to stop. Stopping early is chan_group_cancel():
 * the stages stop and close their outputs, nothing is left running.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <chan/chan.h>

struct result {
	int value;
	int err; /* 0, or -EINVAL: not a number */
	const char *input;
};

static int parse(const void *in, void *out, void *arg)
{
	const char *s = *(const char *const *)in;
	struct result *r = out;
	char *end;
	long v = strtol(s, &end, 10);

	(void)arg;
	*r = (struct result){ .value = (int)v, .input = s };
	if (*s == '\0' || *end != '\0')
		r->err = -EINVAL;
	return 0; /* the error travels in the result */
}

int main(void)
{
	static const char *const inputs[] = { "1", "a", "2", "b", "c", "3", "d" };
	chan_group_t *g = chan_group_new(chan_ctx_background());
	chan_t *strs, *results;
	struct result r;
	int err_count = 0, err;

	if (!g)
		return 1;
	strs = chan_generate(g, inputs, 7, &(chan_opts_t){ .elem_size = sizeof(const char *) });
	results = chan_map(g, strs, parse, NULL,
			   &(chan_stage_opts_t){ .out = { .elem_size = sizeof(struct result) } });
	if (!strs || !results)
		return 1;
	chan_release(strs);
	while (chan_recv(results, &r) == 0) {
		if (r.err != 0) {
			printf("error: strconv.Atoi: parsing \"%s\": invalid syntax\n", r.input);
			if (++err_count >= 3) {
				printf("Too many errors, breaking!\n");
				break;
			}
			continue;
		}
		printf("Response: %d\n", r.value);
	}
	chan_group_cancel(g, 0); /* close(done): the stages stop */
	chan_release(results);
	err = chan_group_wait(g);
	chan_group_destroy(g);
	return err != 0;
}
