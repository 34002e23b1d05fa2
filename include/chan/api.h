/* SPDX-License-Identifier: MIT */
/* chan/api.h - export marker and version shared by every public header. */
#ifndef CHAN_API_H
#define CHAN_API_H

#if defined(__GNUC__)
#define CHAN_API __attribute__((visibility("default")))
#else
#define CHAN_API
#endif

#define CHAN_VERSION_MAJOR 0
#define CHAN_VERSION_MINOR 1
#define CHAN_VERSION_PATCH 0

#endif /* CHAN_API_H */
