/* SPDX-License-Identifier: MIT */
/*
 * patterns/group_pvt.h - what the stages need from the group (private).
 *
 * Stage tasks belong to a group (chan_group_wait() joins them, a negative
 * return is a group error) but do not count toward its limit and are
 * started even on a canceled group: a stage that has been built must run
 * its tasks to close its outputs, and each of its tasks stops at once on a
 * canceled context.
 */
#ifndef CHAN_PATTERNS_GROUP_PVT_H
#define CHAN_PATTERNS_GROUP_PVT_H

#include <chan/group.h>

/*
 * chan__group_go_stage() - start fn(chan_group_ctx(g), arg) as a stage task.
 * Return: 0, -EAGAIN or -ENOMEM (not started).
 */
int chan__group_go_stage(chan_group_t *g, chan_task_fn fn, void *arg);

/*
 * chan__group_hold() / chan__group_unhold() - count the calling thread as a
 * task of @g in between, so that chan_group_wait() does not return while a
 * stage constructor still holds references (it may run a stage's cleanup
 * itself when a task could not be started).
 */
void chan__group_hold(chan_group_t *g);
void chan__group_unhold(chan_group_t *g);

#endif /* CHAN_PATTERNS_GROUP_PVT_H */
