/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The guest's memory statistics (virtio 1.2 section 5.5.6.3): the tags a
 * balloon keeps and their names. devices/balloon_stats.c.
 */
#ifndef MINI_VMM_BALLOON_STATS_H
#define MINI_VMM_BALLOON_STATS_H

/* Stats: tags we keep (0..15: virtio 1.4 / Linux 6.12 numbering). */
#define BALLOON_STATS_TAGS 16

/* Prometheus-friendly name of guest stats tag `tag` ("swap_in", ...), NULL if unknown. */
const char *balloon_stat__name(unsigned int tag);

#endif
