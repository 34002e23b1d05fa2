/* SPDX-License-Identifier: MIT */
/*
 * examples/semaphore.c - golang.org/x/sync/semaphore's Example_workerPool:
 * a weighted semaphore bounds how many goroutines work at once.
 *
 *	func main() {
 *		ctx := context.TODO()
 *		var (
 *			maxWorkers = runtime.GOMAXPROCS(0)
 *			sem        = semaphore.NewWeighted(int64(maxWorkers))
 *			out        = make([]int, 32)
 *		)
 *		for i := range out {
 *			// When maxWorkers goroutines are in flight, Acquire blocks
 *			// until one of the workers finishes.
 *			if err := sem.Acquire(ctx, 1); err != nil {
 *				log.Printf("Failed to acquire semaphore: %v", err)
 *				break
 *			}
 *			go func(i int) {
 *				defer sem.Release(1)
 *				out[i] = collatzSteps(i + 1)
 *			}(i)
 *		}
 *		// Acquire all of the tokens to wait for any remaining workers to finish.
 *		if err := sem.Acquire(ctx, int64(maxWorkers)); err != nil {
 *			log.Printf("Failed to acquire semaphore: %v", err)
 *		}
 *		fmt.Println(out)
 *	}
 *	// Output:
 *	// [0 1 7 2 5 8 16 3 19 6 14 9 9 17 17 4 12 20 20 7 7 15 15 10 23 10 111 18 18 18 106 5]
 *
 * The same here, with chan_go() for the goroutines. The program also counts
 * the workers in flight (never above maxWorkers) and checks its output
 * against the Go example's; it exits 1 if either is wrong.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <chan/chan.h>

struct job {
	chan_sem_t *sem;
	int i;
	int *out;
};

static _Atomic int in_flight, most;
static struct job jobs[32];

static int collatz_steps(long n)
{
	int steps = 0;

	for (; n > 1; steps++)
		n = n % 2 == 0 ? n / 2 : 3 * n + 1;
	return steps;
}

static void worker(void *arg)
{
	struct job *j = arg;
	int now = atomic_fetch_add(&in_flight, 1) + 1;

	for (int m = atomic_load(&most); now > m && !atomic_compare_exchange_weak(&most, &m, now);)
		;
	j->out[j->i] = collatz_steps(j->i + 1);
	atomic_fetch_sub(&in_flight, 1);
	chan_sem_release(j->sem, 1); /* defer sem.Release(1) */
}

int main(void)
{
	static const char want[] =
		"[0 1 7 2 5 8 16 3 19 6 14 9 9 17 17 4 12 20 20 7 7 15 15 10 23 10 111 18 18 18 106 5]";
	chan_ctx_t *ctx = chan_ctx_background(); /* context.TODO() */
	long procs = sysconf(_SC_NPROCESSORS_ONLN);
	int64_t max_workers = procs > 0 ? procs : 1;
	chan_sem_t *sem = chan_sem_new(max_workers);
	int out[32], rc;
	char line[256];
	size_t len = 0;

	for (int i = 0; i < 32; i++) {
		if ((rc = chan_sem_acquire(sem, 1, ctx)) != 0) {
			fprintf(stderr, "Failed to acquire semaphore: %d\n", rc);
			break;
		}
		jobs[i] = (struct job){ .sem = sem, .i = i, .out = out };
		if (chan_go(worker, &jobs[i]) != 0)
			return 1;
	}
	/* Acquire all of the tokens to wait for any remaining workers to finish. */
	if ((rc = chan_sem_acquire(sem, max_workers, ctx)) != 0)
		fprintf(stderr, "Failed to acquire semaphore: %d\n", rc);
	len += (size_t)snprintf(line + len, sizeof(line) - len, "[");
	for (int i = 0; i < 32; i++)
		len += (size_t)snprintf(line + len, sizeof(line) - len, i ? " %d" : "%d", out[i]);
	snprintf(line + len, sizeof(line) - len, "]");
	printf("%s\n", line);
	chan_sem_release(sem, max_workers);
	chan_sem_destroy(sem);
	if (strcmp(line, want) != 0 || atomic_load(&most) > max_workers) {
		fprintf(stderr, "wrong output, or more than %lld workers at once (%d)\n",
			(long long)max_workers, atomic_load(&most));
		return 1;
	}
	return 0;
}
