// SPDX-License-Identifier: GPL-2.0
/*
 * What is fixed before a balloon exists (virtio 1.2 section 5.5): its option
 * string (balloon_config__*), which of its queues exist for the negotiated
 * features and their indices, and the names of its refusals. Pure
 * functions; the device model is virtio_balloon.c, the names of the guest's
 * statistics balloon_stats.c.
 */
#include "devices/virtio_balloon.h"

#include "base/parse.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE_4K (1ULL << VIRTIO_BALLOON_PFN_SHIFT)

static const char *const reject_names[BALLOON_REJ__COUNT] = {
	[BALLOON_REJ_VQ] = "malformed_chain",	     [BALLOON_REJ_NOT_WRITABLE] = "not_writable",
	[BALLOON_REJ_NOT_READABLE] = "not_readable", [BALLOON_REJ_UNALIGNED] = "unaligned",
	[BALLOON_REJ_OUT_OF_RAM] = "out_of_ram",     [BALLOON_REJ_BAD_LENGTH] = "bad_length",
	[BALLOON_REJ_TOO_LARGE] = "too_large",	     [BALLOON_REJ_HOST] = "host_error",
	[BALLOON_REJ_HOST_MEMORY] = "host_memory",
};

const char *balloon_reject__name(enum balloon_reject r)
{
	if ((unsigned int)r >= BALLOON_REJ__COUNT)
		return "unknown";
	return reject_names[r];
}

/* ---- queue layout ---- */

static bool queue_exists(uint64_t features, enum balloon_queue role)
{
	switch (role) {
	case BALLOON_Q_INFLATE:
	case BALLOON_Q_DEFLATE:
		return true;
	case BALLOON_Q_STATS:
		return features & (1ULL << VIRTIO_BALLOON_F_STATS_VQ);
	case BALLOON_Q_FREE_PAGE:
		return features & (1ULL << VIRTIO_BALLOON_F_FREE_PAGE_HINT);
	case BALLOON_Q_REPORTING:
		return features & (1ULL << VIRTIO_BALLOON_F_REPORTING);
	default:
		return false;
	}
}

/*
 * 5.5.2 lists the queues in the order inflateq, deflateq, statsq,
 * free_page_vq, reporting_vq, each optional one existing only with its
 * feature. Linux (virtballoon init_vqs + vm_find_vqs/vp_find_vqs) passes
 * NULL names for absent queues and gives the present ones consecutive
 * indices, so an absent queue takes no index. We number them the same way.
 */
int virtio_balloon__queue_index(uint64_t features, enum balloon_queue role)
{
	int idx = 0;

	if ((unsigned int)role >= BALLOON_Q__COUNT || !queue_exists(features, role))
		return -1;
	for (int r = 0; r < (int)role; r++)
		idx += queue_exists(features, (enum balloon_queue)r);
	return idx;
}

unsigned int virtio_balloon__num_queues(uint64_t features)
{
	unsigned int n = 0;

	for (int r = 0; r < BALLOON_Q__COUNT; r++)
		n += queue_exists(features, (enum balloon_queue)r);
	return n;
}

/* ---- option string ---- */

void balloon_config__default(struct balloon_config *cfg)
{
	*cfg = (struct balloon_config){
		.reporting = true,
		.deflate_on_oom = true,
		.stats_interval_s = 0,
		.initial_target_bytes = 0,
		.discard = DISCARD_METHOD_AUTO,
		.discard_engine = DISCARD_ENGINE_URING,
		.notify_budget_chains = BALLOON_NOTIFY_BUDGET_CHAINS,
		.notify_budget_ops = BALLOON_NOTIFY_BUDGET_OPS,
	};
}

int balloon_config__parse(const char *opts, struct balloon_config *cfg, char *err, size_t err_len)
{
	char *copy, *rest, *tok;
	int ret = 0;

	if (!opts)
		return 0;
	copy = strdup(opts);
	if (!copy) {
		snprintf(err, err_len, "balloon: out of memory");
		return -ENOMEM;
	}
	rest = copy;
	/* strsep, not strtok: an empty item (",,") is an error, not skipped. */
	while (*copy && (tok = strsep(&rest, ",")) != NULL) {
		char *val = strchr(tok, '=');
		const char *key = tok;

		if (!val || val == tok || !val[1]) {
			snprintf(err, err_len, "balloon: option '%s' needs the form key=value",
				 tok);
			ret = -EINVAL;
			break;
		}
		*val++ = '\0';
		if (strcmp(key, "size") == 0) {
			uint64_t bytes;

			if (parse__size(val, &bytes) < 0) {
				snprintf(err, err_len,
					 "balloon: bad size '%s' (expected e.g. 512M, 1G)", val);
				ret = -EINVAL;
			} else if (bytes % PAGE_4K) {
				snprintf(err, err_len,
					 "balloon: size '%s' is not a multiple of 4 KiB", val);
				ret = -EINVAL;
			} else {
				cfg->initial_target_bytes = bytes;
			}
		} else if (strcmp(key, "deflate-on-oom") == 0) {
			if (parse__on_off(val, &cfg->deflate_on_oom) < 0) {
				snprintf(err, err_len,
					 "balloon: bad value '%s' for deflate-on-oom (on or off)",
					 val);
				ret = -EINVAL;
			}
		} else if (strcmp(key, "reporting") == 0) {
			if (parse__on_off(val, &cfg->reporting) < 0) {
				snprintf(err, err_len,
					 "balloon: bad value '%s' for reporting (on or off)", val);
				ret = -EINVAL;
			}
		} else if (strcmp(key, "free-page-hinting") == 0) {
			if (parse__on_off(val, &cfg->free_page_hinting) < 0) {
				snprintf(
					err, err_len,
					"balloon: bad value '%s' for free-page-hinting (on or off)",
					val);
				ret = -EINVAL;
			}
		} else if (strcmp(key, "stats-interval") == 0) {
			if (parse__seconds(val, BALLOON_STATS_INTERVAL_MAX_S,
					   &cfg->stats_interval_s) < 0) {
				snprintf(err, err_len,
					 "balloon: bad value '%s' for stats-interval (seconds, "
					 "e.g. 5s; 0 disables; at most 86400)",
					 val);
				ret = -EINVAL;
			}
		} else if (strcmp(key, "discard") == 0) {
			if (discard_choice__parse(val, &cfg->discard, &cfg->discard_engine) < 0) {
				snprintf(err, err_len,
					 "balloon: bad value '%s' for discard "
					 "(auto, madvise, remove, punch-hole or sync)",
					 val);
				ret = -EINVAL;
			}
		} else {
			snprintf(err, err_len,
				 "balloon: unknown option '%s' (expected size, deflate-on-oom, "
				 "stats-interval, reporting, free-page-hinting, discard)",
				 key);
			ret = -EINVAL;
		}
		if (ret)
			break;
	}
	free(copy);
	return ret;
}
