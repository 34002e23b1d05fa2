/* SPDX-License-Identifier: MIT */
/*
 * chan/chan.h - everything: Go's concurrency model for C.
 *
 * Include this, link with -lchan (pkg-config chan, or CMake chan::chan).
 * Each concept has its own header; see them for the contracts.
 */
#ifndef CHAN_CHAN_H
#define CHAN_CHAN_H

#include <chan/api.h>
#include <chan/channel.h>
#include <chan/clock.h>
#include <chan/ctx.h>
#include <chan/select.h>
#include <chan/task.h>
#include <chan/timer.h>

#endif /* CHAN_CHAN_H */
